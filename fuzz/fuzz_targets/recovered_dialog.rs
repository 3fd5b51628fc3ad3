//! Fuzz target `recovered_dialog`: see `c2c_fuzz::recovered::recovered_dialog` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::recovered::recovered_dialog(data));
