//! The SBC against a real SIPp UAS (Debian `sip-tester`). These tests fail, not skip, when
//! SIPp is missing: the SIP stack's interop is not optional.

mod common;

use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use common::sipp::{scenario, Sipp};
use common::{assert_echo, call, free_udp_port, next, sbc};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);

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
                reason: EndReason::HangupLocal,
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
                reason: EndReason::Busy,
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
