//! The serialiser, and building a response from the request it answers.

use super::headers::{canonical_name, Headers};
use super::message::{Message, Request, Response};

/// Serialises a message with CRLF line ends; any Content-Length in the header list is replaced
/// by one that matches the body, written last, so framing is always right.
pub(crate) fn to_bytes(message: &Message) -> Vec<u8> {
    let (start_line, headers, body) = match message {
        Message::Request(r) => (
            format!("{} {} {}", r.method, r.uri, r.version),
            &r.headers,
            &r.body,
        ),
        Message::Response(r) => (
            format!("{} {} {}", r.version, r.status, r.reason),
            &r.headers,
            &r.body,
        ),
    };
    let mut out = Vec::with_capacity(256 + body.len());
    out.extend_from_slice(start_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers.iter() {
        if canonical_name(name).eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A response to `request` per RFC 3261 §8.2.6.2: copies every Via (in order), From, To,
/// Call-ID and CSeq; adds `to_tag` to To when the request's To has no tag yet.
pub fn response_to(request: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let mut headers = Headers::new();
    for via in request.headers.get_all("Via") {
        headers.push("Via", via);
    }
    if let Some(from) = request.headers.get("From") {
        headers.push("From", from);
    }
    if let Some(to) = request.headers.get("To") {
        let has_tag = super::header_param(to, "tag").is_some();
        match to_tag {
            Some(tag) if !has_tag => headers.push("To", format!("{to};tag={tag}")),
            _ => headers.push("To", to),
        }
    }
    for name in ["Call-ID", "CSeq"] {
        if let Some(value) = request.headers.get(name) {
            headers.push(name, value);
        }
    }
    Response {
        version: "SIP/2.0".to_owned(),
        status,
        reason: reason.to_owned(),
        headers,
        body: Vec::new(),
    }
}
