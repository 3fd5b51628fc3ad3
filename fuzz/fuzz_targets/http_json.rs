//! Fuzz target `http_json`: see `c2c_fuzz::http::http_json` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::http::http_json(data));
