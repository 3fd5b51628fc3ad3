//! Heap bytes one call's media keeps, measured with a counting allocator (dhat).
//!
//! Builds N in-memory calls (a str0m offerer as the browser, our `Bridge` answering, as in
//! the `bridge` bench), takes each to a stage, drops the browsers and counts the live heap
//! the N bridges hold, divided by N. Stages: `answered` (SDP done, `Rtc` built), `connected`
//! (ICE + DTLS + SRTP keys), `media` (then 1 s of audio each way). This is the media side
//! only; the whole process (WebSocket, SIP leg, tasks) is measured with the load generator
//! and heaptrack (BENCHMARKS.md, "Memory per call").
//!
//! `cargo bench -p c2c --bench call_memory [-- N]`; `DHAT_OUT=file.json` also
//! saves dhat's per-call-site profile (open it with dh_view.html).

mod support;

use std::time::Duration;

use c2c_media::bridge::Bridge;
use support::{addr, Call, BROWSER, TRUNK};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const STAGES: [&str; 3] = ["answered", "connected", "media"];

fn live_bytes() -> usize {
    dhat::HeapStats::get().curr_bytes
}

/// One call taken to `stage`; returns its bridge only.
fn call_at(stage: usize) -> Bridge {
    let mut call = Call::answered();
    if stage >= 1 {
        call.handshake();
    }
    if stage >= 2 {
        // 1 s of PCMU each way, 20 ms apart, as the media loop drives it.
        for _ in 0..50 {
            call.now += Duration::from_millis(20);
            for p in call.browser_packets(1) {
                call.bridge.handle_browser(addr(BROWSER), &p, call.now);
            }
            let t = call.trunk_packet();
            call.bridge.handle_trunk(addr(TRUNK), &t, call.now);
            call.bridge.handle_timeout(call.now);
            call.drain();
        }
    }
    call.bridge
}

fn main() {
    // `cargo bench` passes `--bench`; the first number is N.
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let _profiler = match std::env::var_os("DHAT_OUT") {
        Some(file) => dhat::Profiler::builder().file_name(file).build(),
        None => dhat::Profiler::builder().testing().build(),
    };
    println!(
        "size_of::<Bridge>() = {} B (inline, in the loop's call table)",
        std::mem::size_of::<Bridge>()
    );
    // Warm-up: lazily initialised statics (crypto providers, certificates) are not per call.
    drop(call_at(2));
    for (stage, name) in STAGES.iter().enumerate() {
        let before = live_bytes();
        let mut bridges = Vec::with_capacity(n);
        for _ in 0..n {
            bridges.push(call_at(stage));
        }
        let per_call = (live_bytes() - before) as f64 / n as f64;
        println!("{name:>10}: {per_call:>8.0} B per call ({n} calls)");
        drop(bridges);
    }
}
