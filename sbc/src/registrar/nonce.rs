//! Stateless digest nonces: the time they were made and an HMAC over that time and the
//! address the challenge went to. The registrar keeps no table of nonces, so a flood of
//! unauthenticated REGISTERs costs no memory, and a nonce works only from the address it was
//! given to: a REGISTER captured and replayed from elsewhere cannot move a binding there.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;

/// Bytes of the HMAC kept in a nonce (128 bits).
const MAC_LEN: usize = 16;

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Ours, for this address, and young enough.
    Fresh,
    /// Ours and for this address, but past its lifetime (answer with `stale=true`).
    Stale,
    /// Not one of ours, or for another address, or from a previous run.
    Foreign,
}

/// Makes and checks nonces with a key held by this process.
#[derive(Debug)]
pub struct Nonces {
    key: hmac::Key,
    epoch: Instant,
    lifetime: Duration,
}

impl Nonces {
    /// Nonces under `key`, counting time from `epoch`, valid for `lifetime`.
    pub fn new(key: &[u8; 32], epoch: Instant, lifetime: Duration) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            epoch,
            lifetime,
        }
    }

    /// A nonce for a challenge sent to `to` at `now`.
    pub fn issue(&self, to: SocketAddr, now: Instant) -> String {
        let at = now.saturating_duration_since(self.epoch).as_secs();
        format!("{at:x}.{}", self.mac(at, to))
    }

    /// What `nonce`, presented by `from` at `now`, is.
    pub fn check(&self, nonce: &str, from: SocketAddr, now: Instant) -> Freshness {
        let Some((at, mac)) = nonce.split_once('.') else {
            return Freshness::Foreign;
        };
        if at.is_empty() || at.len() > 16 {
            return Freshness::Foreign;
        }
        let Ok(at) = u64::from_str_radix(at, 16) else {
            return Freshness::Foreign;
        };
        let expected = self.mac(at, from);
        if aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), mac.as_bytes())
            .is_err()
        {
            return Freshness::Foreign;
        }
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .checked_sub(at);
        match age {
            None => Freshness::Foreign, // from the future: not something we issued
            Some(age) if age > self.lifetime.as_secs() => Freshness::Stale,
            Some(_) => Freshness::Fresh,
        }
    }

    fn mac(&self, at: u64, to: SocketAddr) -> String {
        let tag = hmac::sign(&self.key, format!("{at:x}|{to}").as_bytes());
        tag.as_ref()
            .iter()
            .take(MAC_LEN)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_fresh_then_stale_and_only_from_its_address() {
        let start = Instant::now();
        let nonces = Nonces::new(&[7; 32], start, Duration::from_secs(300));
        let agent: SocketAddr = "192.0.2.10:5060".parse().expect("addr");
        let nonce = nonces.issue(agent, start + Duration::from_secs(5));
        assert_eq!(
            nonces.check(&nonce, agent, start + Duration::from_secs(300)),
            Freshness::Fresh
        );
        assert_eq!(
            nonces.check(&nonce, agent, start + Duration::from_secs(306)),
            Freshness::Stale
        );
        let elsewhere: SocketAddr = "192.0.2.10:5061".parse().expect("addr");
        assert_eq!(
            nonces.check(&nonce, elsewhere, start + Duration::from_secs(6)),
            Freshness::Foreign
        );
        let other_run = Nonces::new(&[8; 32], start, Duration::from_secs(300));
        assert_eq!(
            other_run.check(&nonce, agent, start + Duration::from_secs(6)),
            Freshness::Foreign
        );
        for junk in ["", ".", "zz.00", "ffffffffffffffffff.00", "é.é", "5"] {
            assert_eq!(
                nonces.check(junk, agent, start),
                Freshness::Foreign,
                "{junk}"
            );
        }
        // Issued "later" than now: forged time, even with a valid MAC it is not ours.
        let future = nonces.issue(agent, start + Duration::from_secs(100));
        assert_eq!(
            nonces.check(&future, agent, start + Duration::from_secs(50)),
            Freshness::Foreign
        );
    }
}
