//! The registrar driven with virtual time and REGISTERs as a phone would send them.

use super::*;
use crate::digest::{self, Answer, Challenge};
use crate::sip::{parse_message, Message};

const DOMAIN: &str = "c2c.example";

fn credential(user: &str, password: &str) -> AgentCredential {
    let realm = RegistrarConfig::default().realm;
    AgentCredential {
        agent: AgentRef {
            org: "acme".into(),
            agent: format!("agent-{user}"),
            username: user.into(),
        },
        ha1_md5: digest::ha1(Algorithm::Md5, user, &realm, password),
        ha1_sha256: digest::ha1(Algorithm::Sha256, user, &realm, password),
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("addr")
}

/// A phone: one AoR, one Call-ID, a CSeq that goes up, and its password.
struct Phone {
    user: String,
    password: String,
    call_id: String,
    cseq: u32,
    at: SocketAddr,
    prefer_md5: bool,
}

impl Phone {
    fn new(user: &str, password: &str, at: &str) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
            call_id: format!("reg-{user}-{at}"),
            cseq: 0,
            at: addr(at),
            prefer_md5: false,
        }
    }

    /// A REGISTER with `headers` (Contact, Expires …) and, when given, the answer to `ch`.
    fn register(&mut self, headers: &[(&str, String)], ch: Option<&Challenge>) -> Request {
        self.cseq += 1;
        let mut text = format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {};branch=z9hG4bK{}x{}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{}@{DOMAIN}>;tag=ft1\r\n\
             To: <sip:{}@{DOMAIN}>\r\n\
             Call-ID: {}\r\n\
             CSeq: {} REGISTER\r\n",
            self.at, self.cseq, self.user, self.user, self.user, self.call_id, self.cseq
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(ch) = ch {
            let answer = Answer {
                username: &self.user,
                password: &self.password,
                method: "REGISTER",
                uri: &format!("sip:{DOMAIN}"),
                cnonce: "c0ffee",
                nc: 1,
            };
            text.push_str(&format!(
                "Authorization: {}\r\n",
                digest::credentials(ch, &answer)
            ));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match parse_message(text.as_bytes()).expect("a valid REGISTER") {
            Message::Request(req) => req,
            Message::Response(_) => unreachable!("built a request"),
        }
    }

    /// Registers `headers` the way a phone does: unauthenticated, then answering the 401.
    fn sign_in(
        &mut self,
        reg: &mut Registrar,
        headers: &[(&str, String)],
        now: Instant,
    ) -> Response {
        let first = reg.handle(&self.register(headers, None), self.at, Transport::Udp, now);
        assert_eq!(first.status, 401, "{first:?}");
        let ch = self.pick(&first);
        let req = self.register(headers, Some(&ch));
        reg.handle(&req, self.at, Transport::Udp, now)
    }

    fn pick(&self, resp: &Response) -> Challenge {
        let offers: Vec<Challenge> = resp
            .headers
            .get_all("WWW-Authenticate")
            .map(|v| Challenge::parse(v).expect("our challenge parses"))
            .collect();
        assert_eq!(offers.len(), 2, "SHA-256 and MD5 offered");
        assert_eq!(offers[0].algorithm, Algorithm::Sha256, "SHA-256 first");
        let want = if self.prefer_md5 {
            Algorithm::Md5
        } else {
            Algorithm::Sha256
        };
        offers
            .into_iter()
            .find(|c| c.algorithm == want)
            .expect("offered")
    }
}

fn contact(uri: &str) -> (&'static str, String) {
    ("Contact", format!("<{uri}>"))
}

fn expires(s: u32) -> (&'static str, String) {
    ("Expires", s.to_string())
}

fn registrar(now: Instant) -> Registrar {
    let mut reg = Registrar::new(RegistrarConfig::default(), &[9; 32], now);
    reg.set_credentials([
        credential("alice", "wonder-land"),
        credential("bob", "builder"),
    ]);
    reg
}

/// alice's desk phone, bound at `now`.
fn bound_alice(reg: &mut Registrar, now: Instant) -> Phone {
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let ok = alice.sign_in(reg, &[contact("sip:alice@192.0.2.10")], now);
    assert_eq!(ok.status, 200, "{ok:?}");
    alice
}

fn contacts_of(resp: &Response) -> Vec<String> {
    resp.headers.get_all("Contact").map(str::to_owned).collect()
}

#[test]
fn a_phone_registers_with_either_hash_refreshes_and_lapses_on_time() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5062");
    let ok = alice.sign_in(
        &mut reg,
        &[contact("sip:alice@10.0.0.5:5060"), expires(120)],
        t0,
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(contacts_of(&ok), ["<sip:alice@10.0.0.5:5060>;expires=120"]);
    let bound = &reg.bindings("alice")[0];
    assert_eq!(
        bound.source,
        addr("192.0.2.10:5062"),
        "reached where the packet came from, not the private Contact"
    );
    assert!(matches!(reg.poll_change(), Some(Change::Bound { .. })));
    assert_eq!(reg.next_timeout(), Some(t0 + Duration::from_secs(120)));

    let mut bob = Phone::new("bob", "builder", "192.0.2.11:5060");
    bob.prefer_md5 = true;
    let ok = bob.sign_in(&mut reg, &[contact("sip:bob@192.0.2.11")], t0);
    assert_eq!(ok.status, 200, "MD5 works too: {ok:?}");
    assert_eq!(
        contacts_of(&ok),
        ["<sip:bob@192.0.2.11>;expires=3600"],
        "no Expires: the default"
    );

    // Refreshed at 100 s, so still there at 130 s; gone at 100 + 120 s.
    let t1 = t0 + Duration::from_secs(100);
    let ok = alice.sign_in(
        &mut reg,
        &[contact("sip:alice@10.0.0.5:5060"), expires(120)],
        t1,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        reg.next_timeout(),
        Some(t1 + Duration::from_secs(120)),
        "the refresh moved the lapse, leaving no stale timer"
    );
    reg.handle_timeout(t0 + Duration::from_secs(130));
    assert_eq!(reg.bindings("alice").len(), 1);
    while reg.poll_change().is_some() {}
    reg.handle_timeout(t1 + Duration::from_secs(120));
    assert!(reg.bindings("alice").is_empty());
    assert_eq!(
        reg.poll_change(),
        Some(Change::Unbound {
            agent: credential("alice", "").agent,
            contact: "sip:alice@10.0.0.5:5060".into(),
            why: Unbound::Expired,
        })
    );
    assert_eq!(reg.binding_count(), 1, "bob's binding lives on");
    assert_eq!(reg.next_timeout(), Some(t0 + Duration::from_secs(3600)));
}

#[test]
fn several_bindings_then_one_removed_then_all_by_wildcard() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut desk = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let ok = desk.sign_in(
        &mut reg,
        &[
            (
                "Contact",
                "<sip:alice@192.0.2.10>;expires=600, <sip:alice@192.0.2.10;line=2>".into(),
            ),
            expires(300),
        ],
        t0,
    );
    assert_eq!(
        contacts_of(&ok),
        [
            "<sip:alice@192.0.2.10>;expires=600",
            "<sip:alice@192.0.2.10;line=2>;expires=300"
        ]
    );
    let mut mobile = Phone::new("alice", "wonder-land", "198.51.100.7:40000");
    let ok = mobile.sign_in(&mut reg, &[contact("sip:alice@198.51.100.7:40000")], t0);
    assert_eq!(contacts_of(&ok).len(), 3, "every current binding is listed");
    // A query (no Contact) lists them and changes nothing.
    let ok = mobile.sign_in(&mut reg, &[], t0);
    assert_eq!(contacts_of(&ok).len(), 3);
    let ok = desk.sign_in(
        &mut reg,
        &[contact("sip:alice@192.0.2.10;line=2"), expires(0)],
        t0,
    );
    assert_eq!(contacts_of(&ok).len(), 2);
    let refused = desk.sign_in(&mut reg, &[("Contact", "*".into()), expires(60)], t0);
    assert_eq!(
        (refused.status, refused.reason.as_str()),
        (400, "Invalid Wildcard Contact")
    );
    let ok = desk.sign_in(&mut reg, &[("Contact", "*".into()), expires(0)], t0);
    assert_eq!(ok.status, 200);
    assert!(contacts_of(&ok).is_empty());
    assert_eq!(reg.binding_count(), 0);
}

#[test]
fn expires_bounds_min_expires_and_the_cap() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let brief = alice.sign_in(
        &mut reg,
        &[contact("sip:alice@192.0.2.10"), expires(30)],
        t0,
    );
    assert_eq!(brief.status, 423);
    assert_eq!(brief.headers.get("Min-Expires"), Some("60"));
    assert_eq!(
        reg.binding_count(),
        0,
        "nothing bound by a refused REGISTER"
    );
    let capped = alice.sign_in(
        &mut reg,
        &[("Contact", "<sip:alice@192.0.2.10>;expires=86400".into())],
        t0,
    );
    assert_eq!(
        contacts_of(&capped),
        ["<sip:alice@192.0.2.10>;expires=3600"]
    );
}

#[test]
fn a_register_older_than_the_binding_is_refused() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let ok = alice.sign_in(&mut reg, &[contact("sip:alice@192.0.2.10")], t0);
    assert_eq!(ok.status, 200);
    let query = alice.register(&[], None);
    let ch = alice.pick(&reg.handle(&query, alice.at, Transport::Udp, t0));
    alice.cseq -= 3; // a delayed retransmission of an earlier REGISTER
    let old = alice.register(&[contact("sip:alice@192.0.2.10"), expires(0)], Some(&ch));
    let resp = reg.handle(&old, alice.at, Transport::Udp, t0);
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (400, "CSeq Out of Order")
    );
    assert_eq!(reg.binding_count(), 1, "the newer binding stands");
}

#[test]
fn every_failure_looks_the_same_and_backs_off_per_user_and_per_source() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let attacker = "203.0.113.66:5060";
    let wrong = |user: &str| Phone::new(user, "guess", attacker);
    // A wrong password, an unknown user, and someone else's name in the digest.
    let mut answers = Vec::new();
    for mut phone in [wrong("alice"), wrong("nobody")] {
        let resp = phone.sign_in(&mut reg, &[contact("sip:x@203.0.113.66")], t0);
        answers.push(resp);
    }
    let mut impostor = Phone::new("alice", "builder", attacker);
    let first = reg.handle(
        &impostor.register(&[], None),
        impostor.at,
        Transport::Udp,
        t0,
    );
    let ch = impostor.pick(&first);
    impostor.user = "bob".into(); // bob's valid digest presented for alice's AoR
    let mut req = impostor.register(&[], Some(&ch));
    req.headers.set("To", format!("<sip:alice@{DOMAIN}>"));
    answers.push(reg.handle(&req, impostor.at, Transport::Udp, t0));
    for resp in &answers {
        assert_eq!((resp.status, resp.reason.as_str()), (401, "Unauthorized"));
        let offers: Vec<Challenge> = resp
            .headers
            .get_all("WWW-Authenticate")
            .filter_map(|v| Challenge::parse(v).ok())
            .collect();
        assert_eq!(offers.len(), 2);
        assert!(
            offers.iter().all(|c| !c.stale),
            "a wrong answer is not 'stale'"
        );
    }
    // alice has had 2 failures; 3 more and her allowance (5) is spent.
    for _ in 0..3 {
        let resp = wrong("alice").sign_in(&mut reg, &[], t0 + Duration::from_secs(1));
        assert_eq!(resp.status, 401);
    }
    let mut from_elsewhere = Phone::new("alice", "wonder-land", "198.51.100.20:5060");
    let blocked = reg.handle(
        &from_elsewhere.register(&[], None),
        from_elsewhere.at,
        Transport::Udp,
        t0 + Duration::from_secs(2),
    );
    assert_eq!(
        blocked.status, 403,
        "alice backs off, even with the right password"
    );
    assert!(blocked.headers.get("Retry-After").is_some());
    // bob is not affected from a clean address; the attacker's address is (10 failures: 6
    // so far, 4 more on other names spend it).
    let mut bob = Phone::new("bob", "builder", "198.51.100.21:5060");
    assert_eq!(bob.sign_in(&mut reg, &[], t0).status, 200);
    for n in 0..4 {
        let resp = wrong(&format!("u{n}")).sign_in(&mut reg, &[], t0 + Duration::from_secs(3));
        assert_eq!(resp.status, 401);
    }
    let resp = reg.handle(
        &wrong("carol").register(&[], None),
        addr(attacker),
        Transport::Udp,
        t0 + Duration::from_secs(3),
    );
    assert_eq!(resp.status, 403, "the source backs off for every user");
    // Back-off ends: 30 s gives alice one more try, and the right password gets in.
    let later = t0 + Duration::from_secs(40);
    assert_eq!(from_elsewhere.sign_in(&mut reg, &[], later).status, 200);
}

#[test]
fn a_bound_device_is_not_locked_out_by_guesses_from_elsewhere() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = bound_alice(&mut reg, t0);
    for n in 0..8 {
        let mut guess = Phone::new("alice", "guess", &format!("203.0.113.{n}:5060"));
        let first = reg.handle(&guess.register(&[], None), guess.at, Transport::Udp, t0);
        if first.status == 401 {
            let ch = guess.pick(&first);
            let _ = reg.handle(
                &guess.register(&[], Some(&ch)),
                guess.at,
                Transport::Udp,
                t0,
            );
        }
    }
    let refresh = alice.sign_in(&mut reg, &[contact("sip:alice@192.0.2.10")], t0);
    assert_eq!(refresh.status, 200, "her own phone still refreshes");
}

#[test]
fn nonces_are_bound_to_the_address_and_expire_as_stale() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let first = reg.handle(&alice.register(&[], None), alice.at, Transport::Udp, t0);
    let ch = alice.pick(&first);
    let signed = alice.register(&[contact("sip:alice@192.0.2.10")], Some(&ch));
    // Replayed from another address: a plain new challenge, nothing bound, not a failure.
    let replay = reg.handle(&signed, addr("203.0.113.9:5060"), Transport::Udp, t0);
    assert_eq!(replay.status, 401);
    assert_eq!(reg.binding_count(), 0);
    // Answered after the nonce's lifetime: stale=true, so the phone retries at once.
    let late = reg.handle(
        &signed,
        alice.at,
        Transport::Udp,
        t0 + Duration::from_secs(301),
    );
    assert_eq!(late.status, 401);
    assert!(alice.pick(&late).stale);
    assert_eq!(reg.binding_count(), 0);
}

#[test]
fn new_credentials_sign_devices_out_and_closed_flows_unbind() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    bound_alice(&mut reg, t0);
    let mut bob = Phone::new("bob", "builder", "192.0.2.11:5060");
    let first = reg.handle(&bob.register(&[], None), bob.at, Transport::Tcp, t0);
    let ch = bob.pick(&first);
    let req = bob.register(&[contact("sip:bob@192.0.2.11;transport=tcp")], Some(&ch));
    assert_eq!(reg.handle(&req, bob.at, Transport::Tcp, t0).status, 200);
    while reg.poll_change().is_some() {}
    reg.set_credentials([
        credential("alice", "new-password"),
        credential("bob", "builder"),
    ]);
    assert!(reg.bindings("alice").is_empty());
    assert_eq!(
        reg.bindings("bob").len(),
        1,
        "bob's credentials did not change"
    );
    assert!(matches!(
        reg.poll_change(),
        Some(Change::Unbound {
            why: Unbound::CredentialsGone,
            ..
        })
    ));
    reg.flow_closed(bob.at);
    assert!(reg.bindings("bob").is_empty());
    assert!(matches!(
        reg.poll_change(),
        Some(Change::Unbound {
            why: Unbound::FlowClosed,
            ..
        })
    ));
    assert_eq!(reg.binding_count(), 0);
    assert_eq!(reg.next_timeout(), None, "no timer outlives its binding");
}

#[test]
fn too_many_bindings_are_refused_whole() {
    let t0 = Instant::now();
    let mut reg = Registrar::new(
        RegistrarConfig {
            max_bindings: 2,
            ..RegistrarConfig::default()
        },
        &[1; 32],
        t0,
    );
    reg.set_credentials([credential("alice", "wonder-land")]);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let three = (
        "Contact",
        "<sip:a@192.0.2.1>, <sip:a@192.0.2.2>, <sip:a@192.0.2.3>".into(),
    );
    let resp = alice.sign_in(&mut reg, &[three], t0);
    assert_eq!(resp.status, 403);
    assert_eq!(reg.binding_count(), 0);
}

#[test]
fn malformed_registers_get_the_right_refusal() {
    let t0 = Instant::now();
    let mut reg = registrar(t0);
    let mut alice = Phone::new("alice", "wonder-land", "192.0.2.10:5060");
    let mut no_user = alice.register(&[], None);
    no_user.headers.set("To", format!("<sip:{DOMAIN}>"));
    assert_eq!(
        reg.handle(&no_user, alice.at, Transport::Udp, t0).status,
        404
    );
    let mut tel = alice.register(&[], None);
    tel.uri = "tel:+15550100".into();
    assert_eq!(reg.handle(&tel, alice.at, Transport::Udp, t0).status, 416);
    let required = alice.register(&[("Require", "gruu".into())], None);
    let resp = reg.handle(&required, alice.at, Transport::Udp, t0);
    assert_eq!(resp.status, 420);
    assert_eq!(resp.headers.get("Unsupported"), Some("gruu"));
    let bad = alice.sign_in(
        &mut reg,
        &[contact("sip:alice@h"), ("Expires", "soon".into())],
        t0,
    );
    assert_eq!((bad.status, bad.reason.as_str()), (400, "Bad Expires"));
}

#[test]
fn a_device_bound_over_udp_is_pinged_and_unbound_once_it_stops_answering() {
    let t0 = Instant::now();
    let every = Duration::from_secs(30);
    let mut reg = registrar(t0).ping_from(addr("192.0.2.2:5060"), every);
    bound_alice(&mut reg, t0);
    while reg.poll_change().is_some() {}
    assert_eq!(
        reg.next_timeout(),
        Some(t0 + every),
        "the first ping, before any lapse"
    );
    // It answers the first ping: it stays.
    reg.handle_timeout(t0 + every);
    let (ping, to) = reg.poll_transmit().expect("a ping");
    assert_eq!(to, addr("192.0.2.10:5060"), "where its REGISTER came from");
    let Ok(Message::Request(req)) = crate::sip::parse_message(&ping) else {
        panic!("a ping is a request");
    };
    assert_eq!(req.method, crate::sip::Method::Options);
    let ok = Message::Response(response_to(&req, 200, "OK", Some("p")));
    assert!(reg.handle_response(&ok));
    // Then silence, twice: unbound as unreachable.
    for n in 2..=3 {
        reg.handle_timeout(t0 + every * n);
        assert!(reg.poll_transmit().is_some(), "ping {n}");
        reg.handle_timeout(t0 + every * n + ANSWER_WAIT);
    }
    assert!(reg.bindings("alice").is_empty());
    assert_eq!(
        reg.poll_change(),
        Some(Change::Unbound {
            agent: credential("alice", "").agent,
            contact: "sip:alice@192.0.2.10".into(),
            why: Unbound::Unreachable,
        })
    );
    assert_eq!(reg.next_timeout(), None, "no lapse or ping left behind");
}
