//! The networks trunks may live in (`[sip] trunk_networks`): a tenant who enters a trunk in
//! the dashboard must not be able to point our SIP at the operator's own infrastructure (a
//! carrier gateway that trusts our address would carry the tenant's calls on the operator's
//! account) or at other internal hosts.
//!
//! It holds for every address the SBC sends to: the trunk, the Contact and Record-Route
//! targets of its dialogs, and the media addresses of its SDP. With no list configured only
//! public addresses are allowed: loopback, private, link-local (the cloud metadata address
//! 169.254.169.254 among them), unique-local and other special-purpose ranges must be
//! listed to be used.

use std::net::IpAddr;

use thiserror::Error;

/// One `address/prefix` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    addr: IpAddr,
    prefix: u8,
}

/// Where the SBC may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Networks {
    policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Policy {
    /// Every address (embedders and tests that run on loopback).
    Any,
    /// These blocks, and every public address when `public` (the entry `"public"`, or an
    /// empty list).
    Listed { public: bool, blocks: Vec<Block> },
}

/// The `trunk_networks` entry that stands for every public address.
pub const PUBLIC: &str = "public";

/// A block that is not `address/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a network like 203.0.113.0/24 or 2001:db8::/32")]
pub struct NetworkError(pub String);

impl Networks {
    /// Parses `address/prefix` blocks (a bare address is a single host) and [`PUBLIC`]; an
    /// empty list allows the public addresses only.
    pub fn parse(entries: &[String]) -> Result<Self, NetworkError> {
        let mut public = entries.is_empty();
        let mut blocks = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            if entry.eq_ignore_ascii_case(PUBLIC) {
                public = true;
                continue;
            }
            blocks.push(parse_block(entry).ok_or_else(|| NetworkError(entry.to_owned()))?);
        }
        Ok(Networks {
            policy: Policy::Listed { public, blocks },
        })
    }

    /// Every address, special-purpose ones included: for embedders and tests on loopback.
    /// A configuration never produces it ([`Networks::parse`] of an empty list is public only).
    pub fn any() -> Self {
        Networks {
            policy: Policy::Any,
        }
    }

    /// Whether we may send to `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match &self.policy {
            Policy::Any => true,
            Policy::Listed { public, blocks } => {
                (*public && is_public(ip)) || blocks.iter().any(|b| b.contains(ip))
            }
        }
    }

    /// Whether every address is allowed.
    pub fn is_open(&self) -> bool {
        self.policy == Policy::Any
    }
}

/// Whether `ip` is a global unicast address: not loopback, private (RFC 1918), shared
/// (RFC 6598), link-local (RFC 3927, RFC 4291), unique-local (RFC 4193), documentation,
/// benchmarking, multicast, reserved or unspecified (the IANA special-purpose registries).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link local, fe80::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64: an IPv4 address in disguise
                || s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
        }
    }
}

impl Block {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn parse_block(text: &str) -> Option<Block> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    let addr = canonical(addr);
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some(Block { addr, prefix })
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) written as the IPv4 address
/// it is, so one host has one form.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Networks {
        Networks::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("valid")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn blocks_match_by_prefix_and_family() {
        let n = nets(&["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]);
        assert!(n.allows(ip("203.0.113.200")));
        assert!(!n.allows(ip("203.0.114.1")));
        assert!(n.allows(ip("198.51.100.7")));
        assert!(!n.allows(ip("198.51.100.8")));
        assert!(n.allows(ip("2001:db8:1::5")));
        assert!(!n.allows(ip("2001:db9::1")));
        assert!(
            n.allows(ip("::ffff:203.0.113.9")),
            "mapped IPv4 counts as IPv4"
        );
        assert!(!n.allows(ip("10.0.0.1")));
        assert!(!n.allows(ip("127.0.0.1")));
        assert!(nets(&["0.0.0.0/0"]).allows(ip("10.1.2.3")));
        assert!(!nets(&["0.0.0.0/0"]).allows(ip("::1")));
    }

    #[test]
    fn an_empty_list_allows_only_public_addresses() {
        let public = nets(&[]);
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(
                !public.allows(ip(refused)),
                "{refused} must be listed to be used"
            );
        }
        for allowed in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.4.4"] {
            assert!(public.allows(ip(allowed)), "{allowed}");
        }
        assert!(!public.is_open());
        assert!(Networks::any().allows(ip("127.0.0.1")));
        assert!(Networks::any().is_open());
        // "public" plus a private block: both.
        let both = nets(&["public", "10.1.0.0/16"]);
        assert!(both.allows(ip("8.8.8.8")) && both.allows(ip("10.1.2.3")));
        assert!(!both.allows(ip("10.2.0.1")) && !both.allows(ip("127.0.0.1")));
        assert!(
            !nets(&["10.1.0.0/16"]).allows(ip("8.8.8.8")),
            "a list without public"
        );
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0",
            "10.0.0.0/x",
            "host.example/8",
            "",
        ] {
            assert!(Networks::parse(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }
}
