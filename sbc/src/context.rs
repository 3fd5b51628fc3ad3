//! The visitor's web context on the INVITE: the page, the referrer and the UTM values as
//! `X-C2C-*` headers, and the session id as `User-to-User` (RFC 7433) for PBXs that read it.
//! Every visitor-given value is percent-encoded, so no text a page chose can end a header,
//! add one, or carry bytes a SIP parser chokes on.

use serde::{Deserialize, Serialize};

/// Longest context header value we send, bytes after encoding: the trunk needs context, not a
/// document.
pub const MAX_CONTEXT_LEN: usize = 256;

/// What the call carries of the visitor's web session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The page the visitor called from.
    pub page_url: String,
    /// `document.referrer` of that page.
    pub referrer: String,
    /// UTM values by key without the `utm_` prefix (`source`, `medium`, `campaign`, `term`,
    /// `content`).
    pub utm: Vec<(String, String)>,
}

/// Which context headers a trunk's INVITEs carry (`context_headers` of a trunk).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextHeaders {
    /// `X-C2C-Session`, `X-C2C-Campaign`, `X-C2C-Page`, `X-C2C-Referrer`, `X-C2C-UTM-*`.
    #[default]
    XC2c,
    /// `User-to-User` with the session id only (RFC 7433), for PBXs that read nothing else.
    UserToUser,
    /// Both.
    Both,
}

/// The headers for a call of `session` and `campaign` with `context`, as `style` asks.
pub fn context_headers(
    style: ContextHeaders,
    session: &str,
    campaign: &str,
    context: &CallContext,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if matches!(style, ContextHeaders::XC2c | ContextHeaders::Both) {
        let mut push = |name: &str, value: &str| {
            let value = encode(value);
            if !value.is_empty() {
                out.push((name.to_owned(), value));
            }
        };
        push("X-C2C-Session", session);
        push("X-C2C-Campaign", campaign);
        push("X-C2C-Page", &context.page_url);
        push("X-C2C-Referrer", &context.referrer);
        for (key, value) in &context.utm {
            if let Some(name) = utm_header(key) {
                push(name, value);
            }
        }
    }
    if matches!(style, ContextHeaders::UserToUser | ContextHeaders::Both) && !session.is_empty() {
        // RFC 7433 §4: hex of the data; the session id is what the PBX looks up.
        let hex: String = session.bytes().map(|b| format!("{b:02x}")).collect();
        out.push(("User-to-User".to_owned(), format!("{hex};encoding=hex")));
    }
    out
}

/// The header for a UTM key (others are not sent: the name must come from us).
fn utm_header(key: &str) -> Option<&'static str> {
    Some(match key {
        "source" => "X-C2C-UTM-Source",
        "medium" => "X-C2C-UTM-Medium",
        "campaign" => "X-C2C-UTM-Campaign",
        "term" => "X-C2C-UTM-Term",
        "content" => "X-C2C-UTM-Content",
        _ => return None,
    })
}

/// Percent-encodes `text` for a header value (RFC 3986 §2.1): printable ASCII stays but for
/// `%`, `"`, `<`, `>`, `\` and the space; every other byte (controls, CR/LF, UTF-8) becomes
/// `%XX`. Cut to [`MAX_CONTEXT_LEN`] without splitting an escape.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CONTEXT_LEN));
    for byte in text.trim().bytes() {
        let plain = byte.is_ascii_graphic() && !b"%\"<>\\".contains(&byte);
        let width = if plain { 1 } else { 3 };
        if out.len() + width > MAX_CONTEXT_LEN {
            break;
        }
        match plain {
            true => out.push(char::from(byte)),
            false => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> CallContext {
        CallContext {
            page_url: "https://shop.example/p?a=1\r\nVia: injected".into(),
            referrer: "https://search.example/?q=grüße \"x\"".into(),
            utm: vec![
                ("source".into(), "news<letter>".into()),
                ("evil\r\nX".into(), "v".into()),
            ],
        }
    }

    #[test]
    fn no_visitor_text_can_break_a_header() {
        let headers = context_headers(ContextHeaders::XC2c, "ws_1", "sales", &context());
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            get("X-C2C-Page"),
            Some("https://shop.example/p?a=1%0D%0AVia:%20injected")
        );
        assert_eq!(
            get("X-C2C-Referrer"),
            Some("https://search.example/?q=gr%C3%BC%C3%9Fe%20%22x%22")
        );
        assert_eq!(get("X-C2C-UTM-Source"), Some("news%3Cletter%3E"));
        assert_eq!(
            headers.len(),
            5,
            "an unknown UTM key names no header: {headers:?}"
        );
        assert_eq!(get("User-to-User"), None);
        for (_, v) in &headers {
            assert!(v.bytes().all(|b| b.is_ascii_graphic()), "{v}");
        }
    }

    #[test]
    fn user_to_user_carries_the_session_in_hex() {
        let headers = context_headers(ContextHeaders::UserToUser, "ws_1", "sales", &context());
        assert_eq!(
            headers,
            vec![(
                "User-to-User".to_owned(),
                "77735f31;encoding=hex".to_owned()
            )]
        );
        let both = context_headers(ContextHeaders::Both, "ws_1", "sales", &context());
        assert_eq!(both.len(), 6);
    }

    #[test]
    fn a_long_value_is_cut_between_escapes() {
        let long = "é".repeat(200);
        let v = encode(&long);
        assert!(v.len() <= MAX_CONTEXT_LEN);
        assert_eq!(v.len() % 3, 0, "whole escapes only: {v}");
    }
}
