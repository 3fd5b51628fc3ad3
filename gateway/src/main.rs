//! The `c2c` binary: one process that runs the web, gateway and SBC roles.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use c2c_gateway::config::Config;

/// WebRTC click-to-call gateway.
#[derive(Parser)]
#[command(name = "c2c", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (TOML); `C2C_*` environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Add a demo campaign and an in-process demo trunk that echoes audio.
        #[arg(long)]
        demo: bool,
    },
    /// Check the configuration and exit.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, demo } => {
            let config = load(config)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(c2c_gateway::server::serve(config, demo))
        }
        Command::CheckConfig { config } => {
            let c = load(config)?;
            println!(
                "configuration OK: {} trunk(s), {} campaign(s), HTTP {}, SIP {}",
                c.trunks.len(),
                c.campaigns.len(),
                c.http.listen,
                c.sip.listen
            );
            Ok(())
        }
    }
}

/// Loads the given file, else `./c2c.toml` when present, else defaults; then the environment.
fn load(path: Option<PathBuf>) -> anyhow::Result<Config> {
    let path = path.or_else(|| {
        let p = PathBuf::from("c2c.toml");
        p.exists().then_some(p)
    });
    Config::load(path.as_deref(), std::env::vars()).context("configuration")
}
