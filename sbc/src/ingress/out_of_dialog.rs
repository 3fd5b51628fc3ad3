//! How the SBC answers a well-formed request that belongs to no call of ours, in the order of
//! RFC 3261 §8.2 (method, Request-URI scheme, Require, content, then the request itself).
//!
//! The SBC only places calls: it takes no inbound calls, relays nothing from one trunk to
//! another, and refuses REFER and Replaces (call hijacking, RFC 3891 §6). A REGISTER comes
//! here only when the registrar is off or its source may not register: 405.

use crate::sip::{response_to, uri_scheme, Method, Request, Response};

/// The methods we handle (advertised in Allow, RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO";
/// The body type we understand (RFC 3261 §20.1).
pub const ACCEPT: &str = "application/sdp";
/// Option tags we support when they appear in Require (RFC 3261 §8.2.2.3).
pub const SUPPORTED: &[&str] = &["100rel"];

/// The response to a request for no call of ours; None for ACK (never answered, §17.2.1).
pub fn answer_out_of_dialog(req: &Request, to_tag: &str) -> Option<Response> {
    let reply = |status, reason| Some(response_to(req, status, reason, Some(to_tag)));
    let with = |status, reason, name: &str, value: &str| {
        let mut resp = response_to(req, status, reason, Some(to_tag));
        resp.headers.push(name, value);
        Some(resp)
    };
    match &req.method {
        Method::Ack => return None,
        Method::Extension(_) => return with(501, "Not Implemented", "Allow", ALLOW),
        Method::Register | Method::Subscribe | Method::Notify | Method::Message => {
            return with(405, "Method Not Allowed", "Allow", ALLOW)
        }
        _ => {}
    }
    let scheme = uri_scheme(&req.uri)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
        return reply(416, "Unsupported URI Scheme");
    }
    let unsupported = unsupported_requires(req);
    if !unsupported.is_empty() {
        return with(420, "Bad Extension", "Unsupported", &unsupported.join(", "));
    }
    let has_to_tag = req
        .headers
        .get("To")
        .and_then(|to| crate::sip::header_param(to, "tag"))
        .is_some();
    match &req.method {
        Method::Options => {
            let mut resp = response_to(req, 200, "OK", Some(to_tag));
            resp.headers.push("Allow", ALLOW);
            resp.headers.push("Accept", ACCEPT);
            resp.headers.push("Supported", SUPPORTED.join(", "));
            Some(resp)
        }
        Method::Refer => reply(403, "Forbidden"),
        Method::Invite if req.headers.get("Replaces").is_some() => reply(403, "Forbidden"),
        Method::Invite if has_to_tag => reply(481, "Call/Transaction Does Not Exist"),
        Method::Invite => {
            if !body_type_ok(req) {
                return with(415, "Unsupported Media Type", "Accept", ACCEPT);
            }
            if !accepts_sdp(req) {
                return with(406, "Not Acceptable", "Accept", ACCEPT);
            }
            // Outbound only: a new call from a trunk is never taken nor relayed elsewhere.
            reply(403, "Forbidden")
        }
        _ => reply(481, "Call/Transaction Does Not Exist"),
    }
}

/// Option tags in Require that we do not support.
pub fn unsupported_requires(req: &Request) -> Vec<String> {
    req.headers
        .list("Require")
        .into_iter()
        .filter(|tag| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .collect()
}

/// True when the body is absent or SDP (RFC 3261 §8.2.3).
fn body_type_ok(req: &Request) -> bool {
    if req.body.is_empty() {
        return true;
    }
    req.headers
        .get("Content-Type")
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(ACCEPT))
}

/// True when Accept is absent or lists SDP (or a wildcard covering it, RFC 3261 §20.1).
fn accepts_sdp(req: &Request) -> bool {
    let accepted = req.headers.list("Accept");
    accepted.is_empty()
        || accepted.iter().any(|a| {
            let t = a.split(';').next().unwrap_or_default().trim();
            ["application/sdp", "application/*", "*/*"]
                .iter()
                .any(|ok| t.eq_ignore_ascii_case(ok))
        })
}
