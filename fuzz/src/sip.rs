//! `sip_datagram` and `sip_stream`: the SBC's SIP parser, serialiser, ingress screen and TCP
//! framer, everything a trunk's (or a stranger's) packet reaches first.

use std::net::SocketAddr;

use c2c_guard::RateLimit;
use c2c_sbc::ingress::{Ingress, IngressConfig, Screened, UntrustedPolicy};
use c2c_sbc::sip::{parse_message, Framed, Message, StreamFramer};

use crate::clock;

/// The trusted trunk.
pub fn trunk() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5060))
}

/// Somebody who is not a trunk.
pub fn stranger() -> SocketAddr {
    SocketAddr::from(([203, 0, 113, 7], 5060))
}

/// An ingress trusting [`trunk`], without rate limits (they would make replays depend on
/// how many inputs ran before), answering or ignoring strangers per `untrusted`.
pub fn ingress(untrusted: UntrustedPolicy) -> Ingress {
    let unlimited = RateLimit {
        per_second: 1e9,
        burst: 1e9,
    };
    let mut i = Ingress::new(IngressConfig {
        untrusted,
        trusted_rate: unlimited,
        untrusted_rate: unlimited,
        ..IngressConfig::default()
    });
    i.trust(trunk().ip());
    i
}

/// The message without its Content-Length headers: the serialiser rewrites those.
fn without_length(msg: &Message) -> Message {
    let mut msg = msg.clone();
    let headers = match &mut msg {
        Message::Request(r) => &mut r.headers,
        Message::Response(r) => &mut r.headers,
    };
    headers.remove("Content-Length");
    msg
}

/// What we send back is a framed SIP response of bounded size (as `fuzz_ingress.rs` checks);
/// a reply to a well-formed request is itself well-formed (one to a request without From,
/// say, cannot be: it copies what is there).
fn check_reply(input: &[u8], screened: &Screened) {
    if let Screened::Reply(bytes) = screened {
        assert!(bytes.starts_with(b"SIP/2.0 "), "a reply is a status line");
        assert!(
            bytes.ends_with(b"Content-Length: 0\r\n\r\n"),
            "a reply is framed"
        );
        assert!(
            bytes.len() <= 2 * input.len() + 20 * 1024,
            "a reply is bounded"
        );
        if parse_message(input).is_ok() {
            assert!(
                parse_message(bytes).is_ok(),
                "our reply to a good request parses"
            );
        }
    }
}

/// One UDP datagram: parsed, serialised and parsed again, then screened as from the trunk
/// and from a stranger under both policies.
pub fn datagram(data: &[u8]) {
    if let Ok(msg) = parse_message(data) {
        let again = match parse_message(&msg.to_bytes()) {
            Ok(m) => m,
            Err(e) => panic!("a parsed message, serialised, does not parse back: {e}"),
        };
        assert_eq!(
            without_length(&again),
            without_length(&msg),
            "round trip changed it"
        );
    }
    let now = clock::base();
    let mut answering = ingress(UntrustedPolicy::Forbidden);
    let screened = answering.screen(data, trunk(), now, |_| false);
    check_reply(data, &screened);
    if let Screened::Request(req) = &screened {
        assert!(
            req.headers.get("P-Asserted-Identity").is_none(),
            "identity kept"
        );
        // What the SBC hands on must serialise into something it would take again.
        let _ = parse_message(&Message::Request(req.clone()).to_bytes());
    }
    let screened = answering.screen(data, stranger(), now, |_| false);
    check_reply(data, &screened);
    assert!(
        matches!(screened, Screened::Drop(_) | Screened::Reply(_)),
        "a stranger's message is never let in"
    );
    let mut silent = ingress(UntrustedPolicy::Drop);
    assert!(matches!(
        silent.screen(data, stranger(), now, |_| false),
        Screened::Drop(_)
    ));
}

/// A TCP stream: byte 0 says how many chunk sizes follow, those bytes are the sizes the
/// stream arrives in (cycled), the rest is the stream.
pub fn stream(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));
    let mut sizes = sizes.iter().map(|s| usize::from(*s).max(1)).cycle();
    let mut ingress = ingress(UntrustedPolicy::Forbidden);
    let max = ingress.max_message();
    let mut framer = StreamFramer::new(max);
    let mut rest = stream;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        framer.push(&rest[..n]);
        rest = &rest[n..];
        loop {
            match framer.next_message() {
                Ok(Some(Framed::Message(m))) => {
                    assert!(m.len() <= max, "a framed message is within the limit");
                    let screened = ingress.screen(&m, trunk(), clock::base(), |_| false);
                    check_reply(&m, &screened);
                }
                Ok(Some(Framed::Ping)) => {}
                Ok(None) => break,
                Err(e) => {
                    let _ = framer.is_mid_message();
                    let screened = ingress.screen_frame_error(framer.pending(), e, trunk());
                    check_reply(framer.pending(), &screened);
                    return;
                }
            }
        }
        assert!(
            framer.pending().len() <= max + 256,
            "the framer's buffer is bounded"
        );
    }
}
