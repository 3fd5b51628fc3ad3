//! The networks trunks may live in (`[sip] trunk_networks`): a tenant who enters a trunk in
//! the dashboard must not be able to point our SIP at the operator's own infrastructure (a
//! carrier gateway that trusts our address would carry the tenant's calls on the operator's
//! account) or at other internal hosts.

use std::net::IpAddr;

use thiserror::Error;

/// One `address/prefix` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    addr: IpAddr,
    prefix: u8,
}

/// An allow-list of address blocks; empty allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks {
    blocks: Vec<Block>,
}

/// A block that is not `address/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a network like 203.0.113.0/24 or 2001:db8::/32")]
pub struct NetworkError(pub String);

impl Networks {
    /// Parses `address/prefix` blocks (a bare address is a single host).
    pub fn parse(blocks: &[String]) -> Result<Self, NetworkError> {
        let blocks = blocks
            .iter()
            .map(|b| parse_block(b.trim()).ok_or_else(|| NetworkError(b.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Networks { blocks })
    }

    /// Whether trunks may use `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.blocks.is_empty() || self.blocks.iter().any(|b| b.contains(ip))
    }

    /// Whether every address is allowed.
    pub fn is_open(&self) -> bool {
        self.blocks.is_empty()
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

fn canonical(ip: IpAddr) -> IpAddr {
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
    fn an_empty_list_allows_everything_and_bad_blocks_are_refused() {
        assert!(Networks::default().allows(ip("10.0.0.1")));
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
