//! c2c-guard: what keeps a public service up under hostile input, shared by the SIP side, the
//! web side and the application: token-bucket rate limits ([`rate`]) and the containment of a
//! panic to the one input that caused it ([`supervise`]).
//!
//! It depends on no other c2c crate.

pub mod rate;
pub mod supervise;

pub use rate::{RateLimit, RateLimiter, MAX_TRACKED_SOURCES};
