//! Fuzz target `stun`: see `c2c_fuzz::stun::stun` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::stun::stun(data));
