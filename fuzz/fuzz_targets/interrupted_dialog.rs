//! Fuzz target `interrupted_dialog`: see `c2c_fuzz::interrupted::interrupted_dialog` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::interrupted::interrupted_dialog(data));
