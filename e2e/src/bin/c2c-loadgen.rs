//! `c2c-loadgen`: simulated browsers calling through c2c (or rtpengine) toward an echoing SIP
//! side; prints a JSON or text report. See BENCHMARKS.md for the scenarios.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

use c2c_e2e::loadgen::chart;
use c2c_e2e::loadgen::echo::RtpEcho;
use c2c_e2e::loadgen::spawn::{self, Rtpengine, SippEcho};
use c2c_e2e::loadgen::stats::Report;
use c2c_e2e::loadgen::{self, LoadConfig, Target};

/// Loss above this ends a ramp (percent).
const RAMP_MAX_LOSS_PCT: f64 = 0.1;
/// Round-trip p99 this far above the first step's ends a ramp (ms).
const RAMP_MAX_ADDED_P99_MS: f64 = 5.0;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReportFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Spawn {
    /// SIPp (echo UAS) and the c2c binary ($C2C_BIN, else target/debug/c2c).
    C2c,
    /// rtpengine in userspace, with our RTP echo as its plain side.
    Rtpengine,
}

/// Simulated browsers (str0m: full ICE, DTLS-SRTP, PCMU 50 pps) calling through a WebRTC ↔ RTP
/// relay toward an echo; reports setup time, round trip, loss and the relay's CPU and memory.
#[derive(Debug, Parser)]
#[command(name = "c2c-loadgen")]
struct Cli {
    /// The c2c gateway, `http://host:port`.
    #[arg(long)]
    gateway: Option<String>,
    /// The page origin to present (must be on the campaign's allow-list).
    #[arg(long, default_value = spawn::ORIGIN)]
    origin: String,
    /// The campaign's public id.
    #[arg(long, default_value = spawn::CAMPAIGN)]
    campaign: String,
    /// rtpengine's ng listener, instead of a gateway.
    #[arg(long)]
    rtpengine_ng: Option<SocketAddr>,
    /// The RTP echo for rtpengine's plain side (default: our own, started here).
    #[arg(long)]
    echo: Option<SocketAddr>,
    /// Start the processes under test here, loopback only, and stop them after each run.
    #[arg(long, value_enum)]
    spawn: Option<Spawn>,
    /// Concurrent calls.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// Comma-separated call counts to ramp through (with --spawn); stops past the ceiling.
    #[arg(long, value_delimiter = ',')]
    ramp: Vec<usize>,
    /// Run every --ramp step even past the ceiling (to compare relays at the same N).
    #[arg(long)]
    keep_going: bool,
    /// Seconds all calls hold together after the ramp.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// New calls per second while ramping up.
    #[arg(long, default_value_t = 50.0)]
    ramp_per_s: f64,
    /// Media loop threads in the generator.
    #[arg(long, default_value_t = 2)]
    media_threads: usize,
    /// The relay's pid, for CPU and RSS from /proc (found by itself with --spawn).
    #[arg(long)]
    gateway_pid: Option<u32>,
    /// Instead of a run: draw these JSON reports (files written by --report json) as an SVG.
    #[arg(long)]
    chart: Vec<std::path::PathBuf>,
    /// Where --chart writes the SVG.
    #[arg(long, default_value = "load.svg")]
    chart_out: std::path::PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,str0m=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if !cli.chart.is_empty() {
        return draw_chart(&cli);
    }
    let steps = if cli.ramp.is_empty() {
        vec![cli.calls]
    } else {
        cli.ramp.clone()
    };
    let mut reports: Vec<Report> = Vec::new();
    for calls in steps {
        let report = match cli.spawn {
            Some(what) => spawned_run(&cli, what, calls).await?,
            None => {
                // rtpengine without --echo: our own echo, for as long as the run.
                let echo = match (cli.rtpengine_ng, cli.echo) {
                    (Some(_), None) => Some(RtpEcho::start().context("RTP echo")?),
                    _ => None,
                };
                let target = match (&echo, cli.rtpengine_ng) {
                    (Some(e), Some(ng)) => Target::Rtpengine { ng, echo: e.addr },
                    _ => target(&cli)?,
                };
                loadgen::run(&config(&cli, target, calls, cli.gateway_pid)).await?
            }
        };
        eprint!("{}", report.text());
        let past_ceiling = past_ceiling(&reports, &report);
        reports.push(report);
        if past_ceiling && !cli.keep_going {
            eprintln!("ceiling passed: stopping the ramp");
            break;
        }
    }
    match cli.report {
        ReportFormat::Json if reports.len() == 1 => {
            println!("{}", serde_json::to_string_pretty(&reports[0])?)
        }
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        ReportFormat::Text => reports.iter().for_each(|r| print!("{}", r.text())),
    }
    Ok(())
}

/// Loss above 0.1 %, or p99 round trip 5 ms above the first step's.
fn past_ceiling(before: &[Report], now: &Report) -> bool {
    let base = before.first().map_or(now.rtt.p99_ms, |b| b.rtt.p99_ms);
    now.loss_pct > RAMP_MAX_LOSS_PCT
        || now.rtt.p99_ms - base > RAMP_MAX_ADDED_P99_MS
        || now.failed > 0
}

fn target(cli: &Cli) -> anyhow::Result<Target> {
    match (&cli.gateway, cli.rtpengine_ng, cli.echo) {
        (Some(gateway), None, _) => Ok(Target::C2c {
            gateway: gateway.clone(),
            origin: cli.origin.clone(),
            campaign: cli.campaign.clone(),
        }),
        (None, Some(ng), Some(echo)) => Ok(Target::Rtpengine { ng, echo }),
        _ => bail!("give --gateway URL, or --rtpengine-ng ADDR [--echo ADDR], or --spawn"),
    }
}

fn config(cli: &Cli, target: Target, calls: usize, pid: Option<u32>) -> LoadConfig {
    LoadConfig {
        target,
        calls,
        duration: Duration::from_secs_f64(cli.duration),
        ramp_per_s: cli.ramp_per_s,
        media_threads: cli.media_threads,
        server_pid: pid,
    }
}

async fn spawned_run(cli: &Cli, what: Spawn, calls: usize) -> anyhow::Result<Report> {
    let scratch = c2c_e2e::scratch_dir(&format!("loadgen-{calls}"));
    let dir = scratch.path();
    let report = match what {
        Spawn::C2c => {
            let sipp = SippEcho::start(dir, calls).context("SIPp")?;
            let (gw, pid) = spawn::gateway(dir, sipp.port).await.context("c2c")?;
            let target = Target::C2c {
                gateway: gw.url.clone(),
                origin: spawn::ORIGIN.into(),
                campaign: spawn::CAMPAIGN.into(),
            };
            let report = loadgen::run(&config(cli, target, calls, Some(pid))).await?;
            gw.stop().await;
            drop(sipp);
            report
        }
        Spawn::Rtpengine => {
            let rtpengine = Rtpengine::start(dir).await.context("rtpengine")?;
            let echo = RtpEcho::start().context("RTP echo")?;
            let target = Target::Rtpengine {
                ng: rtpengine.ng,
                echo: echo.addr,
            };
            loadgen::run(&config(cli, target, calls, Some(rtpengine.pid))).await?
        }
    };
    Ok(report)
}

/// Reads every report in `--chart` files (one report or a list each) and writes the SVG.
fn draw_chart(cli: &Cli) -> anyhow::Result<()> {
    let mut reports: Vec<Report> = Vec::new();
    for path in &cli.chart {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        match serde_json::from_str::<Vec<Report>>(&text) {
            Ok(list) => reports.extend(list),
            Err(_) => reports.push(
                serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?,
            ),
        }
    }
    let svg = chart::svg(
        &reports,
        "WebRTC ↔ RTP relay: CPU and loss against concurrent calls",
    );
    std::fs::write(&cli.chart_out, svg)
        .with_context(|| format!("write {}", cli.chart_out.display()))?;
    eprintln!("wrote {}", cli.chart_out.display());
    Ok(())
}
