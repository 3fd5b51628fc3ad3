//! Call-token mint and verify throughput (the cost every call pays before any SIP).

use std::sync::Arc;

use c2c_token::{CallGrant, KeyRing, Route, TokenIssuer, TokenVerifier, UsedTokenIds};
use criterion::{criterion_group, criterion_main, Criterion};

const ORIGIN: &str = "https://shop.example";

fn grant() -> CallGrant {
    CallGrant {
        session_id: "ws_0123456789abcdef0123456789abcdef".into(),
        org: "org_1".into(),
        campaign: "sales".into(),
        number: "+4930999000".parse().expect("number"),
        origin: ORIGIN.into(),
        route: Route {
            trunk: "main".into(),
            destinations: vec!["+4930123456".into()],
            privacy: false,
            agents: false,
        },
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let issuer = TokenIssuer::new(keys.clone(), "c2c", 60);
    let now = 1_800_000_000;
    let g = grant();
    c.bench_function("token_mint", |b| {
        b.iter(|| issuer.mint(&g, now).expect("mint"))
    });

    // Each verify spends its token, so verify fresh tokens minted outside the timed loop.
    c.bench_function("token_verify", |b| {
        b.iter_batched(
            || {
                let verifier =
                    TokenVerifier::new(keys.clone(), "c2c", Arc::new(UsedTokenIds::new()));
                (verifier, issuer.mint(&g, now).expect("mint").0)
            },
            |(verifier, token)| {
                rt.block_on(verifier.verify(&token, Some(ORIGIN), now))
                    .expect("verify")
            },
            criterion::BatchSize::SmallInput,
        )
    });

    let verifier = TokenVerifier::new(keys.clone(), "c2c", Arc::new(UsedTokenIds::new()));
    c.bench_function("token_mint_and_verify", |b| {
        b.iter(|| {
            let (token, _) = issuer.mint(&g, now).expect("mint");
            rt.block_on(verifier.verify(&token, Some(ORIGIN), now))
                .expect("verify")
        })
    });
}

/// Mint+verify on two threads at once (the machine's two cores), against one shared ledger:
/// the throughput a node can sustain.
fn bench_parallel(c: &mut Criterion) {
    const PER_THREAD: u64 = 500;
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let issuer = TokenIssuer::new(keys.clone(), "c2c", 60);
    let verifier = TokenVerifier::new(keys, "c2c", Arc::new(UsedTokenIds::new()));
    let g = grant();
    let mut group = c.benchmark_group("token_parallel");
    group.throughput(criterion::Throughput::Elements(2 * PER_THREAD));
    group.sample_size(20);
    group.bench_function("mint_and_verify_2_threads", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .build()
                            .expect("rt");
                        for _ in 0..PER_THREAD {
                            let (token, _) = issuer.mint(&g, 1_800_000_000).expect("mint");
                            rt.block_on(verifier.verify(&token, Some(ORIGIN), 1_800_000_000))
                                .expect("verify");
                        }
                    });
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_parallel);
criterion_main!(benches);
