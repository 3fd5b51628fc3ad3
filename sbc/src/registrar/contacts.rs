//! What a REGISTER asks for (RFC 3261 §10.2): its Contact entries with their expiry, or the
//! `*` that removes every binding.

use crate::sip::{header_param, name_addr_uri, split_list, Request};

/// One Contact entry of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The contact URI as the device wrote it.
    pub uri: String,
    /// Its `expires` parameter, else the request's Expires header; None when neither.
    pub expires: Option<u32>,
}

/// The binding change a REGISTER asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// No Contact: list the current bindings (§10.2.3).
    Query,
    /// `Contact: *` with `Expires: 0`: remove them all (§10.2.2).
    RemoveAll,
    /// Add, refresh or (expires 0) remove these.
    Update(Vec<Wanted>),
}

/// Why a REGISTER's contacts cannot be read; each is a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadContacts {
    /// An Expires header or `expires` parameter that is not a number of seconds.
    Expires,
    /// `*` with other entries or without `Expires: 0` (§10.3 step 6).
    Wildcard,
    /// An entry with no URI in it.
    Contact,
}

impl BadContacts {
    /// The reason phrase of the 400.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Expires => "Bad Expires",
            Self::Wildcard => "Invalid Wildcard Contact",
            Self::Contact => "Bad Contact",
        }
    }
}

/// Seconds in delta-seconds syntax (digits only); values beyond u32 saturate (§20.19).
fn seconds(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<u64>()
            .map_or(u32::MAX, |s| s.min(u64::from(u32::MAX)) as u32),
    )
}

/// Reads what `req` asks for.
pub fn asked(req: &Request) -> Result<Asked, BadContacts> {
    let header_expires = match req.headers.get("Expires") {
        None => None,
        Some(v) => Some(seconds(v).ok_or(BadContacts::Expires)?),
    };
    let entries: Vec<&str> = req
        .headers
        .get_all("Contact")
        .flat_map(split_list)
        .collect();
    if entries.is_empty() {
        return Ok(Asked::Query);
    }
    if entries.iter().any(|e| e.trim() == "*") {
        return if entries.len() == 1 && header_expires == Some(0) {
            Ok(Asked::RemoveAll)
        } else {
            Err(BadContacts::Wildcard)
        };
    }
    let mut wanted = Vec::with_capacity(entries.len());
    for entry in entries {
        let uri = name_addr_uri(entry).ok_or(BadContacts::Contact)?;
        let expires = match header_param(entry, "expires") {
            Some(v) => Some(seconds(&v).ok_or(BadContacts::Expires)?),
            None => header_expires,
        };
        wanted.push(Wanted {
            uri: uri.to_owned(),
            expires,
        });
    }
    Ok(Asked::Update(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Method;

    fn register(headers: &[(&str, &str)]) -> Request {
        let mut req = Request::new(Method::Register, "sip:c2c.example");
        for (name, value) in headers {
            req.headers.push(*name, *value);
        }
        req
    }

    #[test]
    fn reads_each_form_of_contact() {
        assert_eq!(asked(&register(&[])), Ok(Asked::Query));
        assert_eq!(
            asked(&register(&[("Contact", "*"), ("Expires", "0")])),
            Ok(Asked::RemoveAll)
        );
        let two = register(&[
            (
                "Contact",
                "<sip:a@192.0.2.1:5060>;expires=60, \"Desk\" <sip:a@192.0.2.2>",
            ),
            ("Expires", "120"),
        ]);
        assert_eq!(
            asked(&two),
            Ok(Asked::Update(vec![
                Wanted {
                    uri: "sip:a@192.0.2.1:5060".into(),
                    expires: Some(60)
                },
                Wanted {
                    uri: "sip:a@192.0.2.2".into(),
                    expires: Some(120)
                },
            ]))
        );
        let huge = register(&[("Contact", "<sip:a@h>;expires=99999999999999")]);
        assert_eq!(
            asked(&huge),
            Ok(Asked::Update(vec![Wanted {
                uri: "sip:a@h".into(),
                expires: Some(u32::MAX)
            }]))
        );
    }

    #[test]
    fn refuses_what_rfc_3261_calls_malformed() {
        for (headers, why) in [
            (vec![("Contact", "*")], BadContacts::Wildcard),
            (
                vec![("Contact", "*"), ("Expires", "5")],
                BadContacts::Wildcard,
            ),
            (
                vec![("Contact", "*, <sip:a@h>"), ("Expires", "0")],
                BadContacts::Wildcard,
            ),
            (
                vec![("Contact", "<sip:a@h>"), ("Expires", "-1")],
                BadContacts::Expires,
            ),
            (
                vec![("Contact", "<sip:a@h>;expires=1é")],
                BadContacts::Expires,
            ),
            (vec![("Contact", "\"only a name\"")], BadContacts::Contact),
        ] {
            assert_eq!(asked(&register(&headers)), Err(why), "{headers:?}");
        }
    }
}
