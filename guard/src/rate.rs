//! Rate limiting: a token bucket per key (an IP address at SIP ingress; a client or campaign
//! on the web side), sans-IO (time is an input).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Most sources tracked at once; beyond it, idle (full) buckets are forgotten first.
pub const MAX_TRACKED_SOURCES: usize = 10_000;

/// A sustained rate with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Messages per second allowed on average.
    pub per_second: f64,
    /// Messages allowed back to back.
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by `K` (source addresses unless said otherwise).
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    limit: RateLimit,
    capacity: usize,
    buckets: HashMap<K, Bucket>,
}

impl RateLimiter {
    /// A limiter applying `limit` to every source separately.
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_TRACKED_SOURCES)
    }

    /// Takes one token for `ip`; false when the source is over its rate.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        self.take(ip, now).is_ok()
    }
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter applying `limit` to every key separately, tracking at most `capacity` keys.
    pub fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        Self {
            limit,
            capacity: capacity.max(1),
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `key`; `Err(wait)` (until the next token) when over the rate.
    pub fn take(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        self.check(key, now, true)
    }

    /// Whether `key` has a token now, without taking it (a limit that counts only failures
    /// checks first and [`RateLimiter::take`]s after a failure).
    pub fn peek(&mut self, key: K, now: Instant) -> Result<(), Duration> {
        self.check(key, now, false)
    }

    fn check(&mut self, key: K, now: Instant, take: bool) -> Result<(), Duration> {
        let limit = self.limit;
        if self.buckets.len() >= self.capacity
            && !self.buckets.contains_key(&key)
            && !self.make_room(now)
        {
            // Every tracked key is over its limit: a flood. A new key waits as if it were
            // one of them rather than reset one.
            return Err(Duration::from_secs_f64(1.0 / limit.per_second));
        }
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        bucket.tokens = refilled(bucket, limit, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            if take {
                bucket.tokens -= 1.0;
            }
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limit.per_second,
            ))
        }
    }

    /// Makes room for a new key: drops buckets that refilled (idle sources), else the fuller
    /// half of those that still have a token. An exhausted bucket is never dropped, since
    /// dropping it would reset the limit of exactly the sources it holds back; false when
    /// every bucket is exhausted.
    fn make_room(&mut self, now: Instant) -> bool {
        let limit = self.limit;
        self.buckets
            .retain(|_, b| refilled(b, limit, now) < limit.burst);
        if self.buckets.len() < self.capacity {
            return true;
        }
        let mut levels: Vec<f64> = self
            .buckets
            .values()
            .map(|b| refilled(b, limit, now))
            .filter(|t| *t >= 1.0)
            .collect();
        if levels.is_empty() {
            return false;
        }
        let mid = levels.len() / 2;
        let (_, median, _) = levels.select_nth_unstable_by(mid, f64::total_cmp);
        let median = *median;
        self.buckets.retain(|_, b| {
            let t = refilled(b, limit, now);
            t < 1.0 || t < median
        });
        if self.buckets.len() >= self.capacity {
            // All had the same level: drop every bucket that still had a token.
            self.buckets.retain(|_, b| refilled(b, limit, now) < 1.0);
        }
        self.buckets.len() < self.capacity
    }

    /// Number of sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// The tokens `b` holds at `now`.
fn refilled(b: &Bucket, limit: RateLimit, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * limit.per_second).min(limit.burst)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bursts_then_refills_per_source() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!((0..3).all(|_| r.allow(a, t0)));
        assert!(!r.allow(a, t0));
        assert!(r.allow(b, t0), "another source has its own bucket");
        assert!(r.allow(a, t0 + Duration::from_millis(100)));
        assert!(!r.allow(a, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn memory_stays_bounded_under_spoofed_sources() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 2.0,
        });
        for i in 0..(MAX_TRACKED_SOURCES as u32 + 50) {
            r.allow(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(r.tracked() <= MAX_TRACKED_SOURCES);
    }

    #[test]
    fn a_full_table_never_resets_an_exhausted_source() {
        let t0 = Instant::now();
        let limit = RateLimit {
            per_second: 0.001,
            burst: 2.0,
        };
        let mut r: RateLimiter<u32> = RateLimiter::with_capacity(limit, 100);
        let attacker = 7;
        assert!(r.take(attacker, t0).is_ok());
        assert!(r.take(attacker, t0).is_ok());
        assert!(r.take(attacker, t0).is_err(), "exhausted");
        // A flood of new keys, each using one token: the table fills over and over.
        for k in 1000..5000 {
            let _ = r.take(k, t0);
            assert!(r.tracked() <= 100);
        }
        assert!(
            r.take(attacker, t0).is_err(),
            "still limited after the table filled"
        );

        // Every key exhausted: a new key waits instead of resetting one.
        let mut full: RateLimiter<u32> = RateLimiter::with_capacity(limit, 10);
        for k in 0..10 {
            while full.take(k, t0).is_ok() {}
        }
        assert!(full.take(99, t0).is_err());
        assert!(full.take(0, t0).is_err());
    }

    #[test]
    fn peek_does_not_take() {
        let t0 = Instant::now();
        let mut r: RateLimiter<u32> = RateLimiter::with_capacity(
            RateLimit {
                per_second: 0.001,
                burst: 1.0,
            },
            10,
        );
        assert!(r.peek(1, t0).is_ok());
        assert!(r.peek(1, t0).is_ok());
        assert!(r.take(1, t0).is_ok());
        assert!(r.peek(1, t0).is_err());
    }
}
