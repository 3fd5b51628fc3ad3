//! Fuzz target `call_token`: see `c2c_fuzz::token::call_token` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::token::call_token(data));
