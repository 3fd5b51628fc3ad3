//! Identity headers are only ever asserted by us: any arriving from the network is removed
//! before a message reaches call logic (RFC 3325 §5 trust domains, RFC 8224 Identity).

use crate::sip::{canonical_name, Headers};

/// Headers that assert or hide an identity (compact `y` is expanded to Identity by lookup).
pub const IDENTITY_HEADERS: &[&str] = &[
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Remote-Party-ID",
    "Identity",
    "Identity-Info",
    "Privacy",
];
/// Prefix of our own context headers, which only we may set.
pub const OWN_HEADER_PREFIX: &str = "X-C2C-";

/// True when a header name (any case, compact or not) is an identity or X-C2C-* header.
pub fn is_identity_header(name: &str) -> bool {
    let name = canonical_name(name.trim());
    IDENTITY_HEADERS
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
        || name
            .get(..OWN_HEADER_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(OWN_HEADER_PREFIX))
}

/// Removes every identity and X-C2C-* header; returns how many were removed.
pub fn strip_identity(headers: &mut Headers) -> usize {
    let before = headers.len();
    headers.retain(|name, _| !is_identity_header(name));
    before - headers.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_message, Message};

    #[test]
    fn every_spelling_is_stripped() {
        let raw = "BYE sip:c2c@192.0.2.1 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKa\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n\
            p-asserted-identity: <sip:+1@evil>\r\n\
            P-ASSERTED-IDENTITY : <sip:+2@evil>\r\n\
            P-Preferred-Identity:\r\n <sip:+3@evil>\r\n\
            Remote-Party-ID: <sip:+4@evil>;party=calling\r\n\
            y: abc\r\nIdentity: def\r\nIdentity-Info: <https://evil/cert>\r\n\
            privacy: none\r\nx-c2c-session: forged\r\nX-C2C-Campaign : forged\r\n\
            X-Other: kept\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(mut req)) = parse_message(raw.as_bytes()) else {
            panic!("parses")
        };
        assert_eq!(strip_identity(&mut req.headers), 10);
        let left: Vec<&str> = req.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(
            left,
            [
                "Via",
                "From",
                "To",
                "Call-ID",
                "CSeq",
                "X-Other",
                "Content-Length"
            ]
        );
    }
}
