//! The record of token ids already used, so each token places at most one call.

use std::collections::HashMap;
use std::sync::Mutex;

/// Token ids seen by this node, kept until their token would have expired anyway.
///
/// Single-node only: a cluster needs the database-backed ledger (the `used_token_ids` table).
#[derive(Debug, Default)]
pub struct UsedTokenIds {
    seen: Mutex<HashMap<String, i64>>,
}

impl UsedTokenIds {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `jti` (valid until `exp`); false when it was already recorded.
    pub fn claim(&self, jti: &str, exp: i64, now: i64) -> bool {
        let mut seen = match self.seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if seen.len() > 1024 {
            // Expired ids can never verify again, so forgetting them is safe.
            seen.retain(|_, e| *e + super::CLOCK_SKEW_S >= now);
        }
        if seen.contains_key(jti) {
            return false;
        }
        seen.insert(jti.to_owned(), exp);
        true
    }
}
