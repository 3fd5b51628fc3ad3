//! The per-packet media path of one call, in memory: a str0m offerer plays the browser, the
//! gateway's `Bridge` (with its `BrowserPeer`) answers, ICE and DTLS complete over an
//! in-memory wire, and then real SRTP packets go through.
//!
//! - `browser_to_trunk`: SRTP unprotect → RTP rewrite → plain RTP datagram for the trunk.
//! - `trunk_to_browser`: plain RTP in → rewrite → SRTP protect → datagram for the browser
//!   (str0m releases a written packet on the next timeout, so that call is part of the path).
//!
//! Only the bridge's work is timed; socket sends are not (the load runs in BENCHMARKS.md
//! include them).

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{addr, Call, BROWSER, TRUNK};

fn bench(c: &mut Criterion) {
    let mut call = Call::connect();
    // Sanity: a browser packet reaches the trunk, a trunk packet the browser.
    let p = call.browser_packets(1);
    call.bridge.handle_browser(addr(BROWSER), &p[0], call.now);
    assert_eq!(call.drain().1, 1, "browser RTP reaches the trunk");
    let t = call.trunk_packet();
    call.bridge.handle_trunk(addr(TRUNK), &t, call.now);
    call.bridge.handle_timeout(call.now);
    assert_eq!(call.drain().0, 1, "trunk RTP reaches the browser");

    let mut group = c.benchmark_group("bridge");
    group.throughput(Throughput::Elements(1));
    group.bench_function("browser_to_trunk", |b| {
        b.iter_custom(|iters| {
            // SRTP replay protection forbids reusing packets: make fresh ones, untimed.
            let packets = call.browser_packets(iters);
            let start = Instant::now();
            for p in &packets {
                call.now += Duration::from_micros(1);
                call.bridge.handle_browser(addr(BROWSER), p, call.now);
                call.drain();
            }
            start.elapsed()
        })
    });
    group.bench_function("trunk_to_browser", |b| {
        b.iter_custom(|iters| {
            let packets: Vec<Vec<u8>> = (0..iters).map(|_| call.trunk_packet()).collect();
            let start = Instant::now();
            for p in &packets {
                call.now += Duration::from_micros(1);
                call.bridge.handle_trunk(addr(TRUNK), p, call.now);
                // str0m sends a written packet at the next timeout, as the media task does.
                call.bridge.handle_timeout(call.now);
                call.drain();
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
