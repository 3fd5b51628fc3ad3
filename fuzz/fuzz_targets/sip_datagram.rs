//! Fuzz target `sip_datagram`: see `c2c_fuzz::sip::datagram` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::sip::datagram(data));
