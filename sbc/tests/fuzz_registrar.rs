//! Property tests of the registrar: every RFC 4475/5118 torture message turned into a
//! REGISTER, arbitrary UTF-8 in each header a REGISTER carries, and mutations of a signed
//! REGISTER never panic it, and every answer is a well-formed SIP response it is allowed to
//! give. Bounded so they run in seconds inside `cargo test`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use c2c_sbc::digest::{self, Algorithm, Answer, Challenge};
use c2c_sbc::registrar::{AgentCredential, AgentRef, Registrar, RegistrarConfig};
use c2c_sbc::sip::{parse_message, Message, Request};
use c2c_sbc::trunk::Transport;
use proptest::prelude::*;

const PHONE: &str = "192.0.2.10:5060";
/// Statuses the registrar may answer with.
const ALLOWED: &[u16] = &[200, 400, 401, 403, 404, 416, 420, 423];

fn registrar(now: Instant) -> Registrar {
    let mut reg = Registrar::new(RegistrarConfig::default(), &[3; 32], now);
    let realm = reg.realm().to_owned();
    reg.set_credentials([AgentCredential {
        agent: AgentRef {
            org: "acme".into(),
            agent: "a1".into(),
            username: "alice".into(),
        },
        ha1_md5: digest::ha1(Algorithm::Md5, "alice", &realm, "pw"),
        ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", &realm, "pw"),
    }]);
    reg
}

fn request(text: &str) -> Option<Request> {
    match parse_message(text.as_bytes()) {
        Ok(Message::Request(req)) => Some(req),
        _ => None,
    }
}

/// Feeds `req` (and, when it is challenged, its signed retry) and checks each answer.
fn feed(reg: &mut Registrar, req: &Request, now: Instant) {
    let from: SocketAddr = PHONE.parse().expect("addr");
    let resp = reg.handle(req, from, Transport::Udp, now);
    assert!(ALLOWED.contains(&resp.status), "status {}", resp.status);
    let bytes = Message::Response(resp.clone()).to_bytes();
    assert!(parse_message(&bytes).is_ok(), "our answer parses back");
    if resp.status != 401 {
        return;
    }
    let Some(ch) = Challenge::pick(resp.headers.get_all("WWW-Authenticate")) else {
        panic!("a 401 carries a challenge we can answer");
    };
    let answer = Answer {
        username: "alice",
        password: "pw",
        method: "REGISTER",
        uri: &req.uri,
        cnonce: "cn",
        nc: 1,
    };
    let mut signed = req.clone();
    signed
        .headers
        .push("Authorization", digest::credentials(&ch, &answer));
    let resp = reg.handle(&signed, from, Transport::Udp, now);
    assert!(ALLOWED.contains(&resp.status), "status {}", resp.status);
    assert!(parse_message(&Message::Response(resp).to_bytes()).is_ok());
    reg.handle_timeout(now + Duration::from_secs(7200));
    while reg.poll_change().is_some() {}
}

/// The torture corpus with each request's method (start line and CSeq) made REGISTER.
fn torture_as_register() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip-torture");
    let mut files = Vec::new();
    let mut dirs = vec![root.join("rfc4475"), root.join("rfc5118")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).expect("the torture corpus is in the repo") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for path in files {
        let bytes = std::fs::read(path).expect("read");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let Some((first, rest)) = text.split_once(' ') else {
            continue;
        };
        if first.starts_with("SIP/") {
            continue;
        }
        let rest = rest
            .replace(&format!(" {first}\r\n"), " REGISTER\r\n")
            .replace(&format!(" {first}\n"), " REGISTER\n");
        out.push(format!("REGISTER {rest}"));
    }
    out
}

#[test]
fn torture_messages_as_registers_never_crash_it() {
    let now = Instant::now();
    let mut reg = registrar(now);
    let cases = torture_as_register();
    assert!(
        cases.len() > 30,
        "the corpus was found ({} requests)",
        cases.len()
    );
    let mut handled = 0;
    for text in &cases {
        if let Some(req) = request(text) {
            feed(&mut reg, &req, now);
            handled += 1;
        }
    }
    assert!(
        handled > 10,
        "some torture REGISTERs parse and reach it ({handled})"
    );
}

fn register(to: &str, contact: &str, expires: &str, extra: &str) -> String {
    format!(
        "REGISTER sip:c2c.example SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKp1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@c2c.example>;tag=1\r\nTo: {to}\r\n\
         Call-ID: prop\r\nCSeq: 7 REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_utf8_in_each_header_never_panics(
        to in "\\PC{0,40}",
        contact in "\\PC{0,60}",
        expires in "\\PC{0,12}",
        auth in "\\PC{0,120}",
    ) {
        let now = Instant::now();
        let mut reg = registrar(now);
        let extra = format!("Authorization: Digest {auth}\r\n");
        for text in [
            register(&to, &contact, &expires, ""),
            register("<sip:alice@c2c.example>", &contact, &expires, &extra),
            register("<sip:alice@c2c.example>", &format!("<sip:alice@{contact}>"), "60", ""),
        ] {
            if let Some(req) = request(&text) {
                feed(&mut reg, &req, now);
            }
        }
    }

    #[test]
    fn cut_and_spliced_registers_never_panic(at in 0usize..400, junk in "\\PC{0,16}") {
        let now = Instant::now();
        let mut reg = registrar(now);
        let text = register("<sip:alice@c2c.example>", "<sip:alice@192.0.2.10>;expires=120", "60", "");
        let chars: Vec<char> = text.chars().collect();
        let at = at.min(chars.len());
        let spliced: String = chars[..at].iter().collect::<String>() + &junk
            + &chars[at..].iter().collect::<String>();
        if let Some(req) = request(&spliced) {
            feed(&mut reg, &req, now);
        }
    }
}
