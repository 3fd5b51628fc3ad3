//! Fuzz target `signalling_json`: see `c2c_fuzz::signalling::signalling_json` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::signalling::signalling_json(data));
