//! Web-session numbers: caller-ID numbers lent to one web session at a time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// A number lent to a web session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionNumber {
    /// The E.164 number.
    pub number: String,
    /// The session it identifies.
    pub session_id: String,
    /// Unix seconds when it returns to the pool.
    pub expires_at: i64,
}

#[derive(Debug, Default)]
struct Pool {
    /// Free numbers, least recently used first.
    free: VecDeque<String>,
    /// Active leases by number.
    leased: HashMap<String, SessionNumber>,
}

/// The leases of every campaign's pool. Single-node, in memory until storage lands.
#[derive(Debug, Default)]
pub struct NumberLeases {
    pools: Mutex<HashMap<String, Pool>>,
}

impl NumberLeases {
    /// Empty: pools are created on first use from the campaign's numbers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lends the least recently used free number of `campaign` to `session_id` until
    /// `now + lease_s`; None when every number is leased.
    pub fn lease(
        &self,
        campaign: &str,
        numbers: &[String],
        session_id: &str,
        now: i64,
        lease_s: i64,
    ) -> Option<SessionNumber> {
        let mut pools = match self.pools.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let pool = pools.entry(campaign.to_owned()).or_insert_with(|| Pool {
            free: numbers.iter().cloned().collect(),
            leased: HashMap::new(),
        });
        // Expired leases go back in expiry order, so the longest-idle number is reused first.
        let mut expired: Vec<SessionNumber> = pool
            .leased
            .values()
            .filter(|l| l.expires_at <= now)
            .cloned()
            .collect();
        expired.sort_by_key(|l| l.expires_at);
        for l in expired {
            pool.leased.remove(&l.number);
            pool.free.push_back(l.number);
        }
        let number = pool.free.pop_front()?;
        let lease = SessionNumber {
            number: number.clone(),
            session_id: session_id.to_owned(),
            expires_at: now + lease_s,
        };
        pool.leased.insert(number, lease.clone());
        Some(lease)
    }

    /// The active lease of `number`, if any (the screen-pop lookup).
    pub fn by_number(&self, campaign: &str, number: &str, now: i64) -> Option<SessionNumber> {
        let pools = match self.pools.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        pools
            .get(campaign)?
            .leased
            .get(number)
            .filter(|l| l.expires_at > now)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("+1555010000{i}")).collect()
    }

    #[test]
    fn numbers_are_unique_while_leased_and_exhaustion_is_reported() {
        let l = NumberLeases::new();
        let a = l.lease("c", &nums(2), "s1", 0, 100).expect("a");
        let b = l.lease("c", &nums(2), "s2", 0, 100).expect("b");
        assert_ne!(a.number, b.number);
        assert_eq!(l.lease("c", &nums(2), "s3", 50, 100), None);
        assert_eq!(
            l.by_number("c", &a.number, 50).map(|x| x.session_id),
            Some("s1".into())
        );
    }

    #[test]
    fn expired_numbers_return_least_recently_used_first() {
        let l = NumberLeases::new();
        let a = l.lease("c", &nums(2), "s1", 0, 10).expect("a");
        let b = l.lease("c", &nums(2), "s2", 5, 10).expect("b");
        let c = l.lease("c", &nums(2), "s3", 20, 10).expect("c");
        assert_eq!(c.number, a.number);
        let d = l.lease("c", &nums(2), "s4", 20, 10).expect("d");
        assert_eq!(d.number, b.number);
    }
}
