//! Locating a trunk (RFC 3263 §4): an IP literal is used as is; a name with an explicit port
//! is looked up by A/AAAA; a name without one by SRV (`_sip._udp`, `_sip._tcp`, `_sips._tcp`
//! per transport), its targets ordered by priority and weight (RFC 2782) and each looked up by
//! A/AAAA; a name without SRV records falls back to A/AAAA on the transport's default port.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::trunk::{Transport, TrunkConfig};

/// How long one DNS query may take; a trunk that cannot be located fails over quickly.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Share of traffic among records of the same priority.
    pub weight: u16,
    /// Port to use at the target.
    pub port: u16,
    /// Host name of the target.
    pub target: String,
}

/// Why a trunk could not be located.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The system resolver configuration could not be read.
    #[error("resolver configuration: {0}")]
    Config(String),
    /// No address was found.
    #[error("{0} did not resolve")]
    NotFound(String),
}

/// Orders SRV records as RFC 2782 says: by priority, and within a priority by a weighted
/// random draw (`draw(n)` returns a number in `0..=n`).
pub fn order_srv(mut records: Vec<SrvRecord>, mut draw: impl FnMut(u32) -> u32) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let p = records[0].priority;
        let end = records
            .iter()
            .position(|r| r.priority != p)
            .unwrap_or(records.len());
        let mut group: Vec<SrvRecord> = records.drain(..end).collect();
        // Zero-weight records first, so they get a (small) chance (RFC 2782 "Usage rules").
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = draw(total);
            let mut running = 0u32;
            let idx = group
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(idx));
        }
    }
    out
}

/// The DNS client of the SBC.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

impl Dns {
    /// The system's resolvers (`/etc/resolv.conf`, `/etc/hosts`).
    pub fn system() -> Result<Self, DnsError> {
        let mut builder =
            TokioResolver::builder_tokio().map_err(|e| DnsError::Config(e.to_string()))?;
        builder.options_mut().timeout = QUERY_TIMEOUT;
        builder.options_mut().attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(Dns { resolver })
    }

    /// One name server (tests, or a dedicated resolver for trunks).
    pub fn with_nameserver(server: SocketAddr) -> Result<Self, DnsError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let ns = NameServerConfig::new(server.ip(), true, vec![udp]);
        let config = ResolverConfig::from_name_servers(vec![ns]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        builder.options_mut().timeout = QUERY_TIMEOUT;
        builder.options_mut().attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Config(e.to_string()))?;
        Ok(Dns { resolver })
    }

    /// Every address of the trunk, in the order to try them.
    pub async fn locate(&self, trunk: &TrunkConfig) -> Result<Vec<SocketAddr>, DnsError> {
        let host = trunk.host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, trunk.port_or_default())]);
        }
        let fqdn = if host.ends_with('.') {
            host.to_string()
        } else {
            format!("{host}.")
        };
        if trunk.port == 0 {
            let service = match trunk.transport {
                Transport::Udp => "_sip._udp",
                Transport::Tcp => "_sip._tcp",
                Transport::Tls => "_sips._tcp",
            };
            let records = self.srv(&format!("{service}.{fqdn}")).await;
            if !records.is_empty() {
                let mut out = Vec::new();
                for r in order_srv(records, |n| rand::random_range(0..=n)) {
                    for ip in self.ips(&r.target).await {
                        out.push(SocketAddr::new(ip, r.port));
                    }
                }
                if !out.is_empty() {
                    return Ok(out);
                }
            }
        }
        let ips = self.ips(&fqdn).await;
        if ips.is_empty() {
            return Err(DnsError::NotFound(trunk.host.clone()));
        }
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, trunk.port_or_default()))
            .collect())
    }

    async fn srv(&self, name: &str) -> Vec<SrvRecord> {
        match self.resolver.srv_lookup(name).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => Some(SrvRecord {
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target: srv.target.to_string(),
                    }),
                    _ => None,
                })
                // "." as target means the service is decidedly not available (RFC 2782).
                .filter(|r| r.target != ".")
                .collect(),
            Err(e) => {
                tracing::debug!(%name, error = %e, "no SRV records");
                Vec::new()
            }
        }
    }

    async fn ips(&self, name: &str) -> Vec<IpAddr> {
        match self.resolver.lookup_ip(name).await {
            Ok(lookup) => lookup.iter().collect(),
            Err(e) => {
                tracing::debug!(%name, error = %e, "no address records");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn lower_priority_always_comes_first() {
        let order = order_srv(
            vec![rec(20, 100, "b"), rec(10, 0, "a"), rec(30, 5, "c")],
            |_| 0,
        );
        let names: Vec<_> = order.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn weights_share_the_first_place_in_proportion() {
        // Draw every possible number once: "heavy" (weight 3) must win 3 of 4 draws.
        let mut wins = std::collections::HashMap::new();
        for n in 0..=4u32 {
            let first = order_srv(vec![rec(10, 1, "light"), rec(10, 3, "heavy")], |_| n)
                .remove(0)
                .target;
            *wins.entry(first).or_insert(0) += 1;
        }
        // Draw 0 and 1 land on "light" (running sum 1 ≥ n), 2..=4 on "heavy".
        assert_eq!(wins.get("heavy"), Some(&3));
        assert_eq!(wins.get("light"), Some(&2));
    }

    #[test]
    fn every_record_is_kept_once() {
        let records = vec![
            rec(1, 0, "a"),
            rec(1, 0, "b"),
            rec(1, 7, "c"),
            rec(2, 1, "d"),
        ];
        let mut order = order_srv(records.clone(), |n| n / 2);
        order.sort_by(|a, b| a.target.cmp(&b.target));
        assert_eq!(order, records);
    }
}
