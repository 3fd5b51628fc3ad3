//! The record of token ids already used, so each token places at most one call.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::TokenError;

/// A boxed future, so ledgers can be used as trait objects.
pub type LedgerFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, TokenError>> + Send + 'a>>;

/// Where spent token ids are recorded. A cluster shares one (the database); a single node may
/// use [`UsedTokenIds`].
pub trait TokenLedger: Send + Sync {
    /// Records `jti` (its token valid until `exp`); resolves to false when it was already
    /// recorded, by this node or any other sharing the ledger.
    fn claim<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> LedgerFuture<'a>;
}

/// Token ids seen by this node, in memory, kept until their token would have expired anyway.
///
/// Single-node only: a cluster needs the database-backed ledger (the `used_token_ids` table).
#[derive(Debug, Default)]
pub struct UsedTokenIds {
    inner: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    seen: HashSet<String>,
    /// (expiry, jti) in arrival order; expiries are near-monotonic because every token has the
    /// same lifetime, so expired ids are forgotten from the front in O(1) each.
    by_expiry: VecDeque<(i64, String)>,
}

impl UsedTokenIds {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `jti` (valid until `exp`); false when it was already recorded.
    pub fn claim(&self, jti: &str, exp: i64, now: i64) -> bool {
        let mut l = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // An id whose token has expired can never verify again, so forgetting it is safe.
        while l
            .by_expiry
            .front()
            .is_some_and(|(e, _)| e.saturating_add(crate::CLOCK_SKEW_S) < now)
        {
            if let Some((_, old)) = l.by_expiry.pop_front() {
                l.seen.remove(&old);
            }
        }
        if !l.seen.insert(jti.to_owned()) {
            return false;
        }
        l.by_expiry.push_back((exp, jti.to_owned()));
        true
    }

    /// How many ids are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().map(|l| l.seen.len()).unwrap_or(0)
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TokenLedger for UsedTokenIds {
    fn claim<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> LedgerFuture<'a> {
        let fresh = UsedTokenIds::claim(self, jti, exp, now);
        Box::pin(async move { Ok(fresh) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_once_and_forgotten_after_expiry() {
        let l = UsedTokenIds::new();
        assert!(l.claim("a", 100, 50));
        assert!(!l.claim("a", 100, 60));
        assert!(l.claim("b", 200, 60));
        assert_eq!(l.len(), 2);
        // Past a's expiry plus skew, a is forgotten; b is kept.
        assert!(l.claim("c", 300, 106));
        assert_eq!(l.len(), 2);
        assert!(!l.claim("b", 200, 106));
    }
}
