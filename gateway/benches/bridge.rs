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

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use c2c_gateway::media::bridge::{Bridge, BridgeConfig, BridgeOutput, TrunkMedia};
use c2c_gateway::media::peer::BrowserPeer;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

const BROWSER: &str = "127.0.0.1:41000";
const GATEWAY: &str = "127.0.0.1:42000";
const TRUNK: &str = "127.0.0.1:43000";

/// A connected pair: the browser's str0m and the gateway's bridge.
struct Call {
    browser: Rtc,
    mid: Mid,
    bridge: Bridge,
    now: Instant,
    seq: u64,
    trunk_seq: u16,
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn receive(from: SocketAddr, to: SocketAddr, data: &[u8]) -> Receive<'_> {
    Receive {
        proto: Protocol::Udp,
        source: from,
        destination: to,
        contents: data.try_into().expect("a datagram str0m can read"),
    }
}

impl Call {
    fn connect() -> Call {
        let mut now = Instant::now();
        let mut browser = RtcConfig::new()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true, false)
            .clear_extension_map()
            .set_extension(1, Extension::AudioLevel)
            .set_extension(4, Extension::RtpMid)
            .set_stats_interval(None)
            .build(now);
        browser.add_local_candidate(Candidate::host(addr(BROWSER), "udp").expect("candidate"));
        let mut api = browser.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let (peer, answer) =
            BrowserPeer::answer(&offer.to_sdp_string(), addr(GATEWAY), now).expect("answer");
        let answer = SdpAnswer::from_sdp_string(&answer).expect("answer SDP");
        browser
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("accept");
        let mut bridge = Bridge::new(peer, BridgeConfig { rtp_timeout: None }, now);
        bridge.set_trunk_media(
            TrunkMedia {
                addr: addr(TRUNK),
                telephone_event: None,
                receives: true,
                sends: true,
            },
            now,
        );
        bridge.trunk_answered(now);
        let mut call = Call {
            browser,
            mid,
            bridge,
            now,
            seq: 1,
            trunk_seq: 1,
        };
        let (mut browser_up, mut bridge_up) = (false, false);
        for _ in 0..2000 {
            browser_up |= call.pump_browser();
            bridge_up |= call.pump_bridge();
            if browser_up && bridge_up {
                return call;
            }
            now += Duration::from_millis(5);
            call.now = now;
            call.browser
                .handle_input(Input::Timeout(now))
                .expect("browser timeout");
            call.bridge.handle_timeout(now);
        }
        panic!("ICE/DTLS did not complete in memory");
    }

    /// Delivers the browser's datagrams to the bridge; true once the browser is connected.
    fn pump_browser(&mut self) -> bool {
        let mut up = false;
        while let Ok(out) = self.browser.poll_output() {
            match out {
                Output::Transmit(t) => {
                    self.bridge
                        .handle_browser(addr(BROWSER), &t.contents, self.now)
                }
                Output::Event(Event::Connected) => up = true,
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
        up
    }

    /// Delivers the bridge's datagrams to the browser; true once the bridge is connected.
    fn pump_bridge(&mut self) -> bool {
        let mut up = false;
        loop {
            match self.bridge.poll_output() {
                BridgeOutput::ToBrowser { data, .. } => {
                    let r = receive(addr(GATEWAY), addr(BROWSER), &data);
                    let _ = self.browser.handle_input(Input::Receive(self.now, r));
                }
                BridgeOutput::Connected => up = true,
                BridgeOutput::Timeout(_) | BridgeOutput::BrowserGone => break,
                _ => {}
            }
        }
        up
    }

    /// `n` SRTP packets as the browser sends them (20 ms of PCMU each).
    fn browser_packets(&mut self, n: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let seq: SeqNo = self.seq.into();
            let ts = (self.seq * 160) as u32;
            self.seq += 1;
            let write = RtpWrite::new(Pt::from(0), seq, ts, self.now, vec![0xff; 160]);
            if let Some(tx) = self.browser.direct_api().stream_tx_by_mid(self.mid, None) {
                tx.write_rtp(write);
            }
            // A written packet leaves at the next timeout str0m handles.
            let _ = self.browser.handle_input(Input::Timeout(self.now));
            while let Ok(o) = self.browser.poll_output() {
                match o {
                    Output::Transmit(t) => out.push(t.contents.into()),
                    Output::Timeout(_) => break,
                    Output::Event(_) => {}
                }
            }
        }
        out
    }

    /// One plain RTP packet as the trunk sends it.
    fn trunk_packet(&mut self) -> Vec<u8> {
        self.trunk_seq = self.trunk_seq.wrapping_add(1);
        let mut p = Vec::with_capacity(172);
        p.extend_from_slice(&[0x80, 0]);
        p.extend_from_slice(&self.trunk_seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(self.trunk_seq) * 160).to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    /// Drains the bridge, counting datagrams for each side.
    fn drain(&mut self) -> (u32, u32) {
        let (mut to_browser, mut to_trunk) = (0, 0);
        loop {
            match self.bridge.poll_output() {
                BridgeOutput::ToBrowser { data, .. } => {
                    black_box(data);
                    to_browser += 1;
                }
                BridgeOutput::ToTrunk { data, .. } => {
                    black_box(data);
                    to_trunk += 1;
                }
                BridgeOutput::Timeout(_) | BridgeOutput::BrowserGone => break,
                _ => {}
            }
        }
        (to_browser, to_trunk)
    }
}

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
