//! The real `c2c` binary, started with a test's configuration.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the binary may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The path of the built `c2c` binary: `$C2C_BIN`, else `$CARGO_TARGET_DIR/debug/c2c`, else
/// `target/debug/c2c` in the workspace. `make test` builds it before running tests.
pub fn c2c_binary() -> PathBuf {
    if let Ok(p) = std::env::var("C2C_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate::workspace_root().join("target"));
    target.join("debug/c2c")
}

/// A running gateway; killed when dropped.
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its log (stderr).
    pub log: PathBuf,
    child: Child,
}

impl Gateway {
    /// Writes `config` to `dir/c2c.toml` and starts `c2c serve` with it (plus `args`).
    pub async fn start(dir: &Path, config: &str, args: &[&str]) -> Gateway {
        let bin = c2c_binary();
        assert!(
            bin.exists(),
            "{} is missing: build it first (`make test` does, or `cargo build --bin c2c`)",
            bin.display()
        );
        let config_path = dir.join("c2c.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = dir.join("c2c.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(&bin);
        // The binary reads C2C_* as configuration; the test's own settings must not leak in.
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("C2C_")) {
            cmd.env_remove(k);
        }
        let mut child = cmd
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env("RUST_LOG", "info,str0m=warn,c2c_sbc=debug")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(START_LIMIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("c2c listening on ") {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "c2c did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Gateway { url, log, child }
    }

    /// The gateway's log so far.
    /// The SIP address it listens on, from its log (`[sip] listen` may pick a free port).
    pub fn sip_addr(&self) -> Option<std::net::SocketAddr> {
        let log = self.log_text();
        let line = log.lines().find(|l| l.contains("SBC listening"))?;
        let (_, rest) = line.split_once("sip=")?;
        rest.split_whitespace().next()?.parse().ok()
    }

    pub fn log_text(&self) -> String {
        strip_colours(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Sends SIGTERM (a graceful stop) and waits up to `limit` for the process to exit.
    pub async fn terminate(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id()?;
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -TERM {pid} failed");
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Stops the gateway.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// The callee of campaign `e2e`.
pub const E2E_DESTINATION: &str = "destination = \"+15551230000\"";
/// The caller-ID numbers of campaign `e2e`.
pub const E2E_POOL: &str = "number_pool = { first = \"+15557770000\", count = 50 }";

/// The campaign of a test configuration.
#[derive(Debug, Clone, Copy)]
pub struct TestCampaign<'a> {
    /// Its public id.
    pub id: &'a str,
    /// The page origin it allows.
    pub origin: &'a str,
    /// Its other keys (destinations, pool, limits), TOML lines.
    pub keys: &'a str,
}

/// A configuration with one SIP trunk at 127.0.0.1:`trunk_port` and one campaign `e2e` that
/// allows `site_origin`; the gateway listens on `http_port`.
pub fn config_with_trunk(
    http_port: u16,
    trunk_port: u16,
    site_origin: &str,
    static_dir: &Path,
    data_dir: &Path,
) -> String {
    let keys = format!("{E2E_DESTINATION}\n{E2E_POOL}\n");
    let campaign = TestCampaign {
        id: "e2e",
        origin: site_origin,
        keys: &keys,
    };
    config_with_campaign(http_port, trunk_port, campaign, static_dir, data_dir)
}

/// A configuration with one SIP trunk `sipp` at 127.0.0.1:`trunk_port` and `campaign` calling
/// out through it; the gateway listens on `http_port`. It ends with the campaign's table, so
/// a test can append keys to it.
pub fn config_with_campaign(
    http_port: u16,
    trunk_port: u16,
    campaign: TestCampaign<'_>,
    static_dir: &Path,
    data_dir: &Path,
) -> String {
    format!(
        r#"data_dir = "{data}"
static_dir = "{stat}"

[http]
listen = "127.0.0.1:{http_port}"

[sip]
listen = "127.0.0.1:0"
# The trunks of these tests run on loopback, which is refused unless listed.
trunk_networks = ["127.0.0.0/8"]

[[trunks]]
name = "sipp"
host = "127.0.0.1"
port = {trunk_port}
from_domain = "c2c.test"

[[campaigns]]
public_id = "{id}"
allowed_origins = ["{origin}"]
trunk = "sipp"
{keys}"#,
        data = data_dir.display(),
        stat = static_dir.display(),
        id = campaign.id,
        origin = campaign.origin,
        keys = campaign.keys,
    )
}

/// The text without its ANSI colour codes (`ESC [ … m`), so tests can search `key=value`.
fn strip_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
