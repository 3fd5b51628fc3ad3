//! The wall clock that tokens (`iat`, `exp`) and records are stamped with: Unix time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now (0 should the clock be before 1970).
pub fn unix_now() -> i64 {
    since_epoch().map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix milliseconds now (0 should the clock be before 1970).
pub fn unix_ms() -> i64 {
    since_epoch().map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn since_epoch() -> Option<std::time::Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_tell_the_same_time() {
        let (s, ms) = (unix_now(), unix_ms());
        assert!(s > 1_700_000_000, "after 2023: {s}");
        assert!((ms / 1000 - s).abs() <= 1, "{ms} ms vs {s} s");
    }
}
