//! Music on hold through a real WebRTC peer, in virtual time: a str0m offerer plays the
//! browser (ICE, DTLS, SRTP over an in-memory wire), and what it receives is checked packet by
//! packet, header and payload.

#[path = "../benches/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use c2c_media::bridge::BridgeOutput;
use c2c_media::hold::HoldAudio;
use c2c_media::rtp;
use str0m::media::Pt;
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Event, Input, Output};
use support::{addr, receive, Call, BROWSER, GATEWAY, TRUNK};

const TICK: Duration = Duration::from_millis(20);
/// What the trunk sends: recognisable, unlike the pattern's silent frames (0xff).
const TRUNK_PAYLOAD: [u8; 160] = [0x55; 160];

/// An RTP packet as the browser received it.
#[derive(Debug, Clone)]
struct Heard {
    at: Instant,
    seq: u64,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
}

/// What a run saw.
#[derive(Default)]
struct Seen {
    heard: Vec<Heard>,
    /// Datagrams the bridge sent to the trunk.
    to_trunk: usize,
    connected_at: Option<Instant>,
}

/// Both sides' talking, every 20 ms from `next`.
struct Talk {
    trunk: bool,
    browser: bool,
    next: Instant,
}

/// Runs the call in virtual time until `until`: each side's timers fire when it asks,
/// datagrams cross the wire at once, and the trunk and the browser send a packet every
/// 20 ms when told to.
fn run(call: &mut Call, talk: &mut Talk, until: Instant, seen: &mut Seen) {
    for _ in 0..1_000_000 {
        // Deliver until neither side has anything for the other.
        let (bridge_at, browser_at) = loop {
            let mut crossed = false;
            let bridge_at = loop {
                match call.bridge.poll_output() {
                    BridgeOutput::ToBrowser { data, .. } => {
                        let r = receive(addr(GATEWAY), addr(BROWSER), &data);
                        call.browser
                            .handle_input(Input::Receive(call.now, r))
                            .expect("browser takes the datagram");
                        crossed = true;
                    }
                    BridgeOutput::ToTrunk { .. } => seen.to_trunk += 1,
                    BridgeOutput::Connected => {
                        seen.connected_at.get_or_insert(call.now);
                    }
                    BridgeOutput::Timeout(at) => break at,
                    BridgeOutput::BrowserGone => panic!("browser gone"),
                    BridgeOutput::RtpTimeout(side) => panic!("rtp timeout {side:?}"),
                }
            };
            let browser_at = loop {
                match call.browser.poll_output().expect("browser output") {
                    Output::Transmit(t) => {
                        call.bridge
                            .handle_browser(addr(BROWSER), &t.contents, call.now);
                        crossed = true;
                    }
                    Output::Event(Event::RtpPacket(p)) => seen.heard.push(Heard {
                        at: call.now,
                        seq: *p.seq_no,
                        ts: p.header.timestamp,
                        marker: p.header.marker,
                        payload: p.payload.to_vec(),
                    }),
                    Output::Event(_) => {}
                    Output::Timeout(at) => break at,
                }
            };
            if !crossed {
                break (bridge_at, browser_at);
            }
        };
        let next = bridge_at.min(browser_at).min(talk.next);
        if next > until {
            call.now = until;
            return;
        }
        call.now = call.now.max(next);
        let now = call.now;
        if bridge_at <= now {
            call.bridge.handle_timeout(now);
        }
        if browser_at <= now {
            call.browser
                .handle_input(Input::Timeout(now))
                .expect("browser timeout");
        }
        if talk.next <= now {
            talk.next += TICK;
            if talk.trunk {
                call.trunk_seq = call.trunk_seq.wrapping_add(1);
                let seq = call.trunk_seq;
                let p = rtp::write(0, false, seq, u32::from(seq) * 160, 0x1234, &TRUNK_PAYLOAD);
                call.bridge.handle_trunk(addr(TRUNK), &p, now);
            }
            if talk.browser {
                let seq: SeqNo = call.seq.into();
                let ts = (call.seq * 160) as u32;
                call.seq += 1;
                let write = RtpWrite::new(Pt::from(0), seq, ts, now, vec![0xff; 160]);
                if let Some(tx) = call.browser.direct_api().stream_tx_by_mid(call.mid, None) {
                    tx.write_rtp(write);
                }
                call.browser
                    .handle_input(Input::Timeout(now))
                    .expect("browser timeout");
            }
        }
    }
    panic!("the call never settled");
}

/// Every packet follows the one before it: next sequence number, 160 timestamp units on.
fn assert_continuous(heard: &[Heard]) {
    for w in heard.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "{w:?}");
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160), "{w:?}");
    }
}

#[test]
fn a_held_call_hears_a_pcmu_frame_every_20_ms_and_nothing_from_the_trunk() {
    let mut call = Call::connect();
    let mut talk = Talk {
        trunk: true,
        browser: true,
        next: call.now,
    };
    let mut seen = Seen::default();
    // Relaying first: the trunk's audio reaches the browser, the browser's the trunk.
    let t0 = call.now;
    run(
        &mut call,
        &mut talk,
        t0 + Duration::from_millis(500),
        &mut seen,
    );
    assert!(seen.heard.len() >= 20, "{}", seen.heard.len());
    assert!(seen.heard.iter().all(|h| h.payload == TRUNK_PAYLOAD));
    assert!(seen.to_trunk >= 20, "{}", seen.to_trunk);
    let relayed = std::mem::take(&mut seen.heard);
    let last_relayed = relayed.last().expect("relayed").clone();

    // Held: 2 s of music, on the same stream, while both sides keep talking.
    let held_at = call.now + Duration::from_millis(3);
    call.now = held_at;
    let audio = HoldAudio::tones();
    call.bridge.hold(audio.clone(), held_at);
    assert!(call.bridge.on_hold());
    let to_trunk_before = seen.to_trunk;
    let from_trunk_before = call.bridge.stats().from_trunk;
    run(
        &mut call,
        &mut talk,
        held_at + Duration::from_secs(2),
        &mut seen,
    );
    let held = std::mem::take(&mut seen.heard);
    assert_eq!(
        held.len(),
        101,
        "a frame every 20 ms for 2 s, both ends included"
    );
    for (i, h) in held.iter().enumerate() {
        assert_eq!(
            h.at,
            held_at + TICK * i as u32,
            "frame {i} on the 20 ms clock"
        );
        assert_eq!(h.marker, i == 0, "marker on the first frame only");
    }
    let expected: Vec<&[u8]> = audio.pcmu_frames().take(held.len()).collect();
    let got: Vec<&[u8]> = held.iter().map(|h| &h.payload[..]).collect();
    assert!(got == expected, "the pattern's frames, in order");
    assert_continuous(&[&[last_relayed][..], &held[..]].concat());
    assert_eq!(
        seen.to_trunk, to_trunk_before,
        "nothing to the trunk while held"
    );
    let stats = call.bridge.stats();
    assert!(
        stats.from_trunk >= from_trunk_before + 99,
        "the trunk kept sending"
    );
    assert_eq!(stats.hold_frames, 101);

    // Unhold: the trunk's audio again, continuing the stream, marked; the browser's audio
    // reaches the trunk again.
    let unheld_at = call.now;
    call.bridge.unhold(unheld_at);
    assert!(!call.bridge.on_hold());
    run(
        &mut call,
        &mut talk,
        unheld_at + Duration::from_millis(500),
        &mut seen,
    );
    let after = std::mem::take(&mut seen.heard);
    assert!(after.len() >= 20, "{}", after.len());
    assert!(after.iter().all(|h| h.payload == TRUNK_PAYLOAD));
    assert!(after[0].marker && after[1..].iter().all(|h| !h.marker));
    assert_continuous(&[&held[held.len() - 1..], &after[..]].concat());
    assert!(
        seen.to_trunk >= to_trunk_before + 20,
        "relayed to the trunk again"
    );
    assert_eq!(call.bridge.stats().hold_frames, 101);
}

#[test]
fn hold_before_the_browser_connects_plays_once_it_does() {
    let mut call = Call::answered();
    let t0 = call.now;
    // A WAV file of the campaign: 8 kHz mono, 100 ms of a tone then silence.
    let audio = HoldAudio::from_pcm_8k(&[2000; 1600], "wav");
    call.bridge.hold(audio.clone(), t0);
    // The trunk (an agent leg being rung) sends from the start; the browser is silent.
    let mut talk = Talk {
        trunk: true,
        browser: false,
        next: t0,
    };
    let mut seen = Seen::default();
    run(&mut call, &mut talk, t0 + Duration::from_secs(3), &mut seen);
    let connected = seen.connected_at.expect("ICE and DTLS complete");
    let heard = &seen.heard;
    assert!(heard.len() >= 50, "{}", heard.len());
    assert!(
        heard[0].at <= connected + TICK,
        "the first frame {:?} after connecting",
        heard[0].at - connected
    );
    assert!(heard[0].marker);
    for (i, h) in heard.iter().enumerate() {
        assert_eq!(h.at, heard[0].at + TICK * i as u32);
        assert_eq!(h.payload[..], *audio.pcmu_frames().nth(i).expect("looped"));
    }
    assert_continuous(heard);
    // Ten frames of audio, looped: frame 10 is frame 0 again.
    assert_eq!(heard[10].payload, heard[0].payload);
    assert_eq!(seen.to_trunk, 0);
}

#[test]
fn switching_the_audio_while_held_keeps_the_stream() {
    let mut call = Call::connect();
    let mut talk = Talk {
        trunk: false,
        browser: false,
        next: call.now,
    };
    let mut seen = Seen::default();
    let t0 = call.now;
    let first = HoldAudio::from_pcm_8k(&[1000; 1600], "first");
    let second = HoldAudio::from_pcm_8k(&[-5000; 1600], "second");
    call.bridge.hold(first.clone(), t0);
    run(
        &mut call,
        &mut talk,
        t0 + Duration::from_millis(110),
        &mut seen,
    );
    call.bridge.hold(second.clone(), call.now);
    run(
        &mut call,
        &mut talk,
        t0 + Duration::from_millis(210),
        &mut seen,
    );
    let heard = &seen.heard;
    assert_eq!(heard.len(), 11);
    assert_continuous(heard);
    assert!(heard[..6]
        .iter()
        .all(|h| h.payload[..] == *first.pcmu_frames().next().expect("frame")));
    assert!(heard[6..]
        .iter()
        .all(|h| h.payload[..] == *second.pcmu_frames().next().expect("frame")));
    assert!(heard[0].marker && heard[1..].iter().all(|h| !h.marker));
}
