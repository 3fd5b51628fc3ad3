//! The SIP parser for datagrams (RFC 3261 §7 and §18.3 framing).

use super::grammar::{contact_ok, line_chars_ok, name_addr_ok, uri_ok, via_ok};
use super::headers::{name_addr_uri, Headers};
use super::message::{is_token_char, CSeq, Message, Method, Request, Response};
use super::SipError;

/// Largest datagram we accept: the largest UDP payload (RFC 3261 §18.1.1 allows up to 65,535).
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Headers that must appear exactly once in every request and response (RFC 3261 §8.1.1).
const SINGLE_MANDATORY: &[&str] = &["From", "To", "Call-ID", "CSeq"];
/// Single-valued headers that may be absent but never repeated (RFC 3261 §7.3.1, RFC 4475 §3.3.8).
const SINGLE_OPTIONAL: &[&str] = &["Max-Forwards", "Content-Type"];

/// Parses one UDP datagram into a message.
///
/// Lines may end in CRLF or a bare LF; folded header lines are joined (RFC 3261 §7.3.1); the
/// body is exactly Content-Length bytes, extra bytes are dropped, and a missing Content-Length
/// means "to the end of the datagram" (RFC 3261 §18.3).
pub fn parse_message(bytes: &[u8]) -> Result<Message, SipError> {
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(SipError::TooLarge(bytes.len()));
    }
    // RFC 3261 §7.5: ignore CRLFs before the start line (keep-alives, stream leftovers).
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .ok_or(SipError::Empty)?;
    let (head_end, body_start) = find_header_end(bytes, start)?;
    let head = std::str::from_utf8(&bytes[start..head_end]).map_err(|_| SipError::NotUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().ok_or(SipError::Empty)?;
    let headers = parse_headers(lines)?;
    let body = frame_body(&headers, &bytes[body_start..])?;
    let message = parse_start_line(start_line, headers, body)?;
    validate(&message)?;
    Ok(message)
}

/// Finds the empty line ending the header section: returns (end of the last header line,
/// first body byte).
fn find_header_end(bytes: &[u8], start: usize) -> Result<(usize, usize), SipError> {
    let mut line_start = start;
    while let Some(offset) = bytes[line_start..].iter().position(|b| *b == b'\n') {
        let nl = line_start + offset;
        let line = &bytes[line_start..nl];
        if line.is_empty() || line == b"\r" {
            // The header section ends where this empty line starts.
            return Ok((line_start, nl + 1));
        }
        line_start = nl + 1;
    }
    Err(SipError::UnterminatedHeaders)
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, SipError> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue; // the final terminator of the last header line
        }
        if !line_chars_ok(line) {
            return Err(SipError::BadHeader(truncate(line)));
        }
        if line.starts_with([' ', '\t']) {
            // RFC 3261 §7.3.1: a folded line continues the previous header value.
            let Some((_, value)) = raw.last_mut() else {
                return Err(SipError::BadHeader(truncate(line)));
            };
            let cont = line.trim();
            if !cont.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(cont);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(SipError::BadHeader(truncate(line)));
        };
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(SipError::BadHeader(truncate(line)));
        }
        raw.push((name.to_owned(), value.trim().to_owned()));
    }
    let mut headers = Headers::new();
    for (name, value) in raw {
        headers.push(name, value);
    }
    Ok(headers)
}

fn frame_body(headers: &Headers, rest: &[u8]) -> Result<Vec<u8>, SipError> {
    let mut declared: Option<usize> = None;
    for value in headers.get_all("Content-Length") {
        let value = value.trim();
        if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SipError::BadHeaderValue("Content-Length"));
        }
        let len: usize = value
            .parse()
            .map_err(|_| SipError::BadHeaderValue("Content-Length"))?;
        if declared.is_some_and(|d| d != len) {
            return Err(SipError::BadHeaderValue("Content-Length"));
        }
        declared = Some(len);
    }
    match declared {
        None => Ok(rest.to_vec()),
        Some(len) if len > rest.len() => Err(SipError::BodyTruncated {
            declared: len,
            available: rest.len(),
        }),
        Some(len) => Ok(rest[..len].to_vec()),
    }
}

fn check_version(version: &str, line: &str) -> Result<(), SipError> {
    if version.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    // `get` and not `[..4]`: the version is input, and byte 4 may fall inside a character.
    let looks_like_sip = version
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"));
    if looks_like_sip {
        Err(SipError::UnsupportedVersion(truncate(version)))
    } else {
        Err(SipError::BadStartLine(truncate(line)))
    }
}

fn parse_start_line(line: &str, headers: Headers, body: Vec<u8>) -> Result<Message, SipError> {
    let bad = || SipError::BadStartLine(truncate(line));
    if line.chars().any(|c| c.is_control()) {
        return Err(bad());
    }
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2).
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().ok_or_else(bad)?;
        check_version(version, line)?;
        let code = parts.next().ok_or_else(bad)?;
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let status: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&status) {
            return Err(bad());
        }
        return Ok(Message::Response(Response {
            version: version.to_owned(),
            status,
            reason: parts.next().unwrap_or_default().to_owned(),
            headers,
            body,
        }));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly single spaces (§7.1).
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, uri, version] = parts.as_slice() else {
        return Err(bad());
    };
    let method = Method::parse(method)?;
    check_version(version, line)?;
    if !uri_ok(uri, false) {
        return Err(SipError::BadRequestUri(truncate(uri)));
    }
    Ok(Message::Request(Request {
        method,
        uri: (*uri).to_owned(),
        version: (*version).to_owned(),
        headers,
        body,
    }))
}

fn validate(message: &Message) -> Result<(), SipError> {
    let headers = message.headers();
    if headers.get("Via").is_none() {
        return Err(SipError::MissingHeader("Via"));
    }
    for name in SINGLE_MANDATORY {
        match headers.get_all(name).count() {
            0 => return Err(SipError::MissingHeader(name)),
            1 => {}
            _ => return Err(SipError::BadHeaderValue(name)),
        }
    }
    for name in SINGLE_OPTIONAL {
        if headers.get_all(name).count() > 1 {
            return Err(SipError::BadHeaderValue(name));
        }
    }
    for name in ["From", "To"] {
        let value = headers.get(name).unwrap_or_default();
        if name_addr_uri(value).is_none() || !name_addr_ok(value) {
            return Err(SipError::BadHeaderValue(name));
        }
    }
    if !headers.get_all("Via").all(via_ok) {
        return Err(SipError::BadHeaderValue("Via"));
    }
    if !headers.get_all("Contact").all(contact_ok) {
        return Err(SipError::BadHeaderValue("Contact"));
    }
    if let Some(mf) = headers.get("Max-Forwards") {
        if mf.is_empty() || mf.len() > 10 || !mf.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SipError::BadHeaderValue("Max-Forwards"));
        }
    }
    let call_id = headers.get("Call-ID").unwrap_or_default();
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(SipError::BadHeaderValue("Call-ID"));
    }
    let cseq = CSeq::parse(headers.get("CSeq").unwrap_or_default())?;
    if let Message::Request(req) = message {
        if cseq.method != req.method {
            return Err(SipError::CSeqMismatch);
        }
    }
    Ok(())
}

/// A short, loggable excerpt of offending input.
fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}
