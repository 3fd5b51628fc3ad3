//! The per-call SIP trace against SIPp: what the SBC really sent and received, in wire order,
//! with directions and peers, for an answered call, a digest-challenged one and a failover.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::shell::{Direction, Sbc, SbcConfig, TraceEntry, TracedMessage, TrunkCall};
use common::sipp::{scenario, Sipp};
use common::{call, free_udp_port, next, sbc, sbc_with_account, trunk};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedReceiver;

use Direction::{Received, Sent};

const LIMIT: Duration = Duration::from_secs(30);

/// Answers until the call is up, hangs up and waits for the end.
async fn answer_and_hang_up(call: &mut TrunkCall) {
    common::until_answered(call, 10, "the call should be answered").await;
    call.hangup();
    assert_eq!(
        next(call, 5).await,
        LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }
    );
}

/// Everything traced so far: once the call's end was reported, that is every message of it.
fn traced(rx: &mut UnboundedReceiver<TraceEntry>) -> Vec<TracedMessage> {
    let mut out = Vec::new();
    while let Ok(entry) = rx.try_recv() {
        match entry {
            TraceEntry::Message(m) => out.push(m),
            TraceEntry::Truncated { .. } => panic!("a short call is never truncated"),
        }
    }
    out
}

/// Asserts `expected` (direction, start of the first line, peer) appear in this order, allowing
/// retransmissions and other messages in between.
fn assert_ladder(trace: &[TracedMessage], expected: &[(Direction, &str, SocketAddr)]) {
    let ladder: Vec<String> = trace
        .iter()
        .map(|m| format!("{:?} {} {}", m.direction, m.peer, m.first_line()))
        .collect();
    let mut rest = trace.iter();
    for (direction, start, peer) in expected {
        let found = rest.any(|m| {
            m.direction == *direction && m.peer == *peer && m.first_line().starts_with(start)
        });
        assert!(
            found,
            "{direction:?} {start} ({peer}) missing or out of order in:\n{}",
            ladder.join("\n")
        );
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn an_answered_call_traces_every_message_in_order() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let mut sipp = Sipp::start(port, &["-sf", &scenario("uas_trying.xml")], &[]);
        let sbc = sbc(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        let mut trace = call.take_trace().expect("the trace");
        assert!(call.take_trace().is_none(), "the trace is taken once");
        answer_and_hang_up(&mut call).await;
        let trunk = loopback(port);
        let messages = traced(&mut trace);
        assert_ladder(
            &messages,
            &[
                (Sent, "INVITE sip:+15550100@127.0.0.1", trunk),
                (Received, "SIP/2.0 100 Trying", trunk),
                (Received, "SIP/2.0 180 Ringing", trunk),
                (Received, "SIP/2.0 200 OK", trunk),
                (Sent, "ACK sip:", trunk),
                (Sent, "BYE sip:", trunk),
                (Received, "SIP/2.0 200 OK", trunk),
            ],
        );
        // The full text is kept: headers and SDP, not just the start line.
        let invite = &messages[0];
        assert!(invite.text.contains("\r\nCall-ID: "), "{}", invite.text);
        assert!(invite.text.contains("m=audio "), "{}", invite.text);
        let bye_answered = messages.iter().any(|m| {
            m.direction == Received
                && m.first_line().starts_with("SIP/2.0 200")
                && m.text
                    .lines()
                    .any(|l| l.starts_with("CSeq:") && l.ends_with(" BYE"))
        });
        assert!(bye_answered, "the 200 OK of the BYE is traced");
        assert!(sipp.wait().await.success(), "SIPp saw the call through");
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn a_digest_challenge_and_the_second_invite_are_traced() {
    tokio::time::timeout(LIMIT, async {
        let port = free_udp_port();
        let mut sipp = Sipp::start(
            port,
            &["-sf", &scenario("uas_auth.xml")],
            &["-key", "password", "s3cret"],
        );
        let sbc = sbc_with_account(port).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        let mut trace = call.take_trace().expect("the trace");
        answer_and_hang_up(&mut call).await;
        let trunk = loopback(port);
        let messages = traced(&mut trace);
        assert_ladder(
            &messages,
            &[
                (Sent, "INVITE sip:", trunk),
                (Received, "SIP/2.0 401 Unauthorized", trunk),
                (Sent, "ACK sip:", trunk),
                (Sent, "INVITE sip:", trunk),
                (Received, "SIP/2.0 200 OK", trunk),
                (Sent, "ACK sip:", trunk),
                (Sent, "BYE sip:", trunk),
                (Received, "SIP/2.0 200 OK", trunk),
            ],
        );
        let invites: Vec<&TracedMessage> = messages
            .iter()
            .filter(|m| m.first_line().starts_with("INVITE "))
            .collect();
        assert!(!invites[0].text.contains("Authorization: Digest"));
        let answered = invites.last().expect("a second INVITE");
        assert!(
            answered.text.contains("Authorization: Digest"),
            "{}",
            answered.text
        );
        assert!(sipp.wait().await.success(), "SIPp checked the credentials");
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn a_failover_traces_the_attempt_on_each_trunk() {
    tokio::time::timeout(LIMIT, async {
        let (busy, port) = (free_udp_port(), free_udp_port());
        let mut unavailable = Sipp::start(busy, &["-sf", &scenario("uas_503.xml")], &[]);
        let mut sipp = Sipp::start(port, &["-sn", "uas"], &[]);
        let member = |name: &str, port: u16, priority: u16| {
            let mut t = trunk(port);
            t.name = common::trunk_name(name);
            t.group = Some("carrier".into());
            t.priority = priority;
            t
        };
        let sbc = Sbc::start(SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![member("a", busy, 1), member("b", port, 2)],
        })
        .await
        .expect("sbc");
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = common::call_via(&sbc, &rtp, "a").await;
        let mut trace = call.take_trace().expect("the trace");
        answer_and_hang_up(&mut call).await;
        let (a, b) = (loopback(busy), loopback(port));
        assert_ladder(
            &traced(&mut trace),
            &[
                (Sent, "INVITE sip:", a),
                (Received, "SIP/2.0 503", a),
                (Sent, "ACK sip:", a),
                (Sent, "INVITE sip:", b),
                (Received, "SIP/2.0 200 OK", b),
                (Sent, "ACK sip:", b),
                (Sent, "BYE sip:", b),
                (Received, "SIP/2.0 200 OK", b),
            ],
        );
        assert!(unavailable.wait().await.success(), "the 503 was ACKed");
        assert!(sipp.wait().await.success());
    })
    .await
    .expect("test finished in time");
}
