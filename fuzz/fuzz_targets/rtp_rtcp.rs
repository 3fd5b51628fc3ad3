//! Fuzz target `rtp_rtcp`: see `c2c_fuzz::media::rtp_rtcp` for what it feeds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| c2c_fuzz::media::rtp_rtcp(data));
