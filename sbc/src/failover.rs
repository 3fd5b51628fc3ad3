//! Which trunk to try next: health first, then priority, then weighted random choice among
//! equal priorities (the RFC 2782 §"Usage rules" algorithm, as for DNS SRV targets).
//!
//! A trunk is taken as down after it failed a call attempt (no response, 503 or another
//! 5xx) for [`DOWN_HOLD`]; down trunks are still tried, last, so a call is never refused
//! only because every trunk once failed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;

/// How long a trunk that failed stays at the back of the queue.
pub const DOWN_HOLD: Duration = Duration::from_secs(30);

/// What ordering needs to know about one candidate trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Lower is tried first.
    pub priority: u16,
    /// Share among equal priorities; 0 is only chosen when nothing else is left.
    pub weight: u16,
    /// The trunk failed recently.
    pub down: bool,
}

/// Returns candidate indices in the order to try them. `roll(total)` picks a number in
/// `0..=total` (injected so tests are deterministic).
pub fn order(candidates: &[Candidate], mut roll: impl FnMut(u32) -> u32) -> Vec<usize> {
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    remaining.sort_by_key(|&i| (candidates[i].down, candidates[i].priority));
    let mut out = Vec::with_capacity(candidates.len());
    while let Some(&first) = remaining.first() {
        let key = (candidates[first].down, candidates[first].priority);
        let tier: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&i| (candidates[i].down, candidates[i].priority) == key)
            .collect();
        let mut tier = tier;
        // Zero weights first, so they are only picked when the roll lands on 0 (RFC 2782).
        tier.sort_by_key(|&i| candidates[i].weight);
        while !tier.is_empty() {
            let total: u32 = tier.iter().map(|&i| u32::from(candidates[i].weight)).sum();
            let target = roll(total).min(total);
            let mut running = 0u32;
            let pos = tier
                .iter()
                .position(|&i| {
                    running += u32::from(candidates[i].weight);
                    running >= target
                })
                .unwrap_or(0);
            let chosen = tier.remove(pos);
            out.push(chosen);
            remaining.retain(|&i| i != chosen);
        }
    }
    out
}

/// A random roll in `0..=total`.
pub fn random_roll(total: u32) -> u32 {
    rand::rng().random_range(0..=total)
}

/// Recent failures per trunk name.
#[derive(Debug, Default)]
pub struct TrunkHealth {
    down_until: HashMap<String, Instant>,
}

impl TrunkHealth {
    /// Marks `trunk` as failed at `now`.
    pub fn mark_down(&mut self, trunk: &str, now: Instant) {
        self.down_until.insert(trunk.to_owned(), now + DOWN_HOLD);
    }

    /// Marks `trunk` as working (it answered).
    pub fn mark_up(&mut self, trunk: &str) {
        self.down_until.remove(trunk);
    }

    /// True while `trunk` is held down.
    pub fn is_down(&self, trunk: &str, now: Instant) -> bool {
        self.down_until.get(trunk).is_some_and(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(priority: u16, weight: u16, down: bool) -> Candidate {
        Candidate {
            priority,
            weight,
            down,
        }
    }

    #[test]
    fn health_then_priority_then_weight() {
        let cands = [
            c(20, 100, false),
            c(10, 100, true),
            c(10, 100, false),
            c(5, 1, false),
        ];
        assert_eq!(order(&cands, |_| 0), vec![3, 2, 0, 1]);
    }

    #[test]
    fn weights_share_equal_priorities() {
        let cands = [c(10, 0, false), c(10, 30, false), c(10, 70, false)];
        // A roll of 0 lands on the zero-weight entry, one of 1..=30 on the second, above on the third.
        assert_eq!(order(&cands, |_| 0)[0], 0);
        assert_eq!(order(&cands, |_| 30)[0], 1);
        assert_eq!(order(&cands, |_| 31)[0], 2);
        assert_eq!(order(&cands, |t| t).len(), 3);
    }

    #[test]
    fn down_is_held_then_forgotten() {
        let t0 = Instant::now();
        let mut h = TrunkHealth::default();
        h.mark_down("a", t0);
        assert!(h.is_down("a", t0 + Duration::from_secs(1)));
        assert!(!h.is_down("a", t0 + DOWN_HOLD));
        h.mark_down("a", t0);
        h.mark_up("a");
        assert!(!h.is_down("a", t0));
    }
}
