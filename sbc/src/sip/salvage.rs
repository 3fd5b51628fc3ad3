//! Answering a request the strict parser refused (RFC 3261 §8.2.6, §21.4.1): enough of the
//! raw header section is read, leniently, to build a stateless error response.
//!
//! Only the headers a response copies are kept (Via, From, To, Call-ID, CSeq), control
//! characters are removed and every value is capped, so nothing hostile is reflected.

use super::headers::canonical_name;
use super::message::is_token_char;

/// Longest header value copied into an error response.
const MAX_COPIED_VALUE: usize = 1024;
/// Most Via values copied into an error response.
const MAX_COPIED_VIAS: usize = 16;
/// Headers an error response copies from its request (RFC 3261 §8.2.6.2).
const COPIED: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];

/// What could be read from a request that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// The method token of the Request-Line.
    pub method: String,
    /// The copied headers, in wire order, names canonical.
    pub headers: Vec<(String, String)>,
}

/// Reads the Request-Line's method and the copied headers; None for responses, for input
/// that does not start like a request, and for requests without a Via (nowhere to answer).
pub fn salvage_request(bytes: &[u8]) -> Option<Salvaged> {
    let start = bytes.iter().position(|b| *b != b'\r' && *b != b'\n')?;
    let text = String::from_utf8_lossy(&bytes[start..]);
    let head = match (text.find("\r\n\r\n"), text.find("\n\n")) {
        (Some(a), Some(b)) => &text[..a.min(b)],
        (Some(a), None) | (None, Some(a)) => &text[..a],
        (None, None) => &text[..],
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next()?;
    let method = start_line.split(' ').next()?;
    if method.is_empty() || !method.chars().all(is_token_char) || start_line.starts_with("SIP/") {
        return None;
    }
    let mut unfolded: Vec<String> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = unfolded.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            unfolded.push(line.to_owned());
        }
    }
    let mut headers = Vec::new();
    let mut vias = 0;
    for line in &unfolded {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = canonical_name(name.trim());
        let Some(copied) = COPIED.iter().find(|c| c.eq_ignore_ascii_case(name)) else {
            continue;
        };
        if *copied == "Via" {
            vias += 1;
            if vias > MAX_COPIED_VIAS {
                continue;
            }
        }
        let value = clean(value);
        if !value.is_empty() {
            headers.push(((*copied).to_owned(), value));
        }
    }
    headers.iter().any(|(n, _)| n == "Via").then(|| Salvaged {
        method: method.to_owned(),
        headers,
    })
}

fn clean(value: &str) -> String {
    let mut out: String = value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_COPIED_VALUE)
        .collect();
    out = out.trim().to_owned();
    out
}

/// Serialises a stateless error response to a salvaged request (To gets `to_tag` if it has
/// none); no body, no Server header.
pub fn error_response(req: &Salvaged, status: u16, reason: &str, to_tag: &str) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for (name, value) in &req.headers {
        let has_tag = value.to_ascii_lowercase().contains(";tag=")
            || value.to_ascii_lowercase().contains("; tag");
        if name == "To" && !has_tag {
            out.push_str(&format!("To: {value};tag={to_tag}\r\n"));
        } else {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salvages_what_a_response_needs() {
        let raw = b"INVITE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                    To: <sip:a@b>\r\nX-Evil: 1\r\nCSeq: 99999999999 INVITE\r\n\
                    Content-Length: 9999\r\n\r\nbody";
        let s = salvage_request(raw).expect("salvaged");
        assert_eq!(s.method, "INVITE");
        let names: Vec<&str> = s.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["Via", "To", "CSeq"]);
        let resp = String::from_utf8(error_response(&s, 400, "Bad Request", "t1")).expect("utf8");
        assert!(
            resp.starts_with("SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n")
        );
        assert!(resp.contains("To: <sip:a@b>;tag=t1\r\n"));
        assert!(!resp.contains("X-Evil"));
    }

    #[test]
    fn refuses_responses_and_viainless_garbage() {
        assert_eq!(salvage_request(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n"), None);
        assert_eq!(salvage_request(b"INVITE sip:a@b SIP/2.0\r\n\r\n"), None);
        assert_eq!(salvage_request(b"\xff\xfe\r\n\r\n"), None);
        assert_eq!(salvage_request(b""), None);
    }
}
