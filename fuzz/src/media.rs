//! `rtp_rtcp`: the trunk side of the media bridge. The RTP and RTCP parsers, the RTCP report
//! keeper and the loss counter are fed directly; then the sans-IO bridge of one call is fed
//! a script of trunk datagrams, DTMF requests, trunk SDP changes and time.

use std::net::SocketAddr;

use c2c_media::bridge::{Bridge, BridgeConfig, BridgeOutput, TrunkMedia};
use c2c_media::loss::StreamLoss;
use c2c_media::rtcp::{self, TrunkReports};
use c2c_media::rtp;

use crate::{clock, peer};

/// Most outputs drained after one input.
const MAX_OUTPUTS: usize = 1024;

/// The trunk's RTP address as its SDP gave it.
pub fn trunk_rtp() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 20], 30000))
}

/// Byte 0 picks the path: even bytes feed the parsers only (fast), odd ones run the bridge
/// script in the rest of the input.
pub fn rtp_rtcp(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    parsers(rest);
    if mode & 1 == 1 {
        bridge(rest);
    }
}

/// The datagram through both parsers, the report keeper, and the loss counter (six bytes per
/// packet: SSRC, sequence number).
fn parsers(data: &[u8]) {
    if let Some(p) = rtp::parse(data) {
        assert!(p.pt < 128);
        assert!(p.payload.len() <= data.len() - 12);
        let again = rtp::write(p.pt, p.marker, p.seq, p.timestamp, p.ssrc, p.payload);
        assert_eq!(rtp::parse(&again), Some(p), "what we write parses back");
    }
    if let Some(reports) = rtcp::parse(data) {
        assert!(rtcp::is_rtcp(data));
        let mut keeper = TrunkReports::default();
        let ours = reports
            .first()
            .and_then(|r| r.blocks.first())
            .map_or(0, |b| b.ssrc);
        keeper.update(&reports, ours);
        for r in &reports {
            if r.blocks.len() < 32 {
                let again = rtcp::write(r);
                assert!(rtcp::parse(&again).is_some(), "what we write parses back");
            }
        }
    }
    let mut loss = StreamLoss::default();
    for c in data.chunks_exact(6) {
        // Few distinct sources, so that runs of one source and switches between them happen.
        let ssrc = u32::from_be_bytes([c[0], c[1], c[2], c[3]]) & 3;
        loss.packet(ssrc, u16::from_be_bytes([c[4], c[5]]));
        let _ = loss.lost();
    }
}

/// One step of the bridge script: `[kind][len_hi][len_lo][len bytes]`.
fn bridge(data: &[u8]) {
    let now = clock::base();
    let (p, _, _) = peer::answered(now);
    let mut bridge = Bridge::new(
        p,
        BridgeConfig {
            rtp_timeout: Some(std::time::Duration::from_secs(30)),
        },
        now,
    );
    bridge.set_trunk_media(media(trunk_rtp(), 101, true, true), now);
    bridge.trunk_answered(now);
    drain(&mut bridge);
    let mut ms = 0u64;
    let mut rest = data;
    while let [kind, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        let now = clock::at(ms);
        match kind % 8 {
            0 => bridge.handle_trunk(trunk_rtp(), body, now),
            1 => bridge.handle_trunk_rtcp(SocketAddr::new(trunk_rtp().ip(), 30001), body, now),
            2 => bridge.handle_trunk(SocketAddr::from(([192, 0, 2, 99], 30000)), body, now),
            3 => {
                let _ = bridge.send_dtmf(&String::from_utf8_lossy(body), now);
            }
            4 => {
                ms += body.iter().map(|b| u64::from(*b)).sum::<u64>() * 10;
                bridge.handle_timeout(clock::at(ms));
            }
            5 => {
                // A 183, 200 or re-INVITE moved, held or resumed the trunk's media.
                let flags = body.first().copied().unwrap_or(0);
                let addr = match flags & 4 {
                    0 => trunk_rtp(),
                    _ => SocketAddr::from(([0, 0, 0, 0], 30000)),
                };
                let te = body.get(1).copied().unwrap_or(101);
                bridge.set_trunk_media(media(addr, te, flags & 1 != 0, flags & 2 != 0), now);
            }
            6 => bridge.handle_browser(peer::browser(), body, now),
            _ => {
                let _ = bridge.stats();
                let _ = bridge.trunk_ssrc();
            }
        }
        drain(&mut bridge);
    }
    bridge.close();
    drain(&mut bridge);
}

fn media(addr: SocketAddr, te: u8, receives: bool, sends: bool) -> TrunkMedia {
    TrunkMedia {
        addr,
        telephone_event: Some(te),
        receives: receives && !addr.ip().is_unspecified(),
        sends,
        latch: false,
    }
}

fn drain(bridge: &mut Bridge) {
    for _ in 0..MAX_OUTPUTS {
        match bridge.poll_output() {
            BridgeOutput::ToTrunk { data, .. } => {
                assert!(
                    data.len() >= 12 && data[0] >> 6 == 2,
                    "what we send the trunk is RTP"
                );
            }
            BridgeOutput::Timeout(_) | BridgeOutput::BrowserGone => return,
            _ => {}
        }
    }
}
