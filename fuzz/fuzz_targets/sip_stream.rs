//! Fuzz target `sip_stream`: see `c2c_fuzz::sip::stream` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::sip::stream(data));
