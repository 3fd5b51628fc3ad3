//! Parser, serialiser and helper tests, including malformed and hostile input.

use super::*;

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice; A\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn parse(s: &str) -> Result<Message, SipError> {
    parse_message(s.as_bytes())
}

#[test]
fn parses_a_basic_invite_and_its_helpers() {
    let msg = parse(INVITE).expect("valid");
    let Message::Request(req) = &msg else {
        panic!("not a request")
    };
    assert_eq!(req.method, Method::Invite);
    assert_eq!(req.uri, "sip:bob@biloxi.example.com");
    assert_eq!(msg.body(), b"v=0\n");
    assert_eq!(msg.top_via_branch().as_deref(), Some("z9hG4bK776asdhds"));
    assert_eq!(
        msg.call_id(),
        Some("a84b4c76e66710@pc33.atlanta.example.com")
    );
    let cseq = msg.cseq().expect("cseq");
    assert_eq!((cseq.number, cseq.method), (314159, Method::Invite));
    assert_eq!(msg.from_tag().as_deref(), Some("1928301774"));
    assert_eq!(msg.to_tag(), None);
    assert_eq!(
        msg.contact_uri().as_deref(),
        Some("sip:alice@pc33.atlanta.example.com")
    );
    assert!(msg.has_sdp());
}

#[test]
fn round_trips_through_the_serialiser() {
    let msg = parse(INVITE).expect("valid");
    let again = parse_message(&msg.to_bytes()).expect("reparse");
    assert_eq!(msg, again);
}

#[test]
fn tolerates_lf_line_ends_leading_crlf_folding_and_compact_forms() {
    let text = "\r\n\r\nSIP/2.0 180 Ringing Now\n\
v: SIP/2.0/UDP a.example;branch=z9hG4bKx ;rport\n\
f: <sip:a@a.example>;tag=f1\n\
t: <sip:b@b.example>\n ;tag=t2\n\
i: abc\n\
CSEQ:\t7 INVITE\n\
m: <sip:b@192.0.2.1:5070>\n\
Subject: one\n\ttwo\n\
l: 0\n\n";
    let msg = parse(text).expect("valid");
    assert_eq!(msg.status(), Some(180));
    assert_eq!(msg.to_tag().as_deref(), Some("t2"));
    assert_eq!(msg.headers().get("subject"), Some("one two"));
    assert_eq!(msg.call_id(), Some("abc"));
    assert_eq!(msg.top_via_branch().as_deref(), Some("z9hG4bKx"));
    assert_eq!(msg.contact_uri().as_deref(), Some("sip:b@192.0.2.1:5070"));
    let Message::Response(r) = msg else {
        panic!("not a response")
    };
    assert_eq!(r.reason, "Ringing Now");
}

#[test]
fn content_length_frames_the_body() {
    let short = INVITE.replace("Content-Length: 4", "Content-Length: 2");
    assert_eq!(parse(&short).expect("valid").body(), b"v=");
    let long = INVITE.replace("Content-Length: 4", "Content-Length: 5000");
    assert_eq!(
        parse(&long),
        Err(SipError::BodyTruncated {
            declared: 5000,
            available: 4
        })
    );
    let absent = INVITE.replace("Content-Length: 4\r\n", "");
    assert_eq!(parse(&absent).expect("valid").body(), b"v=0\n");
    let twice = INVITE.replace("Content-Length: 4\r\n", "Content-Length: 4\r\nl: 3\r\n");
    assert!(parse(&twice).is_err());
    let negative = INVITE.replace("Content-Length: 4", "Content-Length: -4");
    assert!(parse(&negative).is_err());
    let huge = INVITE.replace("Content-Length: 4", "Content-Length: 99999999999999999999");
    assert!(parse(&huge).is_err());
}

#[test]
fn extension_methods_are_kept() {
    let text = INVITE
        .replacen("INVITE sip", "NEWMETHOD sip", 1)
        .replace("314159 INVITE", "314159 NEWMETHOD");
    let Message::Request(req) = parse(&text).expect("valid") else {
        panic!("not a request")
    };
    assert_eq!(req.method, Method::Extension("NEWMETHOD".into()));
    assert_eq!(req.method.as_str(), "NEWMETHOD");
}

#[test]
fn rejects_malformed_messages() {
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("\r\n\r\n".into(), "keep-alive"),
        (INVITE.replace("\r\n\r\n", "\r\n"), "no blank line"),
        (
            INVITE.replace("SIP/2.0\r\nVia", "SIP/7.0\r\nVia"),
            "version",
        ),
        (
            INVITE.replacen("INVITE sip", "INVITE  sip", 1),
            "double space",
        ),
        (INVITE.replacen("INVITE sip", "IN VITE sip", 1), "4 parts"),
        (
            INVITE.replacen("INVITE sip", "INV@ITE sip", 1),
            "bad method",
        ),
        (
            INVITE.replace("314159 INVITE", "314159 BYE"),
            "cseq mismatch",
        ),
        (INVITE.replace("314159", "4294967296"), "cseq overflow"),
        (
            INVITE.replace("Call-ID: a84", "Call-ID:\r\nX-a: a84"),
            "empty call-id",
        ),
        (
            INVITE.replace("Max-Forwards: 70", "Max Forwards: 70"),
            "bad name",
        ),
        (
            INVITE.replace("Max-Forwards: 70", "NoColonHere"),
            "no colon",
        ),
        (INVITE.replace("Max-Forwards: 70", "X-A: a\rb"), "bare CR"),
        (INVITE.replace("Max-Forwards: 70", "X-A: a\0b"), "NUL"),
        (INVITE.replace("CSeq: 314159 INVITE\r\n", ""), "no cseq"),
        (
            INVITE.replace("Max-Forwards: 70", "To: <sip:c@d>"),
            "two To",
        ),
        (INVITE.replacen("Via", " Via", 1), "fold first"),
        (
            INVITE.replace("To: Bob <sip:bob@biloxi.example.com>", "To: \"Bob <sip:x>"),
            "unclosed quote",
        ),
        ("SIP/2.0 2000 OK\r\n\r\n".into(), "4-digit status"),
        ("SIP/2.0 099 Low\r\n\r\n".into(), "status below 100"),
        ("HELLO\r\n\r\n".into(), "garbage"),
        (
            INVITE.replacen("sip:bob@biloxi.example.com", "bob", 1),
            "uri without scheme",
        ),
    ];
    for (text, what) in cases {
        assert!(parse(&text).is_err(), "{what} should be rejected");
    }
    assert_eq!(
        parse_message(&[0xff, 0xfe, b'\n', b'\n']),
        Err(SipError::NotUtf8)
    );
    let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
    assert_eq!(
        parse_message(&big),
        Err(SipError::TooLarge(MAX_MESSAGE_SIZE + 1))
    );
}

#[test]
fn never_panics_on_arbitrary_prefixes_and_byte_flips() {
    let bytes = INVITE.as_bytes();
    for cut in 0..bytes.len() {
        let _ = parse_message(&bytes[..cut]);
    }
    for i in 0..bytes.len() {
        for flip in [0u8, b'\r', b'\n', b':', b';', b'<', b'"', 0x80, 0xff] {
            let mut mutated = bytes.to_vec();
            mutated[i] = flip;
            let _ = parse_message(&mutated);
        }
    }
}

#[test]
fn header_helpers_handle_quotes_and_lists() {
    assert_eq!(
        header_param("\"a;tag=x\" <sip:a@b;tag=no>;tag=yes", "tag").as_deref(),
        Some("yes")
    );
    assert_eq!(header_param("sip:a@b;tag=z", "TAG").as_deref(), Some("z"));
    assert_eq!(header_param("<sip:a@b;lr>", "lr"), None);
    let list: Vec<&str> = split_list("<sip:a,b@c>, \"x,y\" <sip:d>,sip:e").collect();
    assert_eq!(list, vec!["<sip:a,b@c>", "\"x,y\" <sip:d>", "sip:e"]);
    assert_eq!(name_addr_uri("\"<not>\" <sip:real@h>"), Some("sip:real@h"));
    assert_eq!(name_addr_uri("sip:x@h;tag=1"), Some("sip:x@h"));
    assert_eq!(name_addr_uri("<>"), None);
    assert_eq!(canonical_name("I"), "Call-ID");
    assert_eq!(canonical_name("X"), "Session-Expires");
    assert_eq!(canonical_name("Via"), "Via");
}

#[test]
fn sanitises_header_values() {
    assert_eq!(
        sanitize_header_value("a\r\nVia: evil\0\tb", 100),
        "aVia: evil b"
    );
    assert_eq!(sanitize_header_value("ééé", 5), "éé");
}

#[test]
fn uri_helpers() {
    assert_eq!(
        host_port("sip:+1555@10.0.0.1:5070;user=phone"),
        Some(("10.0.0.1".into(), Some(5070)))
    );
    assert_eq!(
        host_port("sips:[2001:db8::1]"),
        Some(("2001:db8::1".into(), None))
    );
    assert_eq!(
        host_port("sip:h.example;lr"),
        Some(("h.example".into(), None))
    );
    assert_eq!(host_port("tel:+1555"), None);
    assert_eq!(host_port("sip:a@h:99999"), None);
    assert_eq!(escape_user("+1 555#1"), "+1%20555%231");
}

#[test]
fn builds_responses_that_copy_the_transaction_headers() {
    let Message::Request(req) = parse(INVITE).expect("valid") else {
        panic!("not a request")
    };
    let resp = response_to(&req, 486, "Busy Here", Some("tt"));
    let msg = Message::Response(resp);
    assert_eq!(msg.to_tag().as_deref(), Some("tt"));
    assert_eq!(msg.top_via_branch().as_deref(), Some("z9hG4bK776asdhds"));
    let text = String::from_utf8(msg.to_bytes()).expect("utf8");
    assert!(text.starts_with("SIP/2.0 486 Busy Here\r\n"));
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
}
