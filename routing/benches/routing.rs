//! What one routing decision costs among 1,000 agents with random skills and states, per
//! strategy.

use std::hint::black_box;

use c2c_routing::{AgentState, Needs, Router, Strategy};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const AGENTS: usize = 1000;
const NOW: i64 = 1_800_000_000_000;
const TAGS: [&str; 8] = [
    "lang:de",
    "lang:en",
    "lang:fr",
    "product:billing",
    "product:shop",
    "product:tech",
    "tier:gold",
    "tier:silver",
];

/// xorshift64: reproducible input without another dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn agents(rng: &mut Rng) -> Vec<AgentState> {
    (0..AGENTS)
        .map(|n| {
            let mut a = AgentState::new(format!("ag_{n:04}"), NOW - rng.below(3_600_000) as i64);
            for tag in TAGS {
                if rng.below(2) == 0 {
                    a.skills.push((tag.to_owned(), 1 + rng.below(5) as u8));
                }
            }
            a.max_calls = 1 + u32::from(rng.below(4) == 0);
            a.answered = rng.below(40) as u32;
            // About half free; the rest away, offline, on a call, ringing or wrapping up.
            match rng.below(10) {
                0 => a.away = true,
                1 => a.reachable = false,
                2 | 3 => a.on_call = a.max_calls,
                4 => a.ringing = 1,
                5 => a.wrap_up_until_ms = NOW + 20_000,
                _ => {}
            }
            a
        })
        .collect()
}

fn routing(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let agents = agents(&mut rng);
    let needs = Needs {
        skills: vec![("product:billing".into(), 2)],
        preferred: vec![("lang:de".into(), 2), ("tier:gold".into(), 1)],
    };
    let mut router = Router::new();
    let eligible = router
        .ring_order("count", Strategy::LongestIdle, &agents, &needs, NOW)
        .picks()
        .len();
    eprintln!("{eligible} of {AGENTS} agents free with product:billing >= 2");
    let mut group = c.benchmark_group("ring_order_1000_agents");
    group.throughput(Throughput::Elements(1));
    for strategy in Strategy::ALL {
        group.bench_function(strategy.as_str(), |b| {
            b.iter(|| router.ring_order("q", strategy, black_box(&agents), black_box(&needs), NOW))
        });
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
