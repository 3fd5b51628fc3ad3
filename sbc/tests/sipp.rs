//! The SBC against a real SIPp UAS (Debian `sip-tester`). These tests fail, not skip, when
//! SIPp is missing: the SIP stack's interop is not optional.

mod common;

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use c2c_sbc::leg::{EndCause, LegEvent};
use common::{assert_echo, call, free_udp_port, next, sbc};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};

const LIMIT: Duration = Duration::from_secs(30);

/// Kills SIPp when the test ends, however it ends.
struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

impl Sipp {
    /// Starts a SIPp UAS for one call on 127.0.0.1:`port`; `scenario` is `-sn uas` or a file.
    fn start(port: u16, scenario: &[&str], extra: &[&str]) -> Sipp {
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

    async fn wait(&mut self) -> ExitStatus {
        tokio::time::timeout(Duration::from_secs(15), self.0.wait())
            .await
            .expect("SIPp exits after its one call")
            .expect("wait for SIPp")
    }
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../e2e/scenarios")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test]
async fn sipp_uas_answers_echoes_and_receives_our_bye() {
    tokio::time::timeout(LIMIT, async {
        let (port, media_port) = (free_udp_port(), free_udp_port());
        let mut sipp = Sipp::start(
            port,
            &["-sn", "uas"],
            &["-mp", &media_port.to_string(), "-rtp_echo"],
        );
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        // Timer A retransmits the INVITE if SIPp is still starting.
        assert_eq!(next(&mut call, 10).await, LegEvent::Ringing);
        let LegEvent::Answered(media) = next(&mut call, 5).await else {
            panic!("expected Answered")
        };
        assert_eq!(media.addr.port(), media_port);
        assert_echo(&rtp, media.addr).await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            LegEvent::Ended {
                cause: EndCause::HangupLocal,
                status: None
            }
        );
        // SIPp's uas scenario only completes (exit 0) once it received our BYE and answered it.
        let status = sipp.wait().await;
        assert!(status.success(), "SIPp reported a failed call: {status}");
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn sipp_busy_ends_the_call_as_busy() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let mut sipp = Sipp::start(port, &["-sf", &scenario("uas_486.xml")], &[]);
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert_eq!(next(&mut call, 10).await, LegEvent::Trying);
        assert_eq!(
            next(&mut call, 5).await,
            LegEvent::Ended {
                cause: EndCause::Busy,
                status: Some(486)
            }
        );
        // The scenario waits for our ACK; exit 0 proves it came in the INVITE transaction.
        let status = sipp.wait().await;
        assert!(status.success(), "SIPp reported a failed call: {status}");
    })
    .await
    .expect("test finished in time");
}
