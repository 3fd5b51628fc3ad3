//! Grammar checks for the header values a UA relies on (RFC 3261 §25.1): Via, name-addr
//! (From, To, Contact), URIs and the characters allowed in a header line.
//!
//! They are stricter than what the accessors in [`super::headers`] need, so that a message
//! the RFC calls malformed (RFC 4475 §3.1.2) is refused with 400 instead of half-understood.

use super::message::is_token_char;
use super::scan::{split_commas, Scan, Spot};
use super::uri::host_port;

/// True when a header line (name and value) holds no control character outside a
/// quoted-pair: RFC 3261 §25.1 allows any octet but CR and LF after a backslash in quotes.
pub(crate) fn line_chars_ok(line: &str) -> bool {
    Scan::new(line).all(|(_, ch, spot)| match spot {
        Spot::Escaped => ch != '\r' && ch != '\n',
        _ => ch == '\t' || !ch.is_control(),
    })
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1, RFC 3261 §25.1).
pub(crate) fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// The scheme of an absolute URI (`sip:a@b` → `sip`), when it has a valid one.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once(':')?;
    (is_scheme(scheme) && !rest.is_empty()).then_some(scheme)
}

/// True when a `sip:`/`sips:` URI is well formed enough to act on: a valid host and port,
/// and no `?headers` part after the host (RFC 3261 §19.1.5 forbids them in a Request-URI).
fn sip_uri_ok(uri: &str, allow_headers: bool) -> bool {
    if host_port(uri).is_none() {
        return false;
    }
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or_default();
    let after_user = rest.rfind('@').map_or(rest, |at| &rest[at + 1..]);
    allow_headers || !after_user.contains('?')
}

/// Checks a URI written as a Request-URI or inside `<>`: a scheme, no whitespace or
/// control characters, and for SIP URIs a valid host.
pub(crate) fn uri_ok(uri: &str, allow_headers: bool) -> bool {
    let Some(scheme) = uri_scheme(uri) else {
        return false;
    };
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        sip_uri_ok(uri, allow_headers)
    } else {
        true
    }
}

/// A quoted string starting at `text[0] == '"'`: returns the rest after the closing quote.
fn skip_quoted(text: &str) -> Option<&str> {
    let (close, _, _) = Scan::new(text)
        .filter(|&(_, _, spot)| spot == Spot::Quote)
        .nth(1)?;
    text.get(close + 1..)
}

/// `generic-param` list after a header value: `*( SEMI token [ EQUAL gen-value ] )` where
/// gen-value is a token, a host (IPv6 references included) or a quoted string.
fn params_ok(mut text: &str) -> bool {
    loop {
        text = text.trim_start();
        if text.is_empty() {
            return true;
        }
        let Some(rest) = text.strip_prefix(';') else {
            return false;
        };
        let rest = rest.trim_start();
        let name_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        if name_len == 0 {
            return false;
        }
        let rest = rest[name_len..].trim_start();
        let Some(value) = rest.strip_prefix('=') else {
            text = rest;
            continue;
        };
        let value = value.trim_start();
        if value.starts_with('"') {
            let Some(after) = skip_quoted(value) else {
                return false;
            };
            text = after;
        } else {
            let len = value
                .find(|c: char| !(is_token_char(c) || "[]:".contains(c)))
                .unwrap_or(value.len());
            if len == 0 {
                return false;
            }
            text = &value[len..];
        }
    }
}

/// A display name: a quoted string or tokens separated by whitespace (RFC 3261 §25.1),
/// also accepting a token directly before `<` (the grammar bug RFC 4475 §3.1.1.6 notes).
fn display_name_ok(text: &str) -> bool {
    let text = text.trim();
    if text.starts_with('"') {
        return skip_quoted(text).is_some_and(|rest| rest.trim().is_empty());
    }
    text.split_whitespace()
        .all(|word| word.chars().all(is_token_char))
}

/// Checks one `name-addr / addr-spec` followed by header parameters (From, To, one Contact).
pub(crate) fn name_addr_ok(value: &str) -> bool {
    let value = value.trim();
    let (display_end, quoted_rest) = if value.starts_with('"') {
        match skip_quoted(value) {
            Some(rest) => (value.len() - rest.len(), rest),
            None => return false,
        }
    } else {
        (0, value)
    };
    if let Some(open) = quoted_rest.find('<') {
        let display = &value[..display_end + open];
        if !display_name_ok(display) {
            return false;
        }
        let inner = &quoted_rest[open + 1..];
        let Some(close) = inner.find('>') else {
            return false;
        };
        uri_ok(&inner[..close], true) && params_ok(&inner[close + 1..])
    } else {
        if display_end > 0 {
            return false; // a display name needs a <URI>
        }
        // addr-spec: a URI with ',', '?' or ';' must be in <> (RFC 3261 §20.10).
        let (uri, params) = match value.find(';') {
            Some(semi) => (value[..semi].trim(), &value[semi..]),
            None => (value, ""),
        };
        !uri.contains([',', '?']) && uri_ok(uri, false) && params_ok(params)
    }
}

/// Checks a Contact value: `*` or a list of name-addr values.
pub(crate) fn contact_ok(value: &str) -> bool {
    value.trim() == "*" || split_commas(value).map(str::trim).all(name_addr_ok)
}

/// `sent-protocol = protocol-name SLASH protocol-version SLASH transport` with LWS around
/// the slashes, followed by `sent-by` and `via-params` (RFC 3261 §20.42).
fn via_element_ok(element: &str) -> bool {
    let mut rest = element;
    for _ in 0..2 {
        let Some(slash) = rest.find('/') else {
            return false;
        };
        let part = rest[..slash].trim();
        if part.is_empty() || !part.chars().all(is_token_char) {
            return false;
        }
        rest = &rest[slash + 1..];
    }
    let rest = rest.trim_start();
    let transport_len = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
    if transport_len == 0 {
        return false;
    }
    let rest = rest[transport_len..].trim_start();
    let sent_by_len = rest.find([';', ' ', '\t']).unwrap_or(rest.len());
    let sent_by = &rest[..sent_by_len];
    if sent_by.is_empty() || host_port(&format!("sip:{sent_by}")).is_none() {
        return false;
    }
    params_ok(&rest[sent_by_len..])
}

/// Checks every element of a Via header line.
pub(crate) fn via_ok(value: &str) -> bool {
    split_commas(value).map(str::trim).all(via_element_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        for good in [
            "<sip:a@b>",
            "sip:a@b;tag=1",
            "\"A \\\" B\" <sip:a@b> ; tag = x",
            "caller<sip:caller@example.com>;tag=323",
            "token1~` token2'+_ <sip:m@e.com>;p=\"é\";tag=_t",
            "<sip:a@b?Route=%3Csip:c%3E>",
            "isbn:2983792873",
            "<http://www.example.com>;tag=3",
            "\"x\" <sip:ted@[::ffff:192.0.2.2]>",
        ] {
            assert!(name_addr_ok(good), "{good}");
        }
        for bad in [
            "Bell, Alexander <sip:a@b>",
            "\"Watson\" < sip:t@example.org >",
            "\"Mr. J. User <sip:j@example.com>",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "sip:user@example.com?Route=%3Csip:x%3E",
            "\"quoted\" sip:a@b",
            "<sip:a@b",
            "<bob>",
            "",
        ] {
            assert!(!name_addr_ok(bad), "{bad}");
        }
    }

    #[test]
    fn via_forms() {
        assert!(via_ok("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx;rport"));
        assert!(via_ok(
            "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9 , \
             SIP / 2.0 / UDP 192.168.255.111 ; branch= z9hG4bK30239"
        ));
        assert!(via_ok(
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3"
        ));
        assert!(via_ok(
            "SIP/2.0/UNKNOWN t4.example.com:5060;branch=z9hG4bKa"
        ));
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0 192.0.2.1",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP a b",
        ] {
            assert!(!via_ok(bad), "{bad}");
        }
    }

    #[test]
    fn uris_and_line_characters() {
        assert!(uri_ok("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com", false));
        assert!(uri_ok("soap.beep://192.0.2.103:3002", false));
        assert!(uri_ok("sip:[2001:db8::10:5070]", false));
        assert!(!uri_ok("<sip:user@example.com>", false));
        assert!(!uri_ok("sip:2001:db8::10", false));
        assert!(!uri_ok(
            "sip:user@example.com?Route=%3Csip:example.com%3E",
            false
        ));
        assert!(line_chars_ok("To: \"BEL:\\\u{7} NUL:\\\0\" <sip:a@b>"));
        assert!(!line_chars_ok("X: a\0b"));
        assert!(!line_chars_ok("X: \"a\0\""));
    }
}
