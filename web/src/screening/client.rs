//! Which client a request comes from, for per-client limits and records.
//!
//! Behind a load balancer every connection comes from the balancer, so the client's address
//! is in `Forwarded` (RFC 7239) or `X-Forwarded-For`. Those headers are the client's to
//! write, so they are read only when the connection comes from one of `[http]
//! trusted_proxies`, and then from the right: each trusted proxy appended the address it saw,
//! and the rightmost address that is not a trusted proxy is the client. Whatever lies left of
//! it was written by the client and is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use c2c_sbc::networks::{canonical, Networks};

use crate::AppState;

/// The key a client is limited by: its IPv4 address, or the /64 of its IPv6 address (one
/// subscriber's prefix, inside which a host may pick any address it likes).
pub fn client_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
    }
}

/// The client's address (see the module doc): an extractor for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Without connection info (never, when served) nothing can be trusted either.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            state.config.trusted_proxies.as_ref(),
        )))
    }
}

/// The client behind `peer`, reading the forwarding headers only when `peer` is a trusted
/// proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: Option<&Networks>) -> IpAddr {
    let peer = canonical(peer);
    let Some(trusted) = trusted else {
        return peer;
    };
    if !trusted.allows(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_hops(headers).iter().rev() {
        match hop {
            // A hop we cannot read was written by someone we do not trust: stop here.
            None => break,
            Some(ip) => {
                client = *ip;
                if !trusted.allows(*ip) {
                    break;
                }
            }
        }
    }
    client
}

/// The addresses of `Forwarded` (when present) or else `X-Forwarded-For`, left to right,
/// over every line of the header; None for an entry that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let lines = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().map(str::to_owned).unwrap_or_default())
            .collect()
    };
    let forwarded = lines("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                let node = element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
                })?;
                parse_node(node.trim_matches('"'))
            })
            .collect();
    }
    lines("x-forwarded-for")
        .iter()
        .flat_map(|line| line.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// An address as forwarding headers write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`
/// or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    let inner = node.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn key(s: &str) -> String {
        client_key(s.parse().expect("ip"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        h
    }

    #[test]
    fn ipv6_hosts_of_one_prefix_are_one_client() {
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            key("::ffff:203.0.113.9"),
            "203.0.113.9",
            "mapped IPv4 is IPv4"
        );
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = Networks::parse(&["10.0.0.0/8".to_string()]).expect("networks");
        let spoof = headers(&[("x-forwarded-for", "198.51.100.1")]);
        // No proxy configured, or a connection from elsewhere: the header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.5"), &spoof, None),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(ip("203.0.113.5"), &spoof, Some(&proxies)),
            ip("203.0.113.5")
        );
        // From the proxy: the rightmost untrusted address; what the client prepended loses.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.9")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &chain, Some(&proxies)),
            ip("198.51.100.7")
        );
        let lines = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &lines, Some(&proxies)),
            ip("198.51.100.8")
        );
        // Garbage to the right of the client's hop stops the walk at the last trusted hop.
        let junk = headers(&[("x-forwarded-for", "198.51.100.7, not-an-ip")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &junk, Some(&proxies)),
            ip("10.0.0.2")
        );
        // Only proxies: the leftmost.
        let inside = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.9")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &inside, Some(&proxies)),
            ip("10.1.1.1")
        );
        // No header from the proxy: the proxy itself.
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), Some(&proxies)),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_every_form() {
        let proxies = Networks::parse(&["10.0.0.0/8".to_string()]).expect("networks");
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("x-forwarded-for", "198.51.100.99"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, Some(&proxies)),
            ip("2001:db8:cafe::17")
        );
        let v4port = headers(&[("forwarded", "for=\"192.0.2.61:8080\"")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &v4port, Some(&proxies)),
            ip("192.0.2.61")
        );
        let hidden = headers(&[("forwarded", "for=_hidden, for=192.0.2.62")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &hidden, Some(&proxies)),
            ip("192.0.2.62")
        );
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &unknown, Some(&proxies)),
            ip("10.0.0.2")
        );
    }
}
