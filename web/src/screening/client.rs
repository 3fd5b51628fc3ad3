//! Which client a request comes from, for per-client limits.

use std::net::IpAddr;

/// The key a client is limited by: its IPv4 address, or the /64 of its IPv6 address (one
/// subscriber's prefix, inside which a host may pick any address it likes).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> String {
        client_key(s.parse().expect("ip"))
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
}
