//! The load generator: N simulated browsers with a real WebRTC stack (str0m, full ICE,
//! DTLS-SRTP, PCMU at 50 packets/s) calling through c2c, or through rtpengine driven over its
//! ng protocol, toward a SIP side that echoes; it reports setup times, round trips, loss and
//! what the relay under test cost in CPU and memory.
//!
//! Signalling runs on tokio, one task per call; media runs on a few `mio` loop threads, many
//! browsers each (see [`media`]), so the generator itself spends little per packet.

pub mod browser;
pub mod chart;
pub mod echo;
pub mod media;
pub mod procfs;
pub mod rtpengine;
pub mod signal;
pub mod spawn;
pub mod stats;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use c2c_wire::{CallState, ClientMessage, ServerMessage};

use browser::{Browser, MediaCounts};
use media::{Command, MediaLoop};
use signal::{Signalling, STEP_LIMIT};
use stats::{Histogram, Report, ServerCost};

/// How often the relay's RSS is sampled while all calls hold.
const RSS_EVERY: Duration = Duration::from_secs(5);
/// After the last call is up, let setup work settle before measuring CPU.
const SETTLE: Duration = Duration::from_secs(2);

/// What the simulated browsers call through.
#[derive(Debug, Clone)]
pub enum Target {
    /// c2c: token over HTTP, then the signalling WebSocket.
    C2c {
        /// `http://host:port` of the gateway.
        gateway: String,
        /// The page origin the campaign allows.
        origin: String,
        /// The campaign's public id.
        campaign: String,
    },
    /// rtpengine: ng offer/answer on loopback; the plain side is an RTP echo.
    Rtpengine {
        /// rtpengine's ng listener.
        ng: SocketAddr,
        /// Where the plain-side RTP echo listens (see [`echo`]).
        echo: SocketAddr,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Target::C2c { .. } => "c2c",
            Target::Rtpengine { .. } => "rtpengine",
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// What to call through.
    pub target: Target,
    /// Concurrent calls.
    pub calls: usize,
    /// How long all calls hold together with media, after the ramp.
    pub duration: Duration,
    /// New calls per second during the ramp.
    pub ramp_per_s: f64,
    /// Media loop threads in the generator.
    pub media_threads: usize,
    /// The relay's pid, for CPU and memory from /proc.
    pub server_pid: Option<u32>,
}

impl LoadConfig {
    /// `calls` calls held for `duration` through the gateway at `url` that [`spawn::gateway`]
    /// started (its campaign and origin), ramped at 20 calls/s, the node's pid watched.
    pub fn spawned_gateway(url: &str, calls: usize, duration: Duration, pid: u32) -> Self {
        LoadConfig {
            target: Target::C2c {
                gateway: url.to_owned(),
                origin: spawn::ORIGIN.into(),
                campaign: spawn::CAMPAIGN.into(),
            },
            calls,
            duration,
            ramp_per_s: 20.0,
            media_threads: 2,
            server_pid: Some(pid),
        }
    }
}

/// Why a run could not happen at all (single calls failing are counted, not errors).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The media loops could not start.
    #[error(transparent)]
    Media(#[from] media::MediaError),
}

/// How one call went.
struct CallResult {
    setup: Duration,
    answered_at: Instant,
    offered_at: Instant,
    counts: MediaCounts,
    /// Set when the call ended badly after it was answered.
    late_failure: Option<String>,
}

/// What every call task shares.
struct Shared {
    target: Target,
    loops: Vec<MediaLoop>,
    epoch: Instant,
    hold_until: tokio::time::Instant,
    run_tag: String,
}

/// Runs `config` to the end and reports.
pub async fn run(config: &LoadConfig) -> Result<Report, LoadError> {
    let threads = config.media_threads.max(1);
    let loops = (0..threads)
        .map(|i| MediaLoop::start(&format!("media-{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let epoch = Instant::now();
    let ramp = Duration::from_secs_f64(config.calls as f64 / config.ramp_per_s.max(0.1));
    let hold_until = tokio::time::Instant::now() + ramp + SETTLE + config.duration;
    let shared = Arc::new(Shared {
        target: config.target.clone(),
        loops,
        epoch,
        hold_until,
        run_tag: format!("{}-{}", std::process::id(), rand_tag()),
    });
    let server_idle = config.server_pid.and_then(procfs::sample);

    let mut tasks = Vec::with_capacity(config.calls);
    let interval = Duration::from_secs_f64(1.0 / config.ramp_per_s.max(0.1));
    let start = tokio::time::Instant::now();
    for id in 0..config.calls {
        tokio::time::sleep_until(start + interval * id as u32).await;
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move { one_call(id, &shared).await }));
    }

    // CPU and memory while every call is up: from settle to just before the hold ends.
    tokio::time::sleep_until(start + ramp + SETTLE).await;
    let own_a = procfs::sample(std::process::id());
    let server_a = config.server_pid.and_then(procfs::sample);
    // RSS along the hold, every few seconds: a soak shows whether memory stays flat.
    let mut rss_timeline = Vec::new();
    let end = hold_until - Duration::from_millis(300);
    while let Some(pid) = config.server_pid {
        if let Some(s) = procfs::sample(pid) {
            rss_timeline.push(s.rss_kib);
        }
        let next = tokio::time::Instant::now() + RSS_EVERY;
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next).await;
    }
    tokio::time::sleep_until(end).await;
    let own_b = procfs::sample(std::process::id());
    let server_b = config.server_pid.and_then(procfs::sample);

    let mut results = Vec::new();
    for t in tasks {
        results.push(match t.await {
            Ok(r) => r,
            Err(e) => Err(format!("call task failed: {e}")),
        });
    }
    let shared = Arc::into_inner(shared);
    let mut rtt = Histogram::default();
    if let Some(shared) = shared {
        for l in shared.loops {
            rtt.merge(&l.shutdown());
        }
    }

    let mut report = summarise(config, &results, rtt);
    if let (Some(a), Some(b)) = (own_a, own_b) {
        report.loadgen_cpu_s_per_s = stats::round3(procfs::cpu_rate(&a, &b));
    }
    if let (Some(pid), Some(idle), Some(a), Some(b)) =
        (config.server_pid, server_idle, server_a, server_b)
    {
        let cpu = procfs::cpu_rate(&a, &b);
        let n = report.established.max(1) as f64;
        report.server = Some(ServerCost {
            pid,
            cpu_s_per_s: stats::round3(cpu),
            cpu_ms_per_s_per_call: stats::round3(cpu * 1000.0 / n),
            rss_idle_kib: idle.rss_kib,
            rss_loaded_kib: b.rss_kib,
            rss_kib_per_call: stats::round3(b.rss_kib.saturating_sub(idle.rss_kib) as f64 / n),
            rss_timeline_kib: rss_timeline,
        });
    }
    Ok(report)
}

fn summarise(
    config: &LoadConfig,
    results: &[Result<CallResult, String>],
    rtt: Histogram,
) -> Report {
    let mut setup = Histogram::default();
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let (mut sent, mut received, mut skipped, mut established) = (0u64, 0u64, 0u64, 0usize);
    let mut first_offer: Option<Instant> = None;
    let mut last_answer: Option<Instant> = None;
    for r in results {
        match r {
            Ok(c) => {
                setup.record_ns(c.setup.as_nanos() as u64);
                sent += c.counts.sent;
                received += c.counts.received;
                skipped += c.counts.skipped;
                first_offer = Some(first_offer.map_or(c.offered_at, |f| f.min(c.offered_at)));
                last_answer = Some(last_answer.map_or(c.answered_at, |l| l.max(c.answered_at)));
                if !c.counts.connected {
                    *failures.entry("media never connected".into()).or_default() += 1;
                } else if let Some(f) = &c.late_failure {
                    *failures.entry(f.clone()).or_default() += 1;
                } else {
                    established += 1;
                }
            }
            Err(e) => *failures.entry(e.clone()).or_default() += 1,
        }
    }
    let setup_window = match (first_offer, last_answer) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    let loss = if sent == 0 {
        100.0
    } else {
        100.0 * sent.saturating_sub(received) as f64 / sent as f64
    };
    Report {
        target: config.target.name().into(),
        calls: config.calls,
        established,
        failed: config.calls - established,
        failures: failures
            .into_iter()
            .map(|(reason, n)| format!("{n} × {reason}"))
            .collect(),
        duration_s: config.duration.as_secs_f64(),
        ramp_per_s: config.ramp_per_s,
        setup_rate_per_s: if setup_window > 0.0 {
            stats::round3(setup.len() as f64 / setup_window)
        } else {
            0.0
        },
        setup: setup.summary(),
        rtt: rtt.summary(),
        packets_sent: sent,
        packets_received: received,
        loss_pct: (loss * 10_000.0).round() / 10_000.0,
        frames_skipped: skipped,
        server: None,
        loadgen_cpu_s_per_s: 0.0,
    }
}

/// One simulated browser's call, from token (or ng offer) to hangup.
async fn one_call(id: usize, shared: &Shared) -> Result<CallResult, String> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("nonblocking: {e}"))?;
    let local = socket
        .local_addr()
        .map_err(|e| format!("local addr: {e}"))?;
    match &shared.target {
        Target::C2c {
            gateway,
            origin,
            campaign,
        } => c2c_call(id, shared, socket, local, gateway, origin, campaign).await,
        Target::Rtpengine { ng, echo } => {
            rtpengine_call(id, shared, socket, local, *ng, *echo).await
        }
    }
}

/// Hands the browser to the least-loaded media loop; returns that loop's index.
fn hand_over(
    shared: &Shared,
    id: usize,
    browser: Browser,
    socket: std::net::UdpSocket,
) -> Result<usize, String> {
    let (index, lp) = shared
        .loops
        .iter()
        .enumerate()
        .min_by_key(|(_, l)| l.load())
        .ok_or("no media loop")?;
    let added = lp.send(Command::Add {
        id,
        browser: Box::new(browser),
        socket,
    });
    if !added || !lp.send(Command::Answered { id }) {
        return Err("media loop gone".into());
    }
    Ok(index)
}

/// Stops the browser's media and returns its counters after the drain.
async fn stop_media(shared: &Shared, index: usize, id: usize) -> MediaCounts {
    let (tx, rx) = oneshot::channel();
    if !shared.loops[index].send(Command::Stop { id, reply: tx }) {
        return MediaCounts::default();
    }
    rx.await.unwrap_or_default()
}

async fn c2c_call(
    id: usize,
    shared: &Shared,
    socket: std::net::UdpSocket,
    local: SocketAddr,
    gateway: &str,
    origin: &str,
    campaign: &str,
) -> Result<CallResult, String> {
    let token = signal::fetch_token(gateway, origin, campaign)
        .await
        .map_err(|e| e.to_string())?;
    let mut sig = Signalling::connect(&token.ws_url, origin)
        .await
        .map_err(|e| e.to_string())?;
    let offered_at = Instant::now();
    let (mut browser, offer) =
        Browser::offer(local, shared.epoch, offered_at).map_err(|e| e.to_string())?;
    sig.send(&ClientMessage::Call {
        token: token.token,
        sdp: offer,
    })
    .await
    .map_err(|e| e.to_string())?;
    loop {
        match sig.recv_within("the answer").await {
            Ok(ServerMessage::Answer { sdp }) => {
                browser.accept_answer(&sdp).map_err(|e| e.to_string())?;
                break;
            }
            Ok(ServerMessage::State { .. }) => continue,
            Ok(other) => return Err(format!("before the answer: {}", brief(&other))),
            Err(e) => return Err(e.to_string()),
        }
    }
    // ICE and DTLS start now, while the trunk rings; audio flows once it answers.
    let index = hand_over(shared, id, browser, socket)?;
    loop {
        match sig.recv_within("answered").await {
            Ok(ServerMessage::State {
                state: CallState::Answered,
            }) => break,
            Ok(ServerMessage::State { .. }) => continue,
            Ok(other) => {
                stop_media(shared, index, id).await;
                return Err(format!("before answered: {}", brief(&other)));
            }
            Err(e) => {
                stop_media(shared, index, id).await;
                return Err(e.to_string());
            }
        }
    }
    let answered_at = Instant::now();
    let mut late_failure = None;
    loop {
        match tokio::time::timeout_at(shared.hold_until, sig.recv()).await {
            Err(_) => break,
            Ok(Ok(Some(ServerMessage::State { .. }))) => continue,
            Ok(Ok(Some(other))) => {
                late_failure = Some(format!("during the call: {}", brief(&other)));
                break;
            }
            Ok(Ok(None)) => {
                late_failure = Some("signalling closed during the call".into());
                break;
            }
            Ok(Err(e)) => {
                late_failure = Some(format!("during the call: {e}"));
                break;
            }
        }
    }
    let counts = stop_media(shared, index, id).await;
    if late_failure.is_none() {
        let _ = sig.send(&ClientMessage::Hangup).await;
        let ended = tokio::time::timeout(STEP_LIMIT, sig.recv()).await;
        if !matches!(ended, Ok(Ok(Some(ServerMessage::Ended { .. })))) {
            tracing::debug!(id, "no `ended` after hangup");
        }
    }
    sig.close().await;
    Ok(CallResult {
        setup: answered_at.duration_since(offered_at),
        answered_at,
        offered_at,
        counts,
        late_failure,
    })
}

async fn rtpengine_call(
    id: usize,
    shared: &Shared,
    socket: std::net::UdpSocket,
    local: SocketAddr,
    ng: SocketAddr,
    echo: SocketAddr,
) -> Result<CallResult, String> {
    let call_id = format!("lg-{}-{id}", shared.run_tag);
    let mut client = rtpengine::NgClient::new(ng)
        .await
        .map_err(|e| e.to_string())?;
    let offered_at = Instant::now();
    let (mut browser, offer) =
        Browser::offer(local, shared.epoch, offered_at).map_err(|e| e.to_string())?;
    let echo_ssrc = rtpengine::first_ssrc(&offer).map(|s| s ^ echo::SSRC_FLIP);
    client
        .offer(&call_id, &offer)
        .await
        .map_err(|e| e.to_string())?;
    let answer = client
        .answer(&call_id, &rtpengine::plain_answer(echo, echo_ssrc))
        .await
        .map_err(|e| e.to_string())?;
    browser.accept_answer(&answer).map_err(|e| e.to_string())?;
    let answered_at = Instant::now();
    let index = hand_over(shared, id, browser, socket)?;
    tokio::time::sleep_until(shared.hold_until).await;
    let counts = stop_media(shared, index, id).await;
    let late_failure = client.delete(&call_id).await.err().map(|e| e.to_string());
    Ok(CallResult {
        setup: answered_at.duration_since(offered_at),
        answered_at,
        offered_at,
        counts,
        late_failure,
    })
}

/// A server message, short enough for a failure reason.
fn brief(m: &ServerMessage) -> String {
    match m {
        ServerMessage::Ended { reason } => format!("ended {}", reason.as_str()),
        ServerMessage::Error { code, .. } => format!("error {code}"),
        ServerMessage::Answer { .. } => "a second answer".into(),
        ServerMessage::State { state } => format!("state {state:?}"),
        ServerMessage::Queue { position, .. } => format!("queued at {position}"),
    }
}

/// A tag that keeps call ids of different runs apart.
fn rand_tag() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
