//! Ingress screening with virtual time and no sockets.

use std::time::Duration;

use super::*;

const TRUNK: &str = "192.0.2.1:5060";
const STRANGER: &str = "203.0.113.9:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn ingress(untrusted: UntrustedPolicy) -> Ingress {
    let mut i = Ingress::new(IngressConfig {
        untrusted,
        ..IngressConfig::default()
    });
    i.trust(addr(TRUNK).ip());
    i
}

fn options(extra: &str) -> String {
    format!(
        "OPTIONS sip:c2c@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo1\r\n\
         From: <sip:t@192.0.2.1>;tag=a\r\nTo: <sip:c2c@192.0.2.2>\r\nCall-ID: o1\r\n\
         CSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn status(s: &Screened) -> Option<u16> {
    match s {
        Screened::Reply(bytes) => std::str::from_utf8(bytes.get(8..11)?).ok()?.parse().ok(),
        _ => None,
    }
}

#[test]
fn strangers_are_dropped_or_forbidden_by_policy() {
    let now = Instant::now();
    let msg = options("");
    let mut drop = ingress(UntrustedPolicy::Drop);
    assert_eq!(
        drop.screen(msg.as_bytes(), addr(STRANGER), now, |_| false),
        Screened::Drop("untrusted source")
    );
    let mut forbid = ingress(UntrustedPolicy::Forbidden);
    assert_eq!(
        status(&forbid.screen(msg.as_bytes(), addr(STRANGER), now, |_| false)),
        Some(403)
    );
    assert!(forbid.admits_connection(addr(STRANGER).ip()));
    assert!(!drop.admits_connection(addr(STRANGER).ip()));
    // The trunk, on any port and as an IPv4-mapped IPv6 address, is trusted.
    assert!(matches!(
        drop.screen(msg.as_bytes(), addr("[::ffff:192.0.2.1]:7000"), now, |_| {
            false
        }),
        Screened::Request(_)
    ));
}

#[test]
fn malformed_requests_get_the_rfc_status() {
    let now = Instant::now();
    let mut i = ingress(UntrustedPolicy::Drop);
    let from = addr(TRUNK);
    let ok = options("");
    let cases = [
        (ok.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"), Some(505)),
        (ok.replace("1 OPTIONS", "1 INVITE"), Some(400)),
        (
            ok.replace("OPTIONS sip", "FOO sip")
                .replace("1 OPTIONS", "1 BAR"),
            Some(501),
        ),
        (
            ok.replace("OPTIONS sip", "FOO sip")
                .replace("1 OPTIONS", "1 FOO"),
            Some(501),
        ),
        (
            ok.replace("Content-Length: 0", "Content-Length: 10"),
            Some(400),
        ),
        (ok.replace("z9hG4bKo1", "z9hG4bK"), Some(400)),
        (
            options(&format!("X-Big: {}\r\n", "a".repeat(20_000))),
            Some(513),
        ),
        (
            ok.replace("Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKo1\r\n", ""),
            None,
        ),
        ("SIP/2.0 99999 Huge\r\nVia: x\r\n\r\n".into(), None),
        ("\r\n\r\n".into(), None),
    ];
    for (text, expected) in cases {
        let got = i.screen(text.as_bytes(), from, now, |_| false);
        assert_eq!(
            status(&got),
            expected,
            "{}",
            text.lines().next().unwrap_or_default()
        );
    }
}

#[test]
fn identity_headers_never_reach_call_logic() {
    let now = Instant::now();
    let mut i = ingress(UntrustedPolicy::Drop);
    let msg = options("P-Asserted-Identity: <sip:+1@x>\r\ny: abc\r\nX-C2C-Session: forged\r\n");
    let Screened::Request(req) = i.screen(msg.as_bytes(), addr(TRUNK), now, |_| false) else {
        panic!("delivered")
    };
    assert!(req.headers.iter().all(|(n, _)| !is_identity_header(n)));
}

#[test]
fn floods_are_cut_by_the_rate_limit() {
    let t0 = Instant::now();
    let mut i = Ingress::new(IngressConfig {
        untrusted: UntrustedPolicy::Forbidden,
        untrusted_rate: RateLimit {
            per_second: 1.0,
            burst: 2.0,
        },
        ..IngressConfig::default()
    });
    let msg = options("");
    let from = addr(STRANGER);
    assert_eq!(
        status(&i.screen(msg.as_bytes(), from, t0, |_| false)),
        Some(403)
    );
    assert_eq!(
        status(&i.screen(msg.as_bytes(), from, t0, |_| false)),
        Some(403)
    );
    assert_eq!(
        i.screen(msg.as_bytes(), from, t0, |_| false),
        Screened::Drop("rate limit")
    );
    let later = t0 + Duration::from_secs(1);
    assert_eq!(
        status(&i.screen(msg.as_bytes(), from, later, |_| false)),
        Some(403)
    );
}

#[test]
fn a_trunk_flood_spends_only_what_could_start_something() {
    let t0 = Instant::now();
    let mut i = Ingress::new(IngressConfig {
        trusted_rate: RateLimit {
            per_second: 1.0,
            burst: 2.0,
        },
        ..IngressConfig::default()
    });
    i.trust(addr(TRUNK).ip());
    let from = addr(TRUNK);
    let held = |id: &str| id == "up";
    let new_request = options("");
    let in_call = new_request.replace("Call-ID: o1", "Call-ID: up");
    let bad_version = new_request.replacen("SIP/2.0", "SIP/3.0", 1);
    let response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKx\r\n\
                    From: <sip:c2c@192.0.2.2>;tag=b\r\nTo: <sip:t@192.0.2.1>;tag=a\r\n\
                    Call-ID: up\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    // A malformed message earns a reply, so it spends a token like a new request does.
    assert_eq!(
        status(&i.screen(bad_version.as_bytes(), from, t0, held)),
        Some(505)
    );
    assert!(matches!(
        i.screen(new_request.as_bytes(), from, t0, held),
        Screened::Request(_)
    ));
    assert_eq!(
        i.screen(new_request.as_bytes(), from, t0, held),
        Screened::Drop("rate limit")
    );
    assert_eq!(
        i.screen(bad_version.as_bytes(), from, t0, held),
        Screened::Drop("rate limit")
    );
    // The bucket is empty, yet the calls we hold still hear from their trunk.
    for _ in 0..100 {
        assert!(matches!(
            i.screen(in_call.as_bytes(), from, t0, held),
            Screened::Request(_)
        ));
        assert!(matches!(
            i.screen(response.as_bytes(), from, t0, held),
            Screened::Response(_)
        ));
        assert_eq!(
            i.screen(b"\r\n\r\n", from, t0, held),
            Screened::Drop("keep-alive")
        );
    }
    let later = t0 + Duration::from_secs(1);
    assert!(matches!(
        i.screen(new_request.as_bytes(), from, later, held),
        Screened::Request(_)
    ));
}

#[test]
fn out_of_dialog_answers_follow_rfc3261_order() {
    let now = Instant::now();
    let mut i = ingress(UntrustedPolicy::Drop);
    let answer = |i: &mut Ingress, text: &str| -> Option<u16> {
        match i.screen(text.as_bytes(), addr(TRUNK), now, |_| false) {
            Screened::Request(req) => answer_out_of_dialog(&req, "t").map(|r| r.status),
            other => status(&other),
        }
    };
    let invite = |extra: &str| {
        options(extra)
            .replace("OPTIONS sip", "INVITE sip")
            .replace("1 OPTIONS", "1 INVITE")
    };
    assert_eq!(answer(&mut i, &options("")), Some(200));
    assert_eq!(
        answer(&mut i, &options("Require: foo, 100rel\r\n")),
        Some(420)
    );
    assert_eq!(
        answer(
            &mut i,
            &options("").replace("sip:c2c@192.0.2.2 SIP", "urn:x SIP")
        ),
        Some(416)
    );
    assert_eq!(answer(&mut i, &invite("")), Some(403));
    assert_eq!(
        answer(&mut i, &invite("Replaces: a;to-tag=b;from-tag=c\r\n")),
        Some(403)
    );
    assert_eq!(answer(&mut i, &invite("Accept: text/plain\r\n")), Some(406));
    assert_eq!(
        answer(
            &mut i,
            &invite("").replace("<sip:c2c@192.0.2.2>\r\n", "<sip:c2c@192.0.2.2>;tag=x\r\n")
        ),
        Some(481)
    );
    let refer = options("")
        .replace("OPTIONS sip", "REFER sip")
        .replace("1 OPTIONS", "1 REFER");
    assert_eq!(answer(&mut i, &refer), Some(403));
    let register = options("")
        .replace("OPTIONS sip", "REGISTER sip")
        .replace("1 OPTIONS", "1 REGISTER");
    assert_eq!(answer(&mut i, &register), Some(405));
    let ack = options("")
        .replace("OPTIONS sip", "ACK sip")
        .replace("1 OPTIONS", "1 ACK");
    assert_eq!(answer(&mut i, &ack), None);
}

#[test]
fn agents_in_the_registrar_networks_are_let_in_under_their_own_rate() {
    let now = Instant::now();
    let mut i = Ingress::new(IngressConfig {
        agent_networks: Some(Networks::parse(&["198.51.100.0/24".into()]).expect("nets")),
        agent_rate: RateLimit {
            per_second: 1.0,
            burst: 3.0,
        },
        ..IngressConfig::default()
    });
    i.trust(addr(TRUNK).ip());
    let phone = addr("198.51.100.20:5062");
    let register = options("").replace("OPTIONS", "REGISTER");
    assert!(i.answers(phone.ip()));
    assert!(matches!(
        i.screen(register.as_bytes(), phone, now, |_| false),
        Screened::Request(_)
    ));
    // A malformed message from an agent gets the real status, as a trunk's would.
    let bad = options("").replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
    assert_eq!(
        status(&i.screen(bad.as_bytes(), phone, now, |_| false)),
        Some(400)
    );
    // Every message spends the agent source's tokens, even those of a known call.
    assert!(matches!(
        i.screen(register.as_bytes(), phone, now, |_| true),
        Screened::Request(_)
    ));
    assert_eq!(
        i.screen(register.as_bytes(), phone, now, |_| true),
        Screened::Drop("rate limit")
    );
    assert_eq!(
        i.screen(register.as_bytes(), addr(STRANGER), now, |_| false),
        Screened::Drop("untrusted source"),
        "outside the networks: a stranger"
    );
    let off = ingress(UntrustedPolicy::Drop);
    assert!(!off.answers(phone.ip()), "no registrar, no agents");
}

#[test]
fn a_trunk_inside_the_agent_networks_stays_a_trunk() {
    let now = Instant::now();
    let trunk = addr(TRUNK);
    let mut i = Ingress::new(IngressConfig {
        agent_networks: Some(Networks::parse(&[format!("{}/32", trunk.ip())]).expect("nets")),
        agent_rate: RateLimit {
            per_second: 1.0,
            burst: 1.0,
        },
        ..IngressConfig::default()
    });
    i.trust(trunk.ip());
    let bye = options("").replace("OPTIONS", "BYE");
    for _ in 0..20 {
        assert!(
            matches!(
                i.screen(bye.as_bytes(), trunk, now, |_| true),
                Screened::Request(_)
            ),
            "the trunk's in-call requests pass free, not under the agents' rate"
        );
    }
}
