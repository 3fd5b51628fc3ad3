//! A virtual clock: every target measures time from one fixed `Instant`, so an input replays
//! the same whatever the wall clock says.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The start of virtual time.
pub fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// `ms` milliseconds after [`base`].
pub fn at(ms: u64) -> Instant {
    base() + Duration::from_millis(ms)
}
