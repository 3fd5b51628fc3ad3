//! A `TrunkLeg` the call failed over from, driven with virtual time: which attempt owns a
//! message, and what a trunk we stopped waiting for still gets (ACK, BYE, CANCEL) without the
//! call hearing of it (RFC 3261 §17.1.1.2, §13.2.2.4, §9.1).

mod common;

use std::time::{Duration, Instant};

use c2c_sbc::leg::{EndReason, LegEvent, TrunkLeg, T1};
use c2c_sbc::sip::{Message, Method, Request};
use common::leg::{addr, branch, cseq, drain, feed, params, reply, CONTACT, TRUNK};

const GIVE_UP: Duration = Duration::from_secs(4);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A leg given up on at `t0 + GIVE_UP` because its trunk stayed silent, and its INVITE.
fn given_up(t0: Instant) -> (TrunkLeg, Request) {
    let mut p = params();
    p.give_up_after = Some(GIVE_UP);
    let mut leg = TrunkLeg::new(p, t0).expect("leg");
    let (invite, _) = drain(&mut leg).sent.remove(0);
    leg.handle_timeout(t0 + GIVE_UP);
    let ended = LegEvent::Ended {
        reason: EndReason::Timeout,
        status: None,
    };
    assert_eq!(drain(&mut leg).events, vec![ended]);
    (leg, invite)
}

/// The attempt that continues `leg`'s call on another trunk, and its INVITE.
fn next_attempt(leg: &TrunkLeg, now: Instant) -> (TrunkLeg, Request) {
    let mut p = params();
    p.continues = Some(leg.continuation());
    let mut next = TrunkLeg::new(p, now).expect("leg");
    let (invite, _) = drain(&mut next).sent.remove(0);
    (next, invite)
}

/// The methods of what the leg sent.
fn methods(sent: &[(Request, std::net::SocketAddr)]) -> Vec<Method> {
    sent.iter().map(|(r, _)| r.method.clone()).collect()
}

#[test]
fn silent_trunk_is_given_up_and_the_call_continues_elsewhere() {
    let t0 = Instant::now();
    let mut p = params();
    p.give_up_after = Some(GIVE_UP);
    let mut leg = TrunkLeg::new(p, t0).expect("leg");
    let first = drain(&mut leg);
    assert_eq!(first.timeout, Some(t0 + T1));
    leg.handle_timeout(t0 + GIVE_UP);
    let d = drain(&mut leg);
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::Timeout,
            status: None
        }]
    );
    assert!(leg.may_fail_over());
    let (mut second, invite) = next_attempt(&leg, t0);
    assert_eq!(
        second.call_id(),
        leg.call_id(),
        "same call, same Call-ID (RFC 3261 §8.1.3.4)"
    );
    assert_eq!(cseq(&invite), (2, Method::Invite));
    assert_eq!(
        Message::Request(invite.clone()).from_tag(),
        Message::Request(first.sent[0].0.clone()).from_tag()
    );
    // Once anyone is reached, the call stays on this trunk.
    feed(&mut second, reply(&invite, 180, false, &[]), t0);
    assert!(!second.may_fail_over());
}

#[test]
fn each_attempt_owns_only_its_own_transactions() {
    let t0 = Instant::now();
    let mut p = params();
    p.give_up_after = Some(GIVE_UP);
    let mut first = TrunkLeg::new(p, t0).expect("leg");
    let (invite1, _) = drain(&mut first).sent.remove(0);
    let unavailable = reply(&invite1, 503, false, &[]);
    let d = feed(&mut first, unavailable.clone(), t0);
    assert_eq!(methods(&d.sent), vec![Method::Ack]);
    let ack = d.sent[0].0.clone();
    let (mut second, invite2) = next_attempt(&first, t0);

    // Our ACK was lost and the 503 comes again: same Call-ID, but the first attempt's branch.
    assert!(first.owns(&unavailable) && !second.owns(&unavailable));
    let d = feed(&mut first, unavailable.clone(), t0 + T1);
    assert_eq!(d.sent, vec![(ack, addr(TRUNK))], "the same ACK again");
    assert!(d.events.is_empty(), "the call heard of the 503 once");
    let d = feed(&mut second, unavailable, t0 + T1);
    assert!(
        d.sent.is_empty() && d.events.is_empty(),
        "the new attempt cannot ACK another's transaction"
    );

    let answer = reply(&invite2, 200, true, &[]);
    assert!(second.owns(&answer) && !first.owns(&answer));
    feed(&mut second, answer, t0 + T1);
    let mut bye = Request::new(Method::Bye, "sip:c2c@198.51.100.2:5060");
    bye.headers
        .push("Via", "SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKremote");
    bye.headers
        .push("From", "<sip:+15550100@192.0.2.1>;tag=trunk-tag");
    bye.headers
        .push("To", invite2.headers.get("From").expect("from"));
    bye.headers.push("Call-ID", second.call_id());
    bye.headers.push("CSeq", "7 BYE");
    let bye = Message::Request(bye);
    assert!(
        second.owns(&bye) && !first.owns(&bye),
        "only the answered attempt has a dialog"
    );
}

#[test]
fn late_failure_after_giving_up_is_acked_quietly_until_timer_d() {
    let t0 = Instant::now();
    let (mut leg, invite) = given_up(t0);
    let late = reply(&invite, 503, false, &[]);
    let d = feed(&mut leg, late.clone(), t0 + secs(10));
    assert!(d.events.is_empty(), "the call already had its end");
    let (ack, to) = &d.sent[0];
    assert_eq!((methods(&d.sent), *to), (vec![Method::Ack], addr(TRUNK)));
    assert_eq!(
        branch(ack),
        branch(&invite),
        "ACK in the INVITE transaction"
    );
    assert_eq!(cseq(ack), (1, Method::Ack));
    assert_eq!(
        Message::Request(ack.clone()).to_tag().as_deref(),
        Some("trunk-tag")
    );
    let d = feed(&mut leg, late, t0 + secs(11));
    assert_eq!(d.sent[0].0, *ack, "each copy is ACKed alike");
    assert!(d.events.is_empty());
    // Timer D runs from the late 503, not from when we gave up.
    leg.handle_timeout(t0 + secs(40));
    assert!(!leg.is_terminated());
    leg.handle_timeout(t0 + secs(43));
    assert!(leg.is_terminated());
}

#[test]
fn late_failure_after_timer_b_is_acked() {
    let t0 = Instant::now();
    let mut leg = TrunkLeg::new(params(), t0).expect("leg");
    let (invite, _) = drain(&mut leg).sent.remove(0);
    leg.handle_timeout(t0 + secs(32));
    let ended = LegEvent::Ended {
        reason: EndReason::Timeout,
        status: None,
    };
    assert_eq!(drain(&mut leg).events, vec![ended]);
    let d = feed(&mut leg, reply(&invite, 486, false, &[]), t0 + secs(33));
    assert_eq!(methods(&d.sent), vec![Method::Ack]);
    assert!(d.events.is_empty());
}

#[test]
fn late_answer_after_giving_up_is_acked_then_byed() {
    let t0 = Instant::now();
    let (mut leg, invite) = given_up(t0);
    let answer = reply(&invite, 200, true, &[]);
    let d = feed(&mut leg, answer.clone(), t0 + secs(30));
    assert_eq!(methods(&d.sent), vec![Method::Ack, Method::Bye]);
    assert!(d.events.is_empty(), "no Answered for a call that moved on");
    let bye = d.sent[1].0.clone();
    assert_eq!(d.sent[1].1, addr(CONTACT));
    assert_eq!(
        Message::Request(bye.clone()).to_tag().as_deref(),
        Some("trunk-tag")
    );
    // The 200 again (our ACK was lost): ACKed again, no second BYE.
    let d = feed(&mut leg, answer, t0 + secs(31));
    assert_eq!(methods(&d.sent), vec![Method::Ack]);
    // Past the linger of the give-up (36 s) the BYE is still seen through.
    leg.handle_timeout(t0 + secs(37));
    assert!(!leg.is_terminated());
    let d = feed(&mut leg, reply(&bye, 200, false, &[]), t0 + secs(37));
    assert!(d.events.is_empty());
    leg.handle_timeout(t0 + secs(63));
    assert!(leg.is_terminated());
}

#[test]
fn late_ringing_after_giving_up_is_cancelled() {
    let t0 = Instant::now();
    let (mut leg, invite) = given_up(t0);
    let d = feed(&mut leg, reply(&invite, 180, false, &[]), t0 + secs(5));
    assert!(d.events.is_empty(), "no Ringing for a call that moved on");
    let (cancel, to) = &d.sent[0];
    assert_eq!((methods(&d.sent), *to), (vec![Method::Cancel], addr(TRUNK)));
    assert_eq!(branch(cancel), branch(&invite));
    assert_eq!(cseq(cancel), (1, Method::Cancel));
    feed(&mut leg, reply(cancel, 200, false, &[]), t0 + secs(5));
    let d = feed(&mut leg, reply(&invite, 487, false, &[]), t0 + secs(5));
    assert_eq!(methods(&d.sent), vec![Method::Ack]);
    assert!(d.events.is_empty());
}
