//! What one ICE check from an unknown address costs a media loop with N calls: the flood a
//! hostile client can aim at the shared WebRTC port without any call of its own.
//!
//! - `lookup`: what the loop does (`stun::receiver_ufrag`, one hash lookup, then the one
//!   call named — none, for a flood).
//! - `scan`: what it did before, every call's peer asked whether the check is its own; kept
//!   here as the reference the lookup is measured against.

mod support;

use std::collections::HashMap;
use std::hint::black_box;

use c2c_media::stun;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use support::{addr, Call};

/// A Binding request from a stranger: a USERNAME naming no call, and a MESSAGE-INTEGRITY.
fn flood_check() -> Vec<u8> {
    let username = b"notOurs1:attacker";
    let mut body = Vec::new();
    body.extend_from_slice(&0x0006u16.to_be_bytes());
    body.extend_from_slice(&(username.len() as u16).to_be_bytes());
    body.extend_from_slice(username);
    while body.len() % 4 != 0 {
        body.push(0);
    }
    body.extend_from_slice(&0x0008u16.to_be_bytes());
    body.extend_from_slice(&20u16.to_be_bytes());
    body.extend_from_slice(&[0xab; 20]);
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    msg.extend_from_slice(&[9; 12]);
    msg.extend_from_slice(&body);
    msg
}

fn bench(c: &mut Criterion) {
    let check = flood_check();
    let from = addr("203.0.113.66:40000");
    let mut group = c.benchmark_group("stun_flood");
    group.throughput(Throughput::Elements(1));
    for n in [10usize, 100, 500] {
        let calls: Vec<Call> = (0..n).map(|_| Call::answered()).collect();
        let now = calls[0].now;
        let by_ufrag: HashMap<String, usize> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| (c.bridge.local_ufrag().to_owned(), i))
            .collect();
        assert_eq!(by_ufrag.len(), n, "every call has its own ufrag");
        group.bench_with_input(BenchmarkId::new("lookup", n), &n, |b, _| {
            b.iter(|| {
                let named = stun::receiver_ufrag(black_box(&check)).and_then(|u| by_ufrag.get(u));
                let accepted =
                    named.is_some_and(|&i| calls[i].bridge.accepts_browser(from, &check, now));
                black_box(accepted)
            })
        });
        group.bench_with_input(BenchmarkId::new("scan", n), &n, |b, _| {
            b.iter(|| {
                let found = calls
                    .iter()
                    .position(|c| c.bridge.accepts_browser(from, black_box(&check), now));
                black_box(found)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
