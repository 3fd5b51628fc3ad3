//! A real SIPp as the trunk, with its message trace readable by the test.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running SIPp; killed when dropped.
pub struct Sipp {
    /// Its SIP port on 127.0.0.1.
    pub port: u16,
    /// Its media port on 127.0.0.1.
    pub media_port: u16,
    trace: PathBuf,
    child: Child,
}

/// The folder of our SIPp scenario files.
pub fn scenario(name: &str) -> PathBuf {
    crate::workspace_root().join("e2e/scenarios").join(name)
}

impl Sipp {
    /// SIPp's built-in UAS that answers and echoes RTP, for one call.
    pub fn uas_echo(dir: &Path) -> Sipp {
        Self::start(dir, &["-sn", "uas", "-rtp_echo"])
    }

    /// SIPp running our scenario file `name` (from `e2e/scenarios`), for one call.
    pub fn uas_scenario(dir: &Path, name: &str) -> Sipp {
        let path = scenario(name);
        Self::start(dir, &["-sf", &path.display().to_string()])
    }

    /// SIPp running scenario `name` for `calls` calls, echoing RTP.
    pub fn uas_calls(dir: &Path, name: &str, calls: u32) -> Sipp {
        let path = scenario(name);
        let calls = calls.to_string();
        Self::start(
            dir,
            &[
                "-sf",
                &path.display().to_string(),
                "-rtp_echo",
                "-m",
                &calls,
            ],
        )
    }

    /// SIPp as an agent's phone: it registers at `registrar` as `user` with digest, stays
    /// registered for `hold_ms`, takes the calls it gets meanwhile with scenario `calls`
    /// (`agent_answer.xml` answers and echoes RTP, `agent_ring.xml` rings until cancelled),
    /// then unregisters.
    pub fn agent_phone(
        dir: &Path,
        registrar: std::net::SocketAddr,
        user: &str,
        password: &str,
        hold_ms: u64,
        calls: &str,
    ) -> Sipp {
        let csv = dir.join(format!("agent-{user}.csv"));
        // SIPp expands a keyword held in a field, not a field inside a keyword.
        let line =
            format!("SEQUENTIAL\n{user};[authentication username={user} password={password}]\n");
        std::fs::write(&csv, line).expect("write the phone's account");
        Self::start(
            dir,
            &[
                &registrar.to_string(),
                "-sf",
                &scenario("agent_phone.xml").display().to_string(),
                "-oocsf",
                &scenario(calls).display().to_string(),
                "-inf",
                &csv.display().to_string(),
                "-d",
                &hold_ms.to_string(),
                "-rtp_echo",
            ],
        )
    }

    fn start(dir: &Path, scenario_args: &[&str]) -> Sipp {
        let port = crate::ports::free_udp();
        let media_port = crate::ports::free_udp_pair();
        let trace = dir.join(format!("sipp-{port}-messages.log"));
        // One call unless the scenario arguments say how many.
        let calls: &[&str] = match scenario_args.contains(&"-m") {
            true => &[],
            false => &["-m", "1"],
        };
        let child = Command::new("sipp")
            .args(scenario_args)
            .args(calls)
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
            .args(["-nostdin", "-timeout", "60s", "-timeout_error"])
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&trace)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "SIPp is required (apt-get install sip-tester; `make test` installs it): {e}"
                )
            });
        Sipp {
            port,
            media_port,
            trace,
            child,
        }
    }

    /// Every SIP message SIPp received so far, as text.
    pub fn received(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.trace).unwrap_or_default();
        text.split("-----------------------------------------------")
            .filter_map(|block| {
                let (head, msg) = block.split_once("message received")?;
                let _ = head;
                let msg = msg.split_once("\n\n").map(|(_, m)| m).unwrap_or(msg);
                Some(msg.trim_start().to_string())
            })
            .collect()
    }

    /// The requests with this method SIPp received.
    pub fn requests(&self, method: &str) -> Vec<String> {
        let prefix = format!("{method} ");
        self.received()
            .into_iter()
            .filter(|m| m.starts_with(&prefix))
            .collect()
    }

    /// Waits up to `limit` for SIPp to finish its one call.
    pub async fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }
}

/// The value of header `name` (case-insensitive, first occurrence) in a SIP message.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
}

/// The user part of the first `sip:` URI in a header value.
pub fn uri_user(value: &str) -> Option<&str> {
    let rest = &value[value.find("sip:")? + 4..];
    rest.split(['@', ';', '>']).next()
}
