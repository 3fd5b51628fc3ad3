//! The SBC's current trunks, replaceable at run time: validated configs, their TLS clients,
//! and what the SIP task needs to know of them (addresses to trust, keep-alive probes).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tracing::warn;

use super::{resolve_all, tls, SbcError};
use crate::trunk::{Transport, TrunkConfig};

/// One keep-alive probe: trunk name, address, interval.
pub(super) type Probe = (String, SocketAddr, Duration);

/// A validated set of trunks by name, with a TLS client for each TLS trunk.
#[derive(Debug, Default)]
pub(super) struct TrunkSet {
    pub(super) trunks: HashMap<String, TrunkConfig>,
    /// TLS clients of the trunks that use TLS, by trunk name.
    pub(super) tls: HashMap<String, tls::TrunkTls>,
}

impl TrunkSet {
    /// Validates `list` (names unique) and builds TLS clients, reusing those of `previous`
    /// whose trunk did not change (the platform's roots are read only when a new one needs
    /// them).
    pub(super) fn build(list: Vec<TrunkConfig>, previous: &TrunkSet) -> Result<Self, SbcError> {
        let mut trunks = HashMap::new();
        for trunk in list {
            trunk.validate()?;
            if trunks.contains_key(&trunk.name) {
                return Err(SbcError::DuplicateTrunk(trunk.name));
            }
            trunks.insert(trunk.name.clone(), trunk);
        }
        let mut platform = None;
        let mut tls = HashMap::new();
        for trunk in trunks.values().filter(|t| t.transport == Transport::Tls) {
            let unchanged = previous.trunks.get(&trunk.name) == Some(trunk);
            if let Some(client) = previous.tls.get(&trunk.name).filter(|_| unchanged) {
                tls.insert(trunk.name.clone(), client.clone());
                continue;
            }
            let roots = match trunk.tls_ca_file {
                Some(_) => rustls::RootCertStore::empty(),
                None => platform.get_or_insert_with(tls::platform_roots).clone(),
            };
            let client = tls::TrunkTls::new(trunk, &roots).map_err(SbcError::from)?;
            tls.insert(trunk.name.clone(), client);
        }
        Ok(TrunkSet { trunks, tls })
    }

    /// Whether `list` holds exactly the trunks of this set.
    pub(super) fn same_as(&self, list: &[TrunkConfig]) -> bool {
        list.len() == self.trunks.len()
            && list
                .iter()
                .all(|t| self.trunks.get(&t.name).is_some_and(|have| have == t))
    }

    /// Resolves every trunk: the addresses to trust and the keep-alive probes (UDP trunks
    /// with `keepalive_s`, on an address of the family we advertise). A trunk that does not
    /// resolve yet is logged and left out; placing a call resolves again.
    pub(super) async fn locate(
        &self,
        dns: &super::Locator,
        advertised: SocketAddr,
    ) -> (HashSet<IpAddr>, Vec<Probe>) {
        let mut trusted = HashSet::new();
        let mut probes = Vec::new();
        for trunk in self.trunks.values() {
            match resolve_all(dns, trunk).await {
                Ok(addrs) => {
                    trusted.extend(addrs.iter().map(|a| a.ip()));
                    let same_family = addrs.iter().find(|a| a.is_ipv4() == advertised.is_ipv4());
                    if let Some(addr) = same_family.filter(|_| trunk.keepalive_s > 0) {
                        if trunk.transport == Transport::Udp {
                            let every = Duration::from_secs(trunk.keepalive_s);
                            probes.push((trunk.name.clone(), *addr, every));
                        }
                    }
                }
                Err(err) => warn!(trunk = %trunk.name, %err, "trunk not resolved yet"),
            }
        }
        (trusted, probes)
    }
}
