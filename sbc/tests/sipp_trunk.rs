//! Trunk behaviours against SIPp scenarios of our own (`e2e/scenarios/*.xml`): a digest
//! challenge, early media, rejections mapped to reasons, the CANCEL race and a BYE from the
//! trunk. SIPp's exit status proves the trunk side saw the right messages.

mod common;

use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::shell::{Sbc, SbcConfig};
use common::sipp::{scenario, Sipp};
use common::{call, free_udp_port, group_member, group_sbc, next, sbc, sbc_with_account, trunk};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);

async fn finish(mut sipp: Sipp) {
    let status = sipp.wait().await;
    assert!(status.success(), "SIPp reported a failed call: {status}");
}

fn ended(reason: EndReason, status: Option<u16>) -> LegEvent {
    LegEvent::Ended { reason, status }
}

#[tokio::test]
async fn digest_challenge_on_invite_is_answered() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_auth.xml")],
            &["-key", "password", "s3cret"],
        );
        let sbc = sbc_with_account(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert!(matches!(next(&mut call, 10).await, LegEvent::Answered(_)));
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn early_media_183_then_answer() {
    tokio::time::timeout(LIMIT, async {
        let (port, media) = (free_udp_port(), free_udp_port());
        let sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_183.xml")],
            &["-mp", &media.to_string()],
        );
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        let mut early = None;
        let answered = loop {
            match next(&mut call, 10).await {
                LegEvent::EarlyMedia(m) => early = Some(m),
                LegEvent::Answered(m) => break m,
                LegEvent::Trying => {}
                other => panic!("unexpected {other:?}"),
            }
        };
        let early = early.expect("183 with SDP reported as early media");
        assert_eq!((early.addr.port(), answered.addr.port()), (media, media));
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn rejections_map_to_reasons() {
    tokio::time::timeout(Duration::from_secs(60), async {
        for (status, cause) in [
            (603, EndReason::Rejected),
            (404, EndReason::Unavailable),
            (408, EndReason::NoAnswer),
        ] {
            let port = free_udp_port();
            let file = scenario(&format!("uas_{status}.xml"));
            let sipp = Sipp::start(port, &["-sf", &file], &[]);
            let sbc = sbc(port).await;
            let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
            let mut call = call(&sbc, &rtp).await;
            assert_eq!(next(&mut call, 10).await, LegEvent::Ringing);
            assert_eq!(
                next(&mut call, 5).await,
                ended(cause, Some(status)),
                "{status}"
            );
            finish(sipp).await;
        }
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn answer_racing_our_cancel_is_acked_then_byed() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let sipp = Sipp::start(port, &["-sf", &scenario("uas_cancel_race.xml")], &[]);
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert_eq!(next(&mut call, 10).await, LegEvent::Ringing);
        call.hangup();
        assert_eq!(
            next(&mut call, 10).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await; // it received the ACK and the BYE
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn bye_from_the_trunk_ends_the_call() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let sipp = Sipp::start(port, &["-sf", &scenario("uas_bye.xml")], &[]);
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert!(matches!(next(&mut call, 10).await, LegEvent::Answered(_)));
        assert_eq!(
            next(&mut call, 10).await,
            ended(EndReason::HangupRemote, None)
        );
        finish(sipp).await; // it got 200 OK to its BYE
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn silent_first_trunk_fails_over_to_the_second() {
    tokio::time::timeout(LIMIT, async {
        let (dead, port) = (free_udp_port(), free_udp_port());
        let sipp = Sipp::start(port, &["-sn", "uas"], &[]);
        let sbc = group_sbc(vec![group_member("a", dead, 1), group_member("b", port, 2)]).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = common::call_via(&sbc, &rtp, "a").await;
        common::until_answered(&mut call, 10, "the call should complete on trunk b").await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn trunk_answering_503_fails_over_to_the_next() {
    tokio::time::timeout(LIMIT, async {
        let (busy, port) = (free_udp_port(), free_udp_port());
        let unavailable = Sipp::start(busy, &["-sf", &scenario("uas_503.xml")], &[]);
        let sipp = Sipp::start(port, &["-sn", "uas"], &[]);
        let sbc = group_sbc(vec![group_member("a", busy, 1), group_member("b", port, 2)]).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = common::call_via(&sbc, &rtp, "a").await;
        common::until_answered(&mut call, 10, "the call should complete on trunk b").await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(unavailable).await; // the 503 was ACKed
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn reinvite_hold_and_unhold_from_the_trunk() {
    tokio::time::timeout(LIMIT, async {
        let (port, media) = (free_udp_port(), free_udp_port());
        let sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_reinvite.xml")],
            &["-mp", &media.to_string()],
        );
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        assert!(matches!(next(&mut call, 10).await, LegEvent::Answered(_)));
        let LegEvent::MediaChanged(held) = next(&mut call, 10).await else {
            panic!("hold re-INVITE reported")
        };
        assert_eq!(held.addr.port(), media);
        assert!(
            !held.receives() && held.sends(),
            "a=sendonly: nothing to send"
        );
        let LegEvent::MediaChanged(resumed) = next(&mut call, 10).await else {
            panic!("unhold re-INVITE reported")
        };
        assert_eq!(
            resumed.addr.port(),
            40002,
            "the new media address is followed"
        );
        assert!(resumed.receives());
        let LegEvent::MediaChanged(held) = next(&mut call, 10).await else {
            panic!("c=0.0.0.0 hold reported")
        };
        assert!(held.addr.ip().is_unspecified() && !held.receives());
        let LegEvent::MediaChanged(resumed) = next(&mut call, 10).await else {
            panic!("second unhold reported")
        };
        assert!(resumed.receives() && resumed.addr.port() == 40002);
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await; // it checked a=recvonly / a=sendrecv in our four answers
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn call_completes_over_tcp() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let sipp = Sipp::start(port, &["-sn", "uas"], &["-t", "t1"]);
        let mut tcp = trunk(port);
        tcp.transport = c2c_sbc::trunk::Transport::Tcp;
        let sbc = Sbc::start(SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![tcp],
        })
        .await
        .expect("sbc");
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        // SIPp may still be starting: retry the connection a few times.
        let mut call = None;
        for _ in 0..20 {
            if let Ok(c) = common::outbound("main", &rtp).place(&sbc).await {
                call = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut call = call.expect("SIPp accepts TCP");
        common::until_answered(&mut call, 10, "call over TCP failed").await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn retransmissions_carry_the_call_through_loss() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let port = free_udp_port();
        let trace = std::env::temp_dir().join(format!("c2c-lossy-{port}.log"));
        let trace_arg = trace.display().to_string();
        let sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_lossy.xml")],
            &[
                "-max_retrans",
                "10",
                "-trace_msg",
                "-message_file",
                &trace_arg,
            ],
        );
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        common::until_answered(&mut call, 30, "the call should survive the loss").await;
        // SIPp repeats its 200 right after our ACK; give the re-ACK time to go out before the
        // BYE, or SIPp sees the BYE while still waiting for it.
        tokio::time::sleep(Duration::from_millis(500)).await;
        call.hangup();
        assert_eq!(
            next(&mut call, 30).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
        // SIPp sat on the first INVITE for 1.7 s: Timer A must have sent it again (0.5 s, 1.5 s).
        let log = std::fs::read_to_string(&trace).unwrap_or_default();
        let invites = log.matches("INVITE sip:").count();
        let _ = std::fs::remove_file(&trace);
        assert!(
            invites >= 2,
            "SIPp received {invites} INVITE(s); Timer A did not retransmit"
        );
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn keepalive_steers_calls_away_from_a_dead_trunk() {
    tokio::time::timeout(LIMIT, async {
        let (dead, port) = (free_udp_port(), free_udp_port());
        let sipp = Sipp::start(port, &["-sn", "uas"], &[]);
        let mut a = group_member("a", dead, 1);
        a.keepalive_s = 1;
        a.failover_after_ms = 60_000; // without the keep-alive the call would wait on "a"
        let sbc = group_sbc(vec![a, group_member("b", port, 2)]).await;
        // Let one keep-alive interval pass unanswered (the only wait in this file).
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = common::call_via(&sbc, &rtp, "a").await;
        common::until_answered(&mut call, 10, "the call should go to trunk b").await;
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn reliable_183_is_pracked() {
    tokio::time::timeout(LIMIT, async {
        let (port, media) = (free_udp_port(), free_udp_port());
        let sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_100rel.xml")],
            &["-mp", &media.to_string()],
        );
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        let LegEvent::EarlyMedia(early) = next(&mut call, 10).await else {
            panic!("183 reported once, as early media")
        };
        assert_eq!(early.addr.port(), media);
        assert!(matches!(next(&mut call, 10).await, LegEvent::Answered(_)));
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await; // it checked RAck and got the BYE with a CSeq above the PRACK's
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn privacy_id_reaches_the_trunk_with_the_asserted_identity() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let sipp = Sipp::start(port, &["-sf", &scenario("uas_privacy.xml")], &[]);
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let private = common::outbound("main", &rtp).private();
        let mut call = private.place(&sbc).await.expect("call placed");
        assert!(matches!(next(&mut call, 10).await, LegEvent::Answered(_)));
        call.hangup();
        assert_eq!(
            next(&mut call, 5).await,
            ended(EndReason::HangupLocal, None)
        );
        finish(sipp).await; // it checked Privacy: id, the PAI and the anonymous From
    })
    .await
    .expect("test finished in time");
}
