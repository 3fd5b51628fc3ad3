//! The SBC calling the in-process demo trunk over loopback.

mod common;

use std::time::Duration;

use c2c_sbc::demo_trunk::DemoTrunk;
use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::shell::{Attempt, Sbc, SbcConfig, SbcError};
use common::{assert_echo, call, next, sbc};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn answered_call_echoes_rtp_and_hangs_up_with_bye() {
    tokio::time::timeout(LIMIT, async {
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo");
        let sbc = sbc(demo.sip_addr.port()).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert_eq!(next(&mut call, 5).await, LegEvent::Trying);
        assert_eq!(next(&mut call, 5).await, LegEvent::Ringing);
        let LegEvent::Answered(media) = next(&mut call, 5).await else {
            panic!("expected Answered")
        };
        assert_eq!(media.telephone_event_pt, Some(101));
        assert_echo(&rtp, media.addr).await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: None
            }
        );
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn hangup_while_ringing_cancels() {
    tokio::time::timeout(LIMIT, async {
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo");
        let sbc = sbc(demo.sip_addr.port()).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert_eq!(next(&mut call, 5).await, LegEvent::Trying);
        assert_eq!(next(&mut call, 5).await, LegEvent::Ringing);
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: Some(487)
            }
        );
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn demo_trunk_survives_garbage_and_sbc_answers_strangers() {
    tokio::time::timeout(LIMIT, async {
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo");
        let sbc = sbc(demo.sip_addr.port()).await;
        let probe = UdpSocket::bind("127.0.0.1:0").await.expect("probe");
        for junk in [
            &b"\r\n\r\n"[..],
            b"\xff\xfe garbage",
            b"INVITE sip:x SIP/2.0\r\n\r\n",
            &[0u8; 3000],
        ] {
            probe.send_to(junk, demo.sip_addr).await.expect("send");
            probe.send_to(junk, sbc.local_addr()).await.expect("send");
        }
        // A BYE for a dialog the SBC never had gets 481.
        let bye =
            "BYE sip:c2c@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKq\r\n\
                   From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 BYE\r\n\
                   Content-Length: 0\r\n\r\n";
        probe
            .send_to(bye.as_bytes(), sbc.local_addr())
            .await
            .expect("send");
        let mut buf = [0u8; 2048];
        let (len, _) = probe.recv_from(&mut buf).await.expect("reply");
        assert!(buf[..len].starts_with(b"SIP/2.0 481 "));
        // The demo still works after the garbage.
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        while !matches!(next(&mut call, 5).await, LegEvent::Answered(_)) {}
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn configuration_errors_are_clear() {
    let mut udp_with_ca = common::trunk(5060);
    udp_with_ca.tls_ca_file = Some("/etc/ssl/ca.pem".into());
    let err = Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks: vec![udp_with_ca],
    })
    .await
    .expect_err("a CA file without TLS is a mistake");
    assert!(err.to_string().contains("tls_ca_file"), "{err}");
    let sbc = sbc(5060).await;
    let err = sbc
        .place_call(
            &common::verified("nope", &["1"], false),
            &Attempt {
                destination: 0,
                context: Default::default(),
                sdp_offer: String::new(),
            },
        )
        .await
        .expect_err("unknown trunk");
    assert!(matches!(err, SbcError::UnknownTrunk(_)));
}
