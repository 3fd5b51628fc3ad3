//! What a trunk the call failed over from still sends, against SIPp: the retransmitted 503
//! whose first ACK got lost, and a final answer that arrives after we gave up on a silent
//! trunk. The call lives on trunk "b"; the attempt on trunk "a" must still finish its
//! transaction (RFC 3261 §17.1.1.2) without telling the call anything.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::shell::{Direction, Sbc, TraceEntry, TrunkCall};
use common::sipp::{scenario, Sipp};
use common::{free_udp_port, group_member, group_sbc, next};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);

/// A call placed to trunk "a" and answered on trunk "b".
struct FailedOver {
    /// SIPp on "a", running the scenario under test.
    first: Sipp,
    /// Plain SIPp `uas` on "b".
    second: Sipp,
    call: TrunkCall,
    /// Trunk "a"'s address.
    a: SocketAddr,
    _sbc: Sbc,
}

/// Runs `file` (with `extra` options) on trunk "a", a plain `uas` on "b", and places a call
/// to "a" that must be answered on "b".
async fn fail_over_from(file: &str, extra: &[&str]) -> FailedOver {
    let (a, b) = (free_udp_port(), free_udp_port());
    let first = Sipp::start(a, &["-sf", &scenario(file)], extra);
    let second = Sipp::start(b, &["-sn", "uas"], &[]);
    let sbc = group_sbc(vec![group_member("a", a, 1), group_member("b", b, 2)]).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
    let mut call = common::call_via(&sbc, &rtp, "a").await;
    common::until_answered(&mut call, 10, "the call should complete on trunk b").await;
    FailedOver {
        first,
        second,
        call,
        a: SocketAddr::from(([127, 0, 0, 1], a)),
        _sbc: sbc,
    }
}

/// Hangs up and expects the end of the call on "b" as the very next event: nothing from
/// trunk "a" reached the call.
async fn hang_up(call: &mut TrunkCall, second: Sipp) {
    call.hangup();
    assert_eq!(
        next(call, 5).await,
        LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }
    );
    finish(second, "trunk b").await;
}

async fn finish(mut sipp: Sipp, which: &str) {
    let status = sipp.wait().await;
    assert!(
        status.success(),
        "SIPp on {which} reported a failed call: {status}"
    );
}

#[tokio::test]
async fn retransmitted_503_is_acked_again_after_failing_over() {
    tokio::time::timeout(LIMIT, async {
        let mut t = fail_over_from("uas_503_ack_lost.xml", &["-nr"]).await;
        let mut trace = t.call.take_trace().expect("the trace");
        finish(t.first, "trunk a").await; // it got an ACK for each copy of its 503
        hang_up(&mut t.call, t.second).await;
        let mut acks = 0;
        while let Ok(TraceEntry::Message(m)) = trace.try_recv() {
            acks += usize::from(
                m.direction == Direction::Sent
                    && m.peer == t.a
                    && m.first_line().starts_with("ACK"),
            );
        }
        assert_eq!(acks, 2, "both 503s ACKed, and the ACKs traced");
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn late_503_from_a_trunk_given_up_on_is_acked() {
    tokio::time::timeout(LIMIT, async {
        let mut t = fail_over_from("uas_late_503.xml", &[]).await;
        finish(t.first, "trunk a").await; // it got its ACK
        hang_up(&mut t.call, t.second).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn late_answer_from_a_trunk_given_up_on_is_acked_then_byed() {
    tokio::time::timeout(LIMIT, async {
        let mut t = fail_over_from("uas_late_answer.xml", &[]).await;
        finish(t.first, "trunk a").await; // it got the ACK and the BYE
        hang_up(&mut t.call, t.second).await;
    })
    .await
    .expect("test finished in time");
}
