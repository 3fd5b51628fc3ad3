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
        if self.buckets.len() >= self.capacity && !self.buckets.contains_key(&key) {
            self.forget_idle(now);
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limit.per_second,
            ))
        }
    }

    /// Drops buckets that refilled (their sources are idle); if none did, starts afresh so
    /// memory stays bounded even under a flood of spoofed sources.
    fn forget_idle(&mut self, now: Instant) {
        let limit = self.limit;
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
            b.tokens + elapsed * limit.per_second < limit.burst
        });
        if self.buckets.len() >= self.capacity {
            self.buckets.clear();
        }
    }

    /// Number of sources currently tracked.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
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
}
