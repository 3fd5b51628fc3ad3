//! A SIPp process for one test: started on loopback, killed when dropped.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{Child, Command};

/// Kills SIPp when the test ends, however it ends.
pub struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

impl Sipp {
    /// Starts a SIPp UAS for one call on 127.0.0.1:`port`; `scenario` is `-sn uas` or a file.
    pub fn start(port: u16, scenario: &[&str], extra: &[&str]) -> Sipp {
        let mut cmd = Command::new("sipp");
        cmd.args(scenario)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                "1",
                "-nostdin",
            ])
            .args(["-timeout", "25s", "-timeout_error"])
            .args(extra)
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        match cmd.spawn() {
            Ok(child) => Sipp(child),
            Err(err) => panic!(
                "SIPp is required for this test but could not be started ({err}); \
                 install it with `apt-get install sip-tester`"
            ),
        }
    }

    /// Waits for SIPp to finish its one call.
    pub async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(15), self.0.wait())
            .await
            .expect("SIPp exits after its one call")
            .expect("wait for SIPp")
    }
}

/// Path of a scenario file in `e2e/scenarios/`.
pub fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../e2e/scenarios")
        .join(name)
        .display()
        .to_string()
}
