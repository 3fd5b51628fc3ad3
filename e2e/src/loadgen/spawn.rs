//! The processes a load run talks to, started and killed by the run itself: SIPp as the echoing
//! SIP side, the real `c2c` binary, rtpengine. Loopback only; each dies with its guard.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::gateway::{config_with_campaign, Gateway, TestCampaign};

/// The campaign the load configuration defines.
pub const CAMPAIGN: &str = "load";
/// The page origin that campaign allows.
pub const ORIGIN: &str = "https://load.c2c.test";

/// Why a process would not start.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct SpawnError {
    what: &'static str,
    detail: String,
}

fn spawn_error(what: &'static str, detail: impl ToString) -> SpawnError {
    SpawnError {
        what,
        detail: detail.to_string(),
    }
}

/// SIPp's built-in UAS answering every INVITE and echoing RTP on one media port.
pub struct SippEcho {
    /// SIP port on 127.0.0.1.
    pub port: u16,
    /// Where it echoes RTP.
    pub media: SocketAddr,
    _child: Child,
}

impl SippEcho {
    /// Starts `sipp -sn uas -rtp_echo` for up to `calls` calls. One media port serves every
    /// call: SIPp's echo thread sends each datagram back to whoever sent it.
    pub fn start(dir: &Path, calls: usize) -> Result<SippEcho, SpawnError> {
        let port = crate::ports::free_udp();
        let media_port = crate::ports::free_udp_pair();
        let child = Command::new("sipp")
            .args(["-sn", "uas", "-rtp_echo"])
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(["-m", &calls.max(1).to_string()])
            // Enough room for every call at once, and a bound on the whole run.
            .args(["-max_socket", "65000", "-nostdin", "-timeout", "900s"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error("sipp (apt-get install sip-tester)", e))?;
        Ok(SippEcho {
            port,
            media: SocketAddr::from(([127, 0, 0, 1], media_port)),
            _child: child,
        })
    }
}

/// A gateway configuration for load: one trunk (SIPp), one campaign with limits out of the way.
pub fn gateway_config(http_port: u16, trunk_port: u16, dir: &Path) -> String {
    let campaign = TestCampaign {
        id: CAMPAIGN,
        origin: ORIGIN,
        keys: "destination = \"+15551230000\"\n\
               number_pool = { first = \"+15557000000\", count = 100000 }\n\
               max_concurrent_calls = 100000\n\
               rate_per_ip_per_minute = 1000000\n\
               unused_tokens_per_client = 1000000\n\
               rate_per_campaign_per_minute = 1000000\n",
    };
    config_with_campaign(
        http_port,
        trunk_port,
        campaign,
        &crate::static_dir(),
        &dir.join("data"),
    )
}

/// The real gateway, configured for load toward SIPp at `trunk_port`, and its pid.
pub async fn gateway(dir: &Path, trunk_port: u16) -> Result<(Gateway, u32), SpawnError> {
    let http_port = crate::ports::free_tcp();
    let config = gateway_config(http_port, trunk_port, dir);
    let gw = Gateway::start(dir, &config, &[]).await;
    let needle = dir.join("c2c.toml").display().to_string();
    let pid = super::procfs::find_pid(&needle)
        .ok_or_else(|| spawn_error("c2c", "started but its pid was not found"))?;
    Ok((gw, pid))
}

/// rtpengine in userspace (`--table=-1`) on loopback.
pub struct Rtpengine {
    /// Its ng listener.
    pub ng: SocketAddr,
    /// Its pid.
    pub pid: u32,
    _child: Child,
}

impl Rtpengine {
    /// Starts `rtpengine --foreground` with its ng listener on a free port and waits until it
    /// answers an ng `ping`.
    pub async fn start(dir: &Path) -> Result<Rtpengine, SpawnError> {
        let ng_port = crate::ports::free_udp();
        let log = std::fs::File::create(dir.join("rtpengine.log"))
            .map_err(|e| spawn_error("rtpengine log", e))?;
        let child = Command::new("rtpengine")
            .args(["--table=-1", "--foreground", "--interface=127.0.0.1"])
            .arg(format!("--listen-ng=127.0.0.1:{ng_port}"))
            // Below Linux's ephemeral range, where everyone else's sockets land.
            .args(["--port-min=20000", "--port-max=29999"])
            .args(["--log-stderr", "--log-level=4", "--no-log-timestamps"])
            .arg(format!("--pidfile={}", dir.join("rtpengine.pid").display()))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error("rtpengine (apt-get install rtpengine)", e))?;
        let pid = child
            .id()
            .ok_or_else(|| spawn_error("rtpengine", "exited at once"))?;
        let ng = SocketAddr::from(([127, 0, 0, 1], ng_port));
        let ping = super::rtpengine::Bencode::dict(vec![(
            "command",
            super::rtpengine::Bencode::str("ping"),
        )]);
        for _ in 0..50 {
            if let Ok(mut c) = super::rtpengine::NgClient::new(ng).await {
                if tokio::time::timeout(Duration::from_millis(300), c.call(ping.clone()))
                    .await
                    .is_ok_and(|r| r.is_ok())
                {
                    return Ok(Rtpengine {
                        ng,
                        pid,
                        _child: child,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(spawn_error(
            "rtpengine",
            format!("no ng answer; see {}", dir.join("rtpengine.log").display()),
        ))
    }
}
