//! The few SIP-URI operations a UAC needs (RFC 3261 §19.1): host/port extraction and escaping.

/// Host and optional port of a `sip:`/`sips:` URI (`sip:u@[::1]:5070;lr` → (`::1`, Some(5070))).
/// IPv6 hosts are returned without brackets. Returns None for other schemes or a malformed host.
pub fn host_port(uri: &str) -> Option<(String, Option<u16>)> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let after_user = match rest.find('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let end = after_user.find([';', '?']).unwrap_or(after_user.len());
    let hostport = &after_user[..end];
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, tail) = v6.split_once(']')?;
        match tail {
            "" => (host, None),
            t => (host, Some(t.strip_prefix(':')?)),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:".contains(c));
    if !host_ok {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    Some((host.to_owned(), port))
}

/// Percent-escapes text for the user part of a SIP URI (RFC 3261 §25.1 `user`): keeps
/// unreserved characters and the user-unreserved ones that cannot end the user part.
pub fn escape_user(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let c = byte as char;
        if c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,/".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
