//! The per-packet media path of one call, in memory: a str0m offerer plays the browser, the
//! gateway's `Bridge` (with its `BrowserPeer`) answers, ICE and DTLS complete over an
//! in-memory wire, and then real SRTP packets go through.
//!
//! - `browser_to_trunk`: SRTP unprotect → RTP rewrite → plain RTP datagram for the trunk.
//! - `trunk_to_browser`: plain RTP in → rewrite → SRTP protect → datagram for the browser
//!   (str0m releases a written packet on the next timeout, so that call is part of the path).
//!
//! - `hold_frame`: one music-on-hold frame of a held call, paced by the bridge's 20 ms timer:
//!   the timeout, the shared PCMU frame written to str0m, SRTP protect, the datagram.
//! - `hold_audio/wav_48k_stereo_10s`: decoding a campaign's WAV file once (mix-down, resampling
//!   to 8 kHz, PCMU encoding), what loading the campaign pays.
//!
//! Only the bridge's work is timed; socket sends are not (the load runs in BENCHMARKS.md
//! include them).

mod support;

use std::time::{Duration, Instant};

use c2c_media::hold::HoldAudio;
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
    let audio = HoldAudio::tones();
    call.bridge.hold(audio, call.now);
    call.bridge.handle_timeout(call.now);
    assert_eq!(call.drain().0, 1, "a held call sends a hold frame at once");
    call.now += Duration::from_millis(20);
    call.bridge.handle_timeout(call.now);
    assert_eq!(call.drain().0, 1, "and the next 20 ms later");
    group.bench_function("hold_frame", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for i in 0..iters {
                call.now += Duration::from_millis(20);
                let start = Instant::now();
                call.bridge.handle_timeout(call.now);
                call.drain();
                timed += start.elapsed();
                // Untimed, once per virtual second: the browser's ICE consent checks and
                // their answers, so the peer stays connected however long the run.
                if i % 50 == 49 {
                    keep_alive(&mut call);
                }
            }
            timed
        })
    });
    call.bridge.unhold(call.now);
    group.finish();

    let wav = wav_48k_stereo(10);
    let mut group = c.benchmark_group("hold_audio");
    group.sample_size(10);
    group.bench_function("wav_48k_stereo_10s", |b| {
        b.iter(|| HoldAudio::from_wav(&wav).expect("a valid WAV"))
    });
    group.finish();
}

fn keep_alive(call: &mut support::Call) {
    let _ = call.browser.handle_input(str0m::Input::Timeout(call.now));
    call.pump_browser();
    call.pump_bridge();
}

/// A 16-bit PCM WAV file of `seconds` of music-like audio (two tones, one per channel).
fn wav_48k_stereo(seconds: u32) -> Vec<u8> {
    let (rate, channels) = (48_000u32, 2u16);
    let n = rate * seconds;
    let mut data = Vec::with_capacity(n as usize * 4);
    for i in 0..n {
        let t = f64::from(i) / f64::from(rate);
        for f in [440.0, 660.0] {
            let v = (8000.0 * (std::f64::consts::TAU * f * t).sin()) as i16;
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

criterion_group!(benches, bench);
criterion_main!(benches);
