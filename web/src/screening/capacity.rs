//! Calls in progress per campaign, for the max-concurrent-calls screen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Live call counts per campaign, shared by the web side (screening) and the gateway (calls).
#[derive(Debug, Default, Clone)]
pub struct ActiveCalls {
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// One call's place in its campaign's count; released when dropped.
#[derive(Debug)]
pub struct CallSlot {
    calls: ActiveCalls,
    campaign: String,
}

impl ActiveCalls {
    /// No calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls in progress for `campaign`.
    pub fn count(&self, campaign: &str) -> u32 {
        self.lock().get(campaign).copied().unwrap_or(0)
    }

    /// Calls in progress across every campaign.
    pub fn total(&self) -> u32 {
        self.lock().values().sum()
    }

    /// Counts a call for `campaign` until the returned slot drops.
    pub fn start(&self, campaign: &str) -> CallSlot {
        *self.lock().entry(campaign.to_owned()).or_insert(0) += 1;
        CallSlot {
            calls: self.clone(),
            campaign: campaign.to_owned(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        match self.counts.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut counts = self.calls.lock();
        if let Some(n) = counts.get_mut(&self.campaign) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.campaign);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_while_alive() {
        let a = ActiveCalls::new();
        let s1 = a.start("c");
        let s2 = a.start("c");
        let other = a.start("d");
        assert_eq!(a.count("c"), 2);
        assert_eq!(a.total(), 3);
        drop(s1);
        assert_eq!(a.count("c"), 1);
        drop(s2);
        assert_eq!(a.count("c"), 0);
        drop(other);
        assert_eq!(a.total(), 0);
    }
}
