//! Per-source rate limiting: a token bucket per IP address, sans-IO (time is an input).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

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

/// Token buckets keyed by source address.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter applying `limit` to every source separately.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `ip`; false when the source is over its rate.
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= MAX_TRACKED_SOURCES && !self.buckets.contains_key(&ip) {
            self.forget_idle(now);
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
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
        if self.buckets.len() >= MAX_TRACKED_SOURCES {
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
