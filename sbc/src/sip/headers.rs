//! The ordered header list and helpers to read header values (parameters, name-addr, lists).

use super::scan::{outside, split_commas, Scan, Spot};

/// Compact header forms (RFC 3261 §7.3.3 and later RFCs) and their full names.
const COMPACT_FORMS: &[(&str, &str)] = &[
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("c", "Content-Type"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("f", "From"),
    ("i", "Call-ID"),
    ("j", "Reject-Contact"),
    ("k", "Supported"),
    ("l", "Content-Length"),
    ("m", "Contact"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("t", "To"),
    ("u", "Allow-Events"),
    ("v", "Via"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// The full name for a header name, expanding compact forms; other names are returned as given.
pub fn canonical_name(name: &str) -> &str {
    if name.len() == 1 {
        for (short, full) in COMPACT_FORMS {
            if short.eq_ignore_ascii_case(name) {
                return full;
            }
        }
    }
    name
}

/// True when two header names denote the same header (case-insensitive, compact forms expanded).
fn same_header(a: &str, b: &str) -> bool {
    canonical_name(a).eq_ignore_ascii_case(canonical_name(b))
}

/// Headers in wire order, names kept as received; lookups are case-insensitive and
/// treat compact forms as their full names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends a header at the end, keeping earlier ones.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The value of the first header with this name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| same_header(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Values of every header with this name, in order (one per header line, lists not split).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| same_header(n, name))
            .map(|(_, v)| v.as_str())
    }

    /// Every element of a comma-separated list header across all its lines (e.g. Via, Route).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .flat_map(split_list)
            .map(str::to_owned)
            .collect()
    }

    /// Removes every header with this name.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !same_header(n, name));
    }

    /// Replaces the value of the first header with this name, or appends it.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        match self.0.iter_mut().find(|(n, _)| same_header(n, name)) {
            Some((_, v)) => *v = value.into(),
            None => self.0.push((name.to_owned(), value.into())),
        }
    }

    /// Keeps only the headers for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }

    /// Iterates over (name, value) pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits a list header value on commas that are outside quotes and angle brackets.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    split_commas(value).map(str::trim).filter(|p| !p.is_empty())
}

/// Byte offset where the header-level parameters of a value start (after `>` in a name-addr,
/// else at the first `;`), skipping quoted display names.
fn params_start(value: &str) -> Option<usize> {
    let (i, ch) = outside(value).find(|&(_, ch)| ch == '<' || ch == ';')?;
    if ch == ';' {
        return Some(i);
    }
    let from = i + value.get(i..)?.find('>')? + 1;
    value.get(from..)?.find(';').map(|p| from + p)
}

/// A header-level parameter (`;name=value` or a bare `;name` as an empty string), e.g. the
/// `tag` of From/To or the `branch` of Via. Parameter names are case-insensitive.
pub fn header_param(value: &str, name: &str) -> Option<String> {
    let start = params_start(value)?;
    for param in value[start..].split(';') {
        let (key, val) = match param.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (param.trim(), ""),
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(val.trim_matches('"').to_owned());
        }
    }
    None
}

/// The URI of a name-addr or addr-spec value (`"Bob" <sip:b@h>;tag=1` → `sip:b@h`).
pub fn name_addr_uri(value: &str) -> Option<&str> {
    let value = value.trim();
    let mut scan = Scan::new(value);
    if let Some((open, _, _)) = scan.find(|&(_, ch, spot)| ch == '<' && spot == Spot::Outside) {
        let rest = value.get(open + 1..)?;
        let uri = rest.get(..rest.find('>')?)?.trim();
        return (!uri.is_empty()).then_some(uri);
    }
    if scan.in_quotes() {
        return None;
    }
    // addr-spec form: parameters after the first ';' belong to the header, not the URI.
    let uri = value.split(';').next().unwrap_or_default().trim();
    (!uri.is_empty() && !uri.contains(char::is_whitespace)).then_some(uri)
}

/// Makes untrusted text safe as a header value: drops CR, LF and other control characters
/// (they could inject headers), turns tabs into spaces and caps the length at a char boundary.
pub fn sanitize_header_value(text: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_len));
    for ch in text.chars() {
        let ch = if ch == '\t' { ' ' } else { ch };
        if ch.is_control() {
            continue;
        }
        if out.len() + ch.len_utf8() > max_len {
            break;
        }
        out.push(ch);
    }
    out.trim().to_owned()
}
