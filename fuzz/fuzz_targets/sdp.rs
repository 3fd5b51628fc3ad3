//! Fuzz target `sdp`: see `c2c_fuzz::sdp::sdp` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::sdp::sdp(data));
