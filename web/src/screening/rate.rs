//! Request limits of the web side (token requests per client and campaign, logins): the
//! shared token buckets of `c2c-guard` behind a lock, per minute, with waits rounded up to
//! whole seconds for `Retry-After`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use c2c_guard::{RateLimit, RateLimiter as Buckets};

/// Most keys tracked before idle ones are dropped, so a flood of source addresses cannot grow
/// memory without bound.
const MAX_KEYS: usize = 100_000;

/// Allows `per_minute` requests per key per minute, with bursts up to `burst`.
#[derive(Debug)]
pub struct RequestLimiter {
    buckets: Mutex<Buckets<String>>,
}

impl RequestLimiter {
    /// A limiter refilling `per_minute` per key, holding at most `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let limit = RateLimit {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
        };
        RequestLimiter {
            buckets: Mutex::new(Buckets::with_capacity(limit, MAX_KEYS)),
        }
    }

    /// Takes one request for `key` at `now`; `Err(retry_after)` when over the limit.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.buckets()
            .take(key.to_owned(), now)
            .map_err(whole_seconds)
    }

    /// Whether `key` is within the limit at `now`, taking nothing (for limits that count
    /// only failures: [`RequestLimiter::check`] after each one).
    pub fn peek(&self, key: &str, now: Instant) -> Result<(), Duration> {
        self.buckets()
            .peek(key.to_owned(), now)
            .map_err(whole_seconds)
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets<String>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A wait rounded up to whole seconds, at least one (`Retry-After`).
fn whole_seconds(wait: Duration) -> Duration {
    Duration::from_secs_f64(wait.as_secs_f64().ceil().max(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_requests_wait_for_refill() {
        let r = RequestLimiter::new(60, 3);
        let t = Instant::now();
        assert!(r.check("a", t).is_ok());
        assert!(r.check("a", t).is_ok());
        assert!(r.check("a", t).is_ok());
        assert_eq!(r.check("a", t), Err(Duration::from_secs(1)));
        assert!(r.check("b", t).is_ok(), "keys are independent");
        assert!(r.check("a", t + Duration::from_secs(1)).is_ok());
    }
}
