//! Who a call goes to: a number (or user part) dialled at the trunk, or an agent's `sip:` URI
//! reached through the trunk as the outbound proxy. One parser for the campaign editor, the
//! config file and the INVITE, so what the dashboard accepts is exactly what can be called.

use thiserror::Error;

use crate::e164;

/// Longest destination or caller number we accept.
pub const MAX_NUMBER_LEN: usize = 64;
/// Longest host name of a `sip:` destination.
const MAX_HOST_LEN: usize = 253;

/// A callee, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// E.164 number or user part, dialled at the trunk's host (`sip:NUM@trunk`).
    Number(String),
    /// `sip:user@host[:port]`: the Request-URI is the agent's own address; the trunk routes it.
    Uri {
        /// User part.
        user: String,
        /// Host name, IPv4 address or `[IPv6]` reference.
        host: String,
        /// Port, when given.
        port: Option<u16>,
    },
}

/// Why a destination or number is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestinationError {
    /// Not a number of 1-64 allowed characters.
    #[error("invalid {0}: expected 1-{MAX_NUMBER_LEN} of 0-9 A-Z a-z + * # . _ -")]
    InvalidNumber(&'static str),
    /// A `sip:` destination that is not exactly `sip:user@host[:port]`.
    #[error("invalid {0}: expected sip:user@host or sip:user@host:port, without parameters")]
    InvalidUri(&'static str),
}

impl Destination {
    /// Parses a destination (`what` names it in the error): `sip:` URIs as such, anything else
    /// as a number after E.164 normalisation (`+49 (30) 123` → `+4930123`).
    pub fn parse(text: &str, what: &'static str) -> Result<Self, DestinationError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("sip:") {
            return parse_uri(rest).ok_or(DestinationError::InvalidUri(what));
        }
        let number = e164::normalize(text);
        check_number(&number, what)?;
        Ok(Destination::Number(number))
    }
}

/// Checks a number or user part: 1-64 of `0-9 A-Z a-z + * # . _ -`.
pub fn check_number(text: &str, what: &'static str) -> Result<(), DestinationError> {
    let ok = !text.is_empty() && text.len() <= MAX_NUMBER_LEN && text.chars().all(number_char);
    ok.then_some(())
        .ok_or(DestinationError::InvalidNumber(what))
}

fn number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+*#._-".contains(c)
}

/// `user@host[:port]`, strictly: nothing that could add parameters, headers or a second URI.
fn parse_uri(rest: &str) -> Option<Destination> {
    let (user, hostport) = rest.split_once('@')?;
    check_number(user, "user").ok()?;
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']')?;
            addr.parse::<std::net::Ipv6Addr>().ok()?;
            (format!("[{addr}]"), after)
        }
        None => match hostport.split_once(':') {
            Some((h, _)) => (h.to_owned(), &hostport[h.len()..]),
            None => (hostport.to_owned(), ""),
        },
    };
    let port = match port {
        "" => None,
        p => Some(
            p.strip_prefix(':')?
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)?,
        ),
    };
    let host_ok = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && (host.starts_with('[')
            || host.split('.').all(|l| {
                !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    host_ok.then(|| Destination::Uri {
        user: user.to_owned(),
        host: host.to_ascii_lowercase(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(user: &str, host: &str, port: Option<u16>) -> Destination {
        Destination::Uri {
            user: user.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn numbers_are_normalised_and_uris_kept() {
        let p = |t| Destination::parse(t, "destination");
        assert_eq!(
            p("+49 (30) 123-456"),
            Ok(Destination::Number("+4930123456".into()))
        );
        assert_eq!(p("1001"), Ok(Destination::Number("1001".into())));
        assert_eq!(
            p("sip:agent.7@PBX.example"),
            Ok(uri("agent.7", "pbx.example", None))
        );
        assert_eq!(
            p("sip:100@10.0.0.5:5080"),
            Ok(uri("100", "10.0.0.5", Some(5080)))
        );
        assert_eq!(
            p("sip:100@[2001:db8::1]:5060"),
            Ok(uri("100", "[2001:db8::1]", Some(5060)))
        );
        assert_eq!(
            p("sip:100@[2001:db8::1]"),
            Ok(uri("100", "[2001:db8::1]", None))
        );
    }

    #[test]
    fn anything_that_could_smuggle_routing_is_refused() {
        for bad in [
            "",
            "1 x 2",
            "+1555\r\nX: y",
            "sip:evil@host>;x",
            "sip:evil@host;transport=tcp",
            "sip:evil@host?Route=x",
            "sip:a b@host",
            "sip:@host",
            "sip:user@",
            "sip:user@host:0",
            "sip:user@host:99999",
            "sip:user@host:",
            "sip:user@a..b",
            "sip:user@[::1",
            "sip:user@[nothex]",
            "sip:a@b@c",
            "sips:user@host",
            "tel:+15550100",
            &"1".repeat(65),
        ] {
            assert!(Destination::parse(bad, "destination").is_err(), "{bad:?}");
        }
    }
}
