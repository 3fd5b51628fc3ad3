//! Drivers of the fuzz targets: each `fuzz_targets/<name>.rs` hands libFuzzer's input to the
//! function of the same name here. Kept in a library so targets share their fixtures (an
//! answered browser peer, a key ring) and stay one line each.
//!
//! A driver panics only on a finding: a product function that panicked, or a property the
//! product promises (a message we serialise parses back, a stranger is never answered) that
//! did not hold.

pub mod clock;
pub mod http;
pub mod media;
pub mod peer;
pub mod interrupted;
pub mod sdp;
pub mod signalling;
pub mod sip;
pub mod stun;
pub mod token;

/// Splits `data` into the pieces between `sep` bytes (a way to put several messages in one
/// input that libFuzzer's byte mutations keep working on).
pub fn split_on(data: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    data.split(move |b| *b == sep)
}
