use std::time::{Duration, Instant};

use super::*;
use crate::leg::{EndReason, LegEvent, Output, TrunkLeg, T1, T2, TIMER_F};
use crate::sip::{response_to, Request};

const TRUNK: &str = "192.0.2.7:5060";
const CALL_ID: &str = "5f1c0ffee@c2c";
const FROM: &str = "\"Web caller\" <sip:+15550100000@c2c.test>;tag=ourtag1";

fn local() -> SocketAddr {
    "198.51.100.1:5060".parse().expect("addr")
}

/// A request we sent, as the trace records it.
fn request(method: &str, cseq: u32, to: &str, extra: &str) -> String {
    format!(
        "{method} sip:+4930123456@192.0.2.7 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKb{cseq};rport\r\n\
         Max-Forwards: 70\r\nFrom: {FROM}\r\nTo: {to}\r\nCall-ID: {CALL_ID}\r\n\
         CSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn invite(cseq: u32) -> String {
    request(
        "INVITE",
        cseq,
        "<sip:+4930123456@192.0.2.7>",
        "Contact: <sip:c2c@198.51.100.1:5060>\r\n\
         Proxy-Authorization: Digest username=\"c2c\", response=\"[redacted]\"\r\n",
    )
}

/// A response from the trunk to our request with this CSeq.
fn response(status: &str, cseq: u32, method: &str, extra: &str) -> String {
    format!(
        "SIP/2.0 {status}\r\n\
         Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKb{cseq};rport\r\n\
         From: {FROM}\r\nTo: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\n\
         Call-ID: {CALL_ID}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn ok_with_routes() -> String {
    response(
        "200 OK",
        2,
        "INVITE",
        "Record-Route: <sip:10.0.0.1;lr>, <sip:192.0.2.9:5070;lr>\r\n\
         Record-Route: <sip:192.0.2.8;lr;ftag=x>\r\n\
         Contact: <sip:callee@192.0.2.20:5080>\r\n",
    )
}

fn sent(text: &str) -> RecordedMessage<'_> {
    RecordedMessage {
        sent: true,
        peer: TRUNK,
        text,
    }
}

fn received(text: &str) -> RecordedMessage<'_> {
    RecordedMessage {
        sent: false,
        peer: TRUNK,
        text,
    }
}

/// The BYE the leg sends first, and where.
fn first_bye(leg: &mut TrunkLeg) -> (Request, SocketAddr) {
    match leg.poll_output() {
        Some(Output::Transmit { bytes, to }) => match Message::parse(&bytes) {
            Ok(Message::Request(req)) => (req, to),
            other => panic!("not a request: {other:?}"),
        },
        other => panic!("no BYE: {other:?}"),
    }
}

#[test]
fn a_challenged_answered_call_is_rebuilt_with_its_route_set_and_ended_with_the_next_cseq() {
    let (invite1, invite2) = (invite(1), invite(2));
    let challenge = response("407 Proxy Authentication Required", 1, "INVITE", "");
    let ack1 = request("ACK", 1, "<sip:+4930123456@192.0.2.7>;tag=t0", "");
    let ok = ok_with_routes();
    let ack = request("ACK", 2, "<sip:+4930123456@192.0.2.7>;tag=trunktag9", "");
    // The trunk's own re-INVITE (its CSeq 90) and our answer to it count for nothing.
    let reinvite = "INVITE sip:c2c@198.51.100.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKre\r\n\
        From: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\nTo: "
        .to_owned()
        + FROM
        + "\r\nCall-ID: "
        + CALL_ID
        + "\r\nCSeq: 90 INVITE\r\nContent-Length: 0\r\n\r\n";
    let reinvite_ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKre\r\n\
        From: <sip:+4930123456@192.0.2.7>;tag=trunktag9\r\nTo: "
        .to_owned()
        + FROM
        + "\r\nCall-ID: "
        + CALL_ID
        + "\r\nCSeq: 90 INVITE\r\nContent-Length: 0\r\n\r\n";
    let messages = [
        sent(&invite1),
        received(&challenge),
        sent(&ack1),
        sent(&invite2),
        sent(&invite2), // Timer A
        received(&ok),
        sent(&ack),
        received(&reinvite),
        sent(&reinvite_ok),
    ];
    let d = InterruptedDialog::rebuild(&messages).expect("rebuilt");
    assert_eq!(d.call_id, CALL_ID);
    assert_eq!(
        (d.local_tag.as_str(), d.remote_tag.as_str()),
        ("ourtag1", "trunktag9")
    );
    assert_eq!(d.last_cseq, 2);
    assert_eq!(d.target, "sip:callee@192.0.2.20:5080");
    assert_eq!(
        d.routes,
        vec![
            "<sip:192.0.2.8;lr;ftag=x>",
            "<sip:192.0.2.9:5070;lr>",
            "<sip:10.0.0.1;lr>"
        ]
    );
    assert_eq!(d.trunk_addr, TRUNK.parse::<SocketAddr>().expect("addr"));
    assert_eq!(d.transport, Transport::Udp);

    let mut leg = TrunkLeg::interrupted(&d, local(), Instant::now());
    let (bye, to) = first_bye(&mut leg);
    // To the first route (the last Record-Route), RFC 3261 §12.2.1.1.
    assert_eq!(to, "192.0.2.8:5060".parse::<SocketAddr>().expect("addr"));
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(bye.uri, "sip:callee@192.0.2.20:5080");
    let h = &bye.headers;
    assert_eq!(h.get("From"), Some(FROM));
    assert_eq!(
        h.get("To"),
        Some("<sip:+4930123456@192.0.2.7>;tag=trunktag9")
    );
    assert_eq!(h.get("Call-ID"), Some(CALL_ID));
    assert_eq!(h.get("CSeq"), Some("3 BYE"));
    assert_eq!(h.list("Route"), d.routes);
    assert_eq!(h.get("Max-Forwards"), Some("70"));
    let via = h.get("Via").expect("Via");
    assert!(
        via.starts_with("SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK") && via.ends_with(";rport"),
        "{via}"
    );
    assert!(!via.contains("z9hG4bKb2"), "a fresh branch: {via}");
    // Topology hiding: nothing about us beyond the address the trunk knows.
    for name in [
        "User-Agent",
        "Server",
        "Authorization",
        "Proxy-Authorization",
    ] {
        assert_eq!(h.get(name), None, "{name}");
    }
}

#[test]
fn without_record_route_the_bye_goes_to_the_contact_and_counts_past_every_request_we_sent() {
    let inv = invite(1);
    let ok = response(
        "200 OK",
        1,
        "INVITE",
        "Contact: <sip:callee@192.0.2.20:5080>\r\n",
    );
    let prack = request("PRACK", 2, "<sip:x@192.0.2.7>;tag=trunktag9", "");
    let bye = request("BYE", 3, "<sip:x@192.0.2.7>;tag=trunktag9", "");
    let messages = [sent(&inv), received(&ok), sent(&prack), sent(&bye)];
    let d = InterruptedDialog::rebuild(&messages).expect("rebuilt");
    assert_eq!((d.last_cseq, d.routes.len()), (3, 0));
    assert_eq!(
        d.next_hop(),
        "192.0.2.20:5080".parse::<SocketAddr>().expect("addr")
    );
    let mut leg = TrunkLeg::interrupted(&d, local(), Instant::now());
    let (bye, _) = first_bye(&mut leg);
    assert_eq!(bye.headers.get("CSeq"), Some("4 BYE"));
}

#[test]
fn calls_that_cannot_be_rebuilt_say_why() {
    let inv = invite(1);
    let ok = ok_with_routes(); // answers CSeq 2, not our INVITE
    let ok1 = response("200 OK", 1, "INVITE", "Contact: <sip:c@192.0.2.20>\r\n");
    let garbled = ok1.replace("SIP/2.0 200 OK", "SIP/2.0 2OO OK");
    let no_tag = ok1.replace(";tag=trunktag9", "");
    let ringing = response("180 Ringing", 1, "INVITE", "");
    let cases: Vec<(Vec<RecordedMessage<'_>>, RecoverError)> = vec![
        (vec![], RecoverError::NoInvite),
        (vec![received(&ok1)], RecoverError::NoInvite),
        (
            vec![sent("INVITE garbage\r\n\r\n"), received(&ok1)],
            RecoverError::NoInvite,
        ),
        (vec![sent(&inv), received(&ringing)], RecoverError::NoAnswer),
        (vec![sent(&inv), received(&ok)], RecoverError::NoAnswer),
        (vec![sent(&inv), received(&garbled)], RecoverError::NoAnswer),
        // Our own 200 (say, to the trunk's re-INVITE) is not the trunk's answer.
        (vec![sent(&inv), sent(&ok1)], RecoverError::NoAnswer),
        (
            vec![sent(&inv), received(&no_tag)],
            RecoverError::BadAnswer("To tag"),
        ),
        (
            vec![
                sent(&inv),
                RecordedMessage {
                    sent: false,
                    peer: "trunk.example:5060",
                    text: &ok1,
                },
            ],
            RecoverError::BadAnswer("peer address"),
        ),
    ];
    for (messages, want) in cases {
        assert_eq!(
            InterruptedDialog::rebuild(&messages),
            Err(want.clone()),
            "{want}"
        );
    }
    let bad_contact = ok1.replace("<sip:c@192.0.2.20>", "<mailto:c@example.com>");
    assert_eq!(
        InterruptedDialog::rebuild(&[sent(&inv), received(&bad_contact)]),
        Err(RecoverError::BadAnswer("Contact"))
    );
}

#[test]
fn the_bye_is_retransmitted_on_timer_e_and_given_up_at_timer_f() {
    let inv = invite(1);
    let ok = response("200 OK", 1, "INVITE", "Contact: <sip:c@192.0.2.20>\r\n");
    let d = InterruptedDialog::rebuild(&[sent(&inv), received(&ok)]).expect("rebuilt");
    let start = Instant::now();
    let mut leg = TrunkLeg::interrupted(&d, local(), start);
    let (first, _) = first_bye(&mut leg);
    let mut sent_at = vec![Duration::ZERO];
    let mut ended = None;
    let mut now = start;
    while let Some(out) = leg.poll_output() {
        match out {
            Output::Transmit { bytes, .. } => {
                assert_eq!(Message::parse(&bytes), Ok(Message::Request(first.clone())));
                sent_at.push(now - start);
            }
            Output::Event(LegEvent::Ended { reason, .. }) => {
                ended = Some((reason, now - start));
                break;
            }
            Output::Event(other) => panic!("unexpected {other:?}"),
            Output::Timeout(at) => {
                now = at;
                leg.handle_timeout(at);
            }
        }
    }
    // T1 doubling, capped at T2 (RFC 3261 §17.1.2.2).
    let mut want = vec![Duration::ZERO];
    let (mut at, mut interval) = (T1, T1);
    while at < TIMER_F {
        want.push(at);
        interval = (interval * 2).min(T2);
        at += interval;
    }
    assert_eq!(sent_at, want);
    assert_eq!(ended, Some((EndReason::HangupLocal, TIMER_F)));
}

#[test]
fn a_481_ends_the_bye_at_once() {
    let inv = invite(1);
    let ok = response("200 OK", 1, "INVITE", "Contact: <sip:c@192.0.2.20>\r\n");
    let d = InterruptedDialog::rebuild(&[sent(&inv), received(&ok)]).expect("rebuilt");
    let now = Instant::now();
    let mut leg = TrunkLeg::interrupted(&d, local(), now);
    let (bye, to) = first_bye(&mut leg);
    while leg.poll_output().is_some() {}
    let gone = response_to(&bye, 481, "Call/Transaction Does Not Exist", None);
    leg.handle_datagram(Message::Response(gone), to, now);
    assert_eq!(
        leg.poll_output(),
        Some(Output::Event(LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }))
    );
    // Nothing more to send: no retransmission is due any more.
    match leg.poll_output() {
        Some(Output::Timeout(at)) => {
            leg.handle_timeout(at);
            assert!(!matches!(leg.poll_output(), Some(Output::Transmit { .. })));
        }
        other => panic!("{other:?}"),
    }
}
