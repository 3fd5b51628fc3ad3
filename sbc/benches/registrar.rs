//! What one REGISTER costs the registrar, parse included, as the SIP task handles it: the
//! first (unauthenticated, challenged) and a phone's refresh answering the digest, with
//! SHA-256 and MD5, among 1,000 agents with a binding each.

use std::net::SocketAddr;
use std::time::Instant;

use c2c_sbc::digest::{self, Algorithm, Answer, Challenge};
use c2c_sbc::registrar::{AgentCredential, AgentRef, Registrar, RegistrarConfig};
use c2c_sbc::sip::{parse_message, Message, Request};
use c2c_sbc::trunk::Transport;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const AGENTS: usize = 1000;

fn register(user: &str, cseq: u32, auth: Option<String>) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:c2c.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}r\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@c2c.test>;tag=7\r\nTo: <sip:{user}@c2c.test>\r\n\
         Call-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@192.0.2.10:5060>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

fn request(text: &str) -> Request {
    match parse_message(text.as_bytes()) {
        Ok(Message::Request(req)) => req,
        _ => unreachable!("a valid REGISTER"),
    }
}

fn bench(c: &mut Criterion) {
    let t0 = Instant::now();
    let from: SocketAddr = "192.0.2.10:5060".parse().expect("addr");
    let mut group = c.benchmark_group("register");
    group.throughput(Throughput::Elements(1));
    for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
        let mut reg = Registrar::new(
            RegistrarConfig {
                algorithms: vec![algorithm],
                ..RegistrarConfig::default()
            },
            &[5; 32],
            t0,
        );
        let realm = reg.realm().to_owned();
        reg.set_credentials((0..AGENTS).map(|n| {
            let user = format!("agent{n}");
            AgentCredential {
                agent: AgentRef {
                    org: "acme".into(),
                    agent: format!("ag_{n}"),
                    username: user.clone(),
                },
                ha1_md5: digest::ha1(Algorithm::Md5, &user, &realm, "pw"),
                ha1_sha256: digest::ha1(Algorithm::Sha256, &user, &realm, "pw"),
            }
        }));
        // Every agent bound, and agent7's signed refresh ready (its nonce stays fresh).
        let mut refresh = String::new();
        for n in 0..AGENTS {
            let user = format!("agent{n}");
            let first = reg.handle(
                &request(&register(&user, 1, None)),
                from,
                Transport::Udp,
                t0,
            );
            let ch = Challenge::pick(first.headers.get_all("WWW-Authenticate")).expect("challenge");
            let answer = Answer {
                username: &user,
                password: "pw",
                method: "REGISTER",
                uri: "sip:c2c.test",
                cnonce: "c0ffee",
                nc: 1,
            };
            let signed = register(&user, 2, Some(digest::credentials(&ch, &answer)));
            let ok = reg.handle(&request(&signed), from, Transport::Udp, t0);
            assert_eq!(ok.status, 200);
            if n == 7 {
                refresh = signed;
            }
        }
        while reg.poll_change().is_some() {}
        let name = algorithm.as_str();
        let unsigned = register("agent7", 3, None);
        group.bench_function(format!("challenge/{name}"), |b| {
            b.iter(|| {
                let resp = reg.handle(&request(black_box(&unsigned)), from, Transport::Udp, t0);
                black_box(Message::Response(resp).to_bytes())
            })
        });
        // The same CSeq each time would be refused as out of order: raise it per iteration.
        let mut cseq = 10u32;
        group.bench_function(format!("refresh/{name}"), |b| {
            b.iter(|| {
                cseq += 1;
                let text = refresh.replace("CSeq: 2 ", &format!("CSeq: {cseq} "));
                let resp = reg.handle(&request(black_box(&text)), from, Transport::Udp, t0);
                debug_assert_eq!(resp.status, 200);
                while reg.poll_change().is_some() {}
                black_box(Message::Response(resp).to_bytes())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
