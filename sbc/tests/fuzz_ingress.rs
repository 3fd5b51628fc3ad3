//! Property tests of the SIP ingress path, bounded so they run in seconds inside `cargo test`:
//! arbitrary bytes and mutated real messages through [`Ingress::screen`] and the stream
//! framer never panic, never answer untrusted sources, and only ever produce bounded,
//! well-framed replies.

use std::net::SocketAddr;
use std::time::Instant;

use c2c_guard::RateLimit;
use c2c_sbc::ingress::{Ingress, IngressConfig, Screened, UntrustedPolicy};
use c2c_sbc::sip::{parse_message, Framed, StreamFramer};
use proptest::prelude::*;

const TRUNK: &str = "192.0.2.1:5060";
const STRANGER: &str = "203.0.113.7:5060";
/// Largest message the framer in these tests accepts.
const MAX: usize = 4096;

const SEEDS: &[&str] = &[
    "INVITE sip:+15550100@192.0.2.2:5060;user=phone SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport\r\nMax-Forwards: 70\r\n\
     From: \"A\" <sip:a@192.0.2.1>;tag=1\r\nTo: <sip:b@192.0.2.2>\r\nCall-ID: c1@x\r\n\
     CSeq: 1 INVITE\r\nContact: <sip:a@192.0.2.1>\r\nP-Asserted-Identity: <sip:+1@x>\r\n\
     Content-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=-\r\n",
    "SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKa\r\nf: <sip:a@b>;tag=1\r\n\
     t: <sip:c@d>;tag=2\r\ni: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n",
    "BYE sip:c2c@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKb\r\n\
     From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: y\r\nCSeq: 2 BYE\r\n\
     Content-Length: 0\r\n\r\n",
];

fn ingress() -> Ingress {
    let unlimited = RateLimit {
        per_second: 1e9,
        burst: 1e9,
    };
    let mut i = Ingress::new(IngressConfig {
        untrusted: UntrustedPolicy::Drop,
        trusted_rate: unlimited,
        untrusted_rate: unlimited,
        ..IngressConfig::default()
    });
    i.trust(TRUNK.parse::<SocketAddr>().expect("addr").ip());
    i
}

/// Replies are framed SIP responses of bounded size.
fn check_reply(input: &[u8], screened: &Screened) {
    if let Screened::Reply(bytes) = screened {
        assert!(bytes.starts_with(b"SIP/2.0 "), "reply is a status line");
        assert!(
            bytes.ends_with(b"Content-Length: 0\r\n\r\n"),
            "reply is framed"
        );
        assert!(
            bytes.len() <= 2 * input.len() + 20 * 1024,
            "reply is bounded"
        );
    }
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seed = prop::sample::select(SEEDS);
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..8);
    (seed, edits).prop_map(|(seed, edits)| {
        let mut bytes = seed.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
        }
        bytes
    })
}

/// Characters of one, two, three and four bytes in UTF-8: a parser that cuts a string at a
/// fixed byte offset panics when one of them straddles it.
const WIDE: &[char] = &[
    'e',
    '\u{e9}',
    '\u{20ac}',
    '\u{1f4de}',
    '\u{feff}',
    '\u{0}',
    '\r',
    '\n',
    ' ',
    ':',
    ';',
    '<',
    '>',
    '"',
    '/',
];

/// A seed with whole characters (often multi-byte) inserted, replaced or cut at char
/// boundaries: valid UTF-8 that is near-valid SIP.
fn mutated_utf8() -> impl Strategy<Value = String> {
    let seed = prop::sample::select(SEEDS);
    let edits = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::sample::select(WIDE),
            0u8..3,
        ),
        1..8,
    );
    (seed, edits).prop_map(|(seed, edits)| {
        let mut chars: Vec<char> = seed.chars().collect();
        for (at, c, kind) in edits {
            if chars.is_empty() {
                break;
            }
            let i = at.index(chars.len());
            match kind {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => chars.truncate(i),
            }
        }
        chars.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut i = ingress();
        let now = Instant::now();
        let screened = i.screen(&bytes, TRUNK.parse().expect("addr"), now, |_| false);
        check_reply(&bytes, &screened);
        let stranger = i.screen(&bytes, STRANGER.parse().expect("addr"), now, |_| false);
        prop_assert!(matches!(stranger, Screened::Drop(_)), "strangers get nothing");
    }

    #[test]
    fn mutated_messages_never_panic_and_keep_identity_out(bytes in mutated()) {
        let mut i = ingress();
        let screened = i.screen(&bytes, TRUNK.parse().expect("addr"), Instant::now(), |_| false);
        check_reply(&bytes, &screened);
        if let Screened::Request(req) = &screened {
            prop_assert!(req.headers.get("P-Asserted-Identity").is_none());
        }
        if let Screened::Reply(reply) = &screened {
            // Our replies to well-formed requests parse back.
            if parse_message(&bytes).is_ok() {
                prop_assert!(parse_message(reply).is_ok());
            }
        }
    }

    #[test]
    fn arbitrary_utf8_never_panics(text in any::<String>()) {
        let mut i = ingress();
        let screened = i.screen(text.as_bytes(), TRUNK.parse().expect("addr"), Instant::now(), |_| false);
        check_reply(text.as_bytes(), &screened);
        let _ = parse_message(text.as_bytes());
    }

    #[test]
    fn utf8_start_lines_never_panic(
        method in "[A-Z\u{e9}\u{20ac}]{0,8}",
        version in "[SIP/2.0\u{e9}\u{20ac}\u{1f4de}]{0,9}",
        rest in "\\PC{0,40}",
    ) {
        for text in [
            format!("{method} sip:a@127.0.0.1 {version}\r\n\r\n"),
            format!("{version} 200 {rest}\r\n\r\n"),
            format!("{method} {rest} {version}"),
        ] {
            let mut i = ingress();
            let screened = i.screen(text.as_bytes(), TRUNK.parse().expect("addr"), Instant::now(), |_| false);
            check_reply(text.as_bytes(), &screened);
        }
    }

    #[test]
    fn mutated_utf8_messages_never_panic(text in mutated_utf8()) {
        let mut i = ingress();
        let screened = i.screen(text.as_bytes(), TRUNK.parse().expect("addr"), Instant::now(), |_| false);
        check_reply(text.as_bytes(), &screened);
        if let Screened::Request(req) = &screened {
            prop_assert!(req.headers.get("P-Asserted-Identity").is_none());
        }
        let mut framer = StreamFramer::new(MAX);
        framer.push(text.as_bytes());
        while let Ok(Some(_)) = framer.next_message() {}
    }

    #[test]
    fn stream_framing_is_bounded(
        stream in mutated(),
        cuts in prop::collection::vec(1usize..64, 1..16),
    ) {
        let mut framer = StreamFramer::new(MAX);
        let mut rest: &[u8] = &stream;
        let mut cuts = cuts.into_iter().cycle();
        while !rest.is_empty() {
            let n = cuts.next().unwrap_or(1).min(rest.len());
            framer.push(&rest[..n]);
            rest = &rest[n..];
            loop {
                match framer.next_message() {
                    Ok(Some(Framed::Message(m))) => prop_assert!(m.len() <= MAX),
                    Ok(Some(Framed::Ping)) => {}
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            prop_assert!(framer.pending().len() <= MAX + 64);
        }
    }
}
