//! `TrunkLeg` driven with virtual time: no sockets, no sleeps.

mod common;

use std::time::{Duration, Instant};

use c2c_sbc::leg::{reason_for_status, EndReason, LegEvent, TrunkLeg, T1};
use c2c_sbc::sip::{Message, Method, Request};
use c2c_sbc::trunk::CallerIdHeader;
use common::leg::{addr, branch, cseq, drain, feed, params, reply, start, CONTACT, TRUNK};

#[test]
fn invite_carries_caller_id_and_sanitised_context() {
    let (leg, invite) = start(Instant::now());
    assert_eq!(invite.uri, "sip:+15550100@192.0.2.1:5060;user=phone");
    let h = &invite.headers;
    assert_eq!(
        h.get("From")
            .map(|f| f.starts_with("\"Web caller\" <sip:+15559999@calls.example.com>;tag=")),
        Some(true)
    );
    assert_eq!(
        h.get("P-Asserted-Identity"),
        Some("<sip:+15559999@calls.example.com>")
    );
    assert_eq!(h.get("Max-Forwards"), Some("70"));
    assert_eq!(
        h.get("X-C2C-Page"),
        Some("https://shop.example/p?a=1%0D%0AVia:%20injected"),
        "percent-encoded: no visitor text can end the header"
    );
    assert_eq!(h.get("X-C2C-Referrer"), Some("https://search.example/"));
    assert_eq!(h.get("X-C2C-UTM-Source"), Some("mail"));
    assert_eq!(h.get("User-to-User"), None, "X-C2C-* by default");
    assert_eq!(h.get("X-C2C-Session"), Some("ws-1"));
    assert_eq!(h.get("User-Agent"), None);
    assert_eq!(
        h.get("Privacy"),
        None,
        "no privacy unless the campaign asks"
    );
    assert_eq!(h.get_all("Via").count(), 1, "no injected Via");
    let via = h.get("Via").expect("via");
    assert!(
        via.starts_with("SIP/2.0/UDP 198.51.100.2:5060;branch=z9hG4bK") && via.ends_with(";rport")
    );
    assert_eq!(cseq(&invite), (1, Method::Invite));
    assert!(!leg.call_id().contains('@'));
    assert!(String::from_utf8_lossy(&invite.body).contains("m=audio 40000 RTP/AVP 0 101"));
}

#[test]
fn a_trunk_may_ask_for_the_session_in_user_to_user_too() {
    let mut p = params();
    p.trunk.context_headers = c2c_sbc::context::ContextHeaders::Both;
    let mut leg = TrunkLeg::new(p, Instant::now()).expect("leg");
    let invite = drain(&mut leg).sent.remove(0).0;
    assert_eq!(
        invite.headers.get("User-to-User"),
        Some("77732d31;encoding=hex"),
        "RFC 7433: the session id, hex"
    );
    assert_eq!(invite.headers.get("X-C2C-Session"), Some("ws-1"));
}

#[test]
fn privacy_id_keeps_the_asserted_identity_and_hides_from() {
    let mut p = params();
    p.call = common::verified("main", &["+15550100"], true);
    let mut leg = TrunkLeg::new(p.clone(), Instant::now()).expect("leg");
    let d = drain(&mut leg);
    let h = &d.sent[0].0.headers;
    assert_eq!(h.get("Privacy"), Some("id"));
    assert_eq!(
        h.get("P-Asserted-Identity"),
        Some("<sip:+15559999@calls.example.com>")
    );
    let from = h.get("From").expect("from");
    assert!(
        from.starts_with("\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag="),
        "{from}"
    );
    // A From-only trunk has no other place for the caller ID: From keeps it.
    p.trunk.caller_id_header = CallerIdHeader::From;
    let mut leg = TrunkLeg::new(p, Instant::now()).expect("leg");
    let d = drain(&mut leg);
    let h = &d.sent[0].0.headers;
    assert_eq!(h.get("Privacy"), Some("id"));
    assert!(h
        .get("From")
        .expect("from")
        .starts_with("\"Web caller\" <sip:+15559999@"));
}

#[test]
fn pai_only_and_invalid_numbers() {
    let mut p = params();
    p.trunk.caller_id_header = CallerIdHeader::Pai;
    p.trunk.username = Some("acct".into());
    let mut leg = TrunkLeg::new(p, Instant::now()).expect("leg");
    let d = drain(&mut leg);
    let h = &d.sent[0].0.headers;
    assert!(h
        .get("From")
        .expect("from")
        .starts_with("<sip:acct@calls.example.com>;tag="));
    assert!(h.get("P-Asserted-Identity").is_some());
    let mut spaced = params();
    spaced.destination = "+1 (555) 010-0".into();
    let mut leg = TrunkLeg::new(spaced, Instant::now()).expect("separators are removed (E.123)");
    assert!(drain(&mut leg).sent[0].0.uri.starts_with("sip:+15550100@"));
    // An agent's SIP address is the Request-URI; the trunk is only the next hop.
    let mut agent = params();
    agent.destination = "sip:agent.7@pbx.example:5080".into();
    let mut leg = TrunkLeg::new(agent, Instant::now()).expect("a sip: destination");
    let d = drain(&mut leg);
    assert_eq!(d.sent[0].0.uri, "sip:agent.7@pbx.example:5080");
    assert_eq!(
        d.sent[0].0.headers.get("To"),
        Some("<sip:agent.7@pbx.example:5080>")
    );
    for bad in [
        "",
        "1 x 2",
        "+1555\r\nX: y",
        "sip:evil@host>;lr",
        "sip:evil@host;maddr=10.0.0.1",
        &"1".repeat(65),
    ] {
        let mut p = params();
        p.destination = bad.to_owned();
        assert!(TrunkLeg::new(p, Instant::now()).is_err(), "{bad:?}");
    }
}

#[test]
fn timer_a_doubles_until_timer_b_times_out() {
    let t0 = Instant::now();
    let mut leg = TrunkLeg::new(params(), t0).expect("leg");
    let mut sends = Vec::new();
    let mut ended = None;
    let mut now = t0;
    for _ in 0..20 {
        let d = drain(&mut leg);
        sends.extend(d.sent.iter().map(|_| now - t0));
        if let Some(e) = d.events.into_iter().next() {
            ended = Some((e, now - t0));
        }
        match d.timeout {
            Some(t) if ended.is_none() => now = t,
            _ => break,
        }
        leg.handle_timeout(now);
    }
    let ms: Vec<u128> = sends.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, vec![0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(
        ended,
        Some((
            LegEvent::Ended {
                reason: EndReason::Timeout,
                status: None
            },
            Duration::from_secs(32)
        ))
    );
}

#[test]
fn provisional_stops_retransmission_and_reports_progress() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    let d = feed(&mut leg, reply(&invite, 100, false, &[]), t0);
    assert_eq!(d.events, vec![LegEvent::Trying]);
    assert_eq!(d.timeout, None, "no timer after 1xx");
    leg.handle_timeout(t0 + Duration::from_secs(5));
    assert!(drain(&mut leg).sent.is_empty());
    let d = feed(&mut leg, reply(&invite, 180, false, &[]), t0);
    assert_eq!(d.events, vec![LegEvent::Ringing]);
    let d = feed(&mut leg, reply(&invite, 183, true, &[]), t0);
    assert!(
        matches!(&d.events[..], [LegEvent::EarlyMedia(m)] if m.addr == addr("203.0.113.5:30000"))
    );
}

#[test]
fn busy_is_acked_in_the_invite_transaction() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    let d = feed(&mut leg, reply(&invite, 486, false, &[]), t0);
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::Busy,
            status: Some(486)
        }]
    );
    let (ack, to) = &d.sent[0];
    assert_eq!((ack.method.clone(), *to), (Method::Ack, addr(TRUNK)));
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(branch(ack), branch(&invite));
    assert_eq!(cseq(ack), (1, Method::Ack));
    assert_eq!(
        Message::Request(ack.clone()).to_tag().as_deref(),
        Some("trunk-tag")
    );
    // A retransmitted final response is ACKed again, without a second event.
    let d = feed(&mut leg, reply(&invite, 486, false, &[]), t0);
    assert_eq!((d.sent.len(), d.events.len()), (1, 0));
    assert!(!leg.is_terminated());
    leg.handle_timeout(t0 + Duration::from_secs(33));
    assert!(leg.is_terminated());
}

#[test]
fn status_causes() {
    for (status, cause) in [
        (600, EndReason::Busy),
        (408, EndReason::NoAnswer),
        (480, EndReason::NoAnswer),
        (487, EndReason::NoAnswer),
        (403, EndReason::Rejected),
        (603, EndReason::Rejected),
        (404, EndReason::Unavailable),
        (503, EndReason::Unavailable),
        (488, EndReason::Unavailable),
        (401, EndReason::Failed),
        (302, EndReason::Failed),
    ] {
        assert_eq!(reason_for_status(status), cause, "{status}");
    }
}

#[test]
fn a_device_cancelled_because_another_answered_is_told_so_even_before_it_rang() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    // No provisional yet: the CANCEL must wait for one (RFC 3261 §9.1), and keeps the reason.
    leg.hangup_elsewhere(t0);
    assert!(drain(&mut leg).sent.is_empty());
    let d = feed(&mut leg, reply(&invite, 180, false, &[]), t0);
    let (cancel, _) = &d.sent[0];
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(
        cancel.headers.get("Reason"),
        Some("SIP;cause=200;text=\"Call completed elsewhere\""),
        "RFC 3326: the phone logs no missed call"
    );
}

#[test]
fn hangup_while_ringing_cancels() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    feed(&mut leg, reply(&invite, 180, false, &[]), t0);
    leg.hangup(t0);
    let d = drain(&mut leg);
    let (cancel, _) = &d.sent[0];
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, invite.uri);
    assert_eq!(branch(cancel), branch(&invite));
    assert_eq!(cseq(cancel), (1, Method::Cancel));
    assert_eq!(Message::Request(cancel.clone()).to_tag(), None);
    assert_eq!(
        cancel.headers.get("Reason"),
        None,
        "the caller gave up: no reason"
    );
    // Timer E retransmits the CANCEL until its 200 arrives.
    leg.handle_timeout(t0 + T1);
    assert_eq!(drain(&mut leg).sent[0].0.method, Method::Cancel);
    feed(&mut leg, reply(cancel, 200, false, &[]), t0 + T1);
    leg.handle_timeout(t0 + T1 * 3);
    assert!(drain(&mut leg).sent.is_empty());
    let d = feed(&mut leg, reply(&invite, 487, false, &[]), t0 + T1 * 3);
    assert_eq!(d.sent[0].0.method, Method::Ack);
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: Some(487)
        }]
    );
}

#[test]
fn hangup_before_any_response_waits_for_a_provisional() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    leg.hangup(t0);
    assert!(
        drain(&mut leg).sent.is_empty(),
        "no CANCEL before a 1xx (RFC 3261 §9.1)"
    );
    let d = feed(&mut leg, reply(&invite, 100, false, &[]), t0);
    assert_eq!(d.sent[0].0.method, Method::Cancel);
    assert!(d.events.is_empty());
}

#[test]
fn answer_after_cancel_is_acked_then_byed() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    feed(&mut leg, reply(&invite, 180, false, &[]), t0);
    leg.hangup(t0);
    drain(&mut leg);
    let d = feed(&mut leg, reply(&invite, 200, true, &[]), t0);
    let methods: Vec<Method> = d.sent.iter().map(|(r, _)| r.method.clone()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    assert!(d.events.is_empty(), "no Answered after we hung up");
    let bye = d.sent[1].0.clone();
    let d = feed(&mut leg, reply(&bye, 200, false, &[]), t0);
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }]
    );
}

#[test]
fn a_pinned_leg_sends_every_request_where_the_device_registered_from() {
    let t0 = Instant::now();
    let mut leg = TrunkLeg::new(
        c2c_sbc::leg::LegParams {
            pinned: true,
            ..params()
        },
        t0,
    )
    .expect("leg");
    let mut d = drain(&mut leg);
    let (invite, to) = d.sent.remove(0);
    assert_eq!(to, addr(TRUNK));
    // The phone's Contact (and a Record-Route) name other addresses, as behind NAT.
    let d = feed(
        &mut leg,
        reply(&invite, 200, true, &["<sip:192.0.2.50:5070;lr>"]),
        t0,
    );
    let (ack, to) = &d.sent[0];
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.uri,
        format!("sip:gw@{CONTACT}"),
        "the target is still the Contact"
    );
    assert_eq!(*to, addr(TRUNK), "but it goes where the REGISTER came from");
    leg.hangup(t0);
    let d = drain(&mut leg);
    assert_eq!(d.sent[0].0.method, Method::Bye);
    assert_eq!(d.sent[0].1, addr(TRUNK));
}

#[test]
fn answered_call_acks_follows_the_route_set_and_byes() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    let rr = ["<sip:p2.example;lr>", "<sip:192.0.2.50:5070;lr>"];
    let d = feed(&mut leg, reply(&invite, 200, true, &rr), t0);
    assert!(matches!(&d.events[..], [LegEvent::Answered(m)] if m.payload_types == vec![0, 101]));
    let (ack, to) = &d.sent[0];
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, format!("sip:gw@{CONTACT}"));
    assert_eq!(
        *to,
        addr("192.0.2.50:5070"),
        "first route of the reversed Record-Route"
    );
    let routes: Vec<&str> = ack.headers.get_all("Route").collect();
    assert_eq!(routes, vec![rr[1], rr[0]]);
    assert_ne!(branch(ack), branch(&invite));
    assert_eq!(cseq(ack), (1, Method::Ack));
    // The ACK is resent for a retransmitted 200, identically.
    let again = feed(&mut leg, reply(&invite, 200, true, &rr), t0);
    assert_eq!(again.sent[0].0, *ack);
    assert!(again.events.is_empty());

    leg.hangup(t0);
    let d = drain(&mut leg);
    let (bye, _) = &d.sent[0];
    assert_eq!(
        (bye.method.clone(), bye.uri.clone()),
        (Method::Bye, format!("sip:gw@{CONTACT}"))
    );
    assert_eq!(cseq(bye), (2, Method::Bye));
    assert_eq!(
        Message::Request(bye.clone()).to_tag().as_deref(),
        Some("trunk-tag")
    );
    let d = feed(&mut leg, reply(bye, 200, false, &[]), t0);
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }]
    );
}

#[test]
fn bye_without_answer_times_out_with_timer_f() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    feed(&mut leg, reply(&invite, 200, true, &[]), t0);
    leg.hangup(t0);
    let mut sends = 0;
    let mut now = t0;
    let mut events = Vec::new();
    for _ in 0..50 {
        let d = drain(&mut leg);
        sends += d.sent.len();
        events.extend(d.events);
        if !events.is_empty() {
            break;
        }
        now = d.timeout.expect("timer");
        leg.handle_timeout(now);
    }
    assert_eq!(now - t0, Duration::from_secs(32));
    // 0.5, 1.5, 3.5, 7.5, then every 4 s (T2) up to 31.5: 11 sends incl. the first.
    assert_eq!(sends, 11);
    assert_eq!(
        events,
        vec![LegEvent::Ended {
            reason: EndReason::HangupLocal,
            status: None
        }]
    );
}

#[test]
fn bye_from_the_trunk_is_answered_and_ends_the_call() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    feed(&mut leg, reply(&invite, 200, true, &[]), t0);
    let from_hdr = invite.headers.get("From").expect("from");
    let mut bye = Request::new(Method::Bye, "sip:c2c@198.51.100.2:5060");
    bye.headers
        .push("Via", "SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bKremote");
    bye.headers
        .push("From", "<sip:+15550100@192.0.2.1>;tag=trunk-tag");
    bye.headers.push("To", from_hdr);
    bye.headers.push("Call-ID", leg.call_id());
    bye.headers.push("CSeq", "7 BYE");
    leg.handle_datagram(Message::Request(bye.clone()), addr(CONTACT), t0);
    let d = drain(&mut leg);
    let (resp, to) = &d.responses[0];
    assert_eq!((resp.status(), *to), (Some(200), addr(CONTACT)));
    assert_eq!(resp.top_via_branch().as_deref(), Some("z9hG4bKremote"));
    assert_eq!(resp.cseq().map(|c| c.number), Some(7));
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::HangupRemote,
            status: None
        }]
    );
    // A BYE with the wrong tags belongs to no dialog of ours.
    bye.headers.remove("From");
    bye.headers.push("From", "<sip:x@y>;tag=other");
    leg.handle_datagram(Message::Request(bye), addr(CONTACT), t0);
    assert_eq!(drain(&mut leg).responses[0].0.status(), Some(481));
}

fn challenge(invite: &Request, status: u16, header: &str, value: &str) -> Message {
    let Message::Response(mut resp) = reply(invite, status, false, &[]) else {
        panic!("response")
    };
    resp.headers.push(header, value);
    Message::Response(resp)
}

#[test]
fn digest_challenge_is_acked_and_answered_once() {
    let t0 = Instant::now();
    let mut p = params();
    p.trunk.username = Some("acct".into());
    p.trunk.password = Some("secret".into());
    let mut leg = TrunkLeg::new(p, t0).expect("leg");
    let (invite, _) = drain(&mut leg).sent.remove(0);
    let www = "Digest realm=\"trunk\", nonce=\"n1\", qop=\"auth\", algorithm=SHA-256";
    let d = feed(
        &mut leg,
        challenge(&invite, 401, "WWW-Authenticate", www),
        t0,
    );
    assert!(
        d.events.is_empty(),
        "a challenge is not the end of the call"
    );
    let methods: Vec<Method> = d.sent.iter().map(|(r, _)| r.method.clone()).collect();
    assert_eq!(methods, vec![Method::Ack, Method::Invite]);
    assert_eq!(
        branch(&d.sent[0].0),
        branch(&invite),
        "ACK in the challenged transaction"
    );
    let retry = &d.sent[1].0;
    assert_ne!(branch(retry), branch(&invite));
    assert_eq!(cseq(retry), (2, Method::Invite));
    let auth = retry.headers.get("Authorization").expect("credentials");
    assert!(
        auth.starts_with("Digest username=\"acct\", realm=\"trunk\", nonce=\"n1\""),
        "{auth}"
    );
    assert!(auth.contains("algorithm=SHA-256") && auth.contains("qop=auth, nc=00000001"));
    assert_eq!(retry.headers.get("From"), invite.headers.get("From"));
    // The old challenge, retransmitted, is ACKed again without a new INVITE.
    let d = feed(
        &mut leg,
        challenge(&invite, 401, "WWW-Authenticate", www),
        t0,
    );
    assert_eq!(d.sent.len(), 1);
    assert_eq!(d.sent[0].0.method, Method::Ack);
    // A second challenge to the credentials means they are wrong: the call ends.
    let d = feed(
        &mut leg,
        challenge(retry, 407, "Proxy-Authenticate", www),
        t0,
    );
    assert_eq!(
        d.sent
            .iter()
            .filter(|(r, _)| r.method == Method::Invite)
            .count(),
        0
    );
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::Failed,
            status: Some(407)
        }]
    );
}

#[test]
fn challenge_without_credentials_ends_the_call() {
    let t0 = Instant::now();
    let (mut leg, invite) = start(t0);
    let www = "Digest realm=\"trunk\", nonce=\"n1\"";
    let d = feed(
        &mut leg,
        challenge(&invite, 401, "WWW-Authenticate", www),
        t0,
    );
    assert_eq!(d.sent.len(), 1, "only the ACK");
    assert_eq!(
        d.events,
        vec![LegEvent::Ended {
            reason: EndReason::Failed,
            status: Some(401)
        }]
    );
}
