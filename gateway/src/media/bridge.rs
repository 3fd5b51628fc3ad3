//! The media bridge of one call: browser (DTLS-SRTP via [`BrowserPeer`]) ↔ trunk (plain RTP).
//!
//! Sans-IO like the peer inside it: datagrams and time go in, datagrams to send and events
//! come out. G.711 passes through untouched; payload types are mapped between the two sides'
//! numbering, and sequence numbers and timestamps are rewritten into one stream per direction.

use std::net::SocketAddr;
use std::time::Instant;

use super::peer::{BrowserPeer, PeerOutput, RtpFrame};
use super::rtp::{self, Rewriter};

/// Payload type of PCMU on the trunk side (static, RFC 3551).
const TRUNK_PCMU: u8 = 0;

/// What the trunk's SDP told us about its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkMedia {
    /// The only address we send to and accept RTP from (no learning: RTP bleed).
    pub addr: SocketAddr,
    /// telephone-event/8000 payload type on the trunk side.
    pub telephone_event: Option<u8>,
}

/// What the bridge wants done.
#[derive(Debug)]
pub enum BridgeOutput {
    /// Send from the WebRTC socket.
    ToBrowser { to: SocketAddr, data: Vec<u8> },
    /// Send from the trunk-side RTP socket.
    ToTrunk { to: SocketAddr, data: Vec<u8> },
    /// ICE + DTLS up.
    Connected,
    /// The browser's peer is gone.
    BrowserGone,
    /// Call `handle_timeout` at this time.
    Timeout(Instant),
}

/// Packet counters of one call, for the call record and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BridgeStats {
    /// RTP packets from the browser.
    pub from_browser: u64,
    /// RTP packets sent to the trunk.
    pub to_trunk: u64,
    /// RTP packets from the trunk's address.
    pub from_trunk: u64,
    /// RTP packets from other addresses, dropped.
    pub dropped_foreign: u64,
}

/// One call's media path.
pub struct Bridge {
    peer: BrowserPeer,
    trunk: Option<TrunkMedia>,
    ssrc: u32,
    to_trunk: Rewriter,
    to_browser: Rewriter,
    stats: BridgeStats,
    gone: bool,
}

impl Bridge {
    /// A bridge around an answered browser peer; the trunk side is unknown until it answers.
    pub fn new(peer: BrowserPeer) -> Self {
        Bridge {
            peer,
            trunk: None,
            ssrc: rand::random(),
            to_trunk: Rewriter::default(),
            to_browser: Rewriter::default(),
            stats: BridgeStats::default(),
            gone: false,
        }
    }

    /// Sets (or moves) the trunk's media address, from a 183 or 200 SDP.
    pub fn set_trunk_media(&mut self, media: TrunkMedia) {
        self.trunk = Some(media);
    }

    /// Counters so far.
    pub fn stats(&self) -> BridgeStats {
        self.stats
    }

    /// Whether a datagram on a shared WebRTC socket is this call's.
    pub fn accepts_browser(&self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        self.peer.accepts(from, data, now)
    }

    /// A datagram arrived on the WebRTC socket.
    pub fn handle_browser(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        self.peer.handle_datagram(from, data, now);
    }

    /// A datagram arrived on the trunk-side RTP socket.
    pub fn handle_trunk(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        let Some(trunk) = self.trunk else {
            self.stats.dropped_foreign += 1;
            return;
        };
        if from != trunk.addr {
            self.stats.dropped_foreign += 1;
            return;
        }
        let Some(p) = rtp::parse(data) else { return };
        self.stats.from_trunk += 1;
        let pts = self.peer.pts();
        let pt = if p.pt == TRUNK_PCMU {
            pts.pcmu
        } else if Some(p.pt) == trunk.telephone_event && pts.telephone_event.is_some() {
            pts.telephone_event.unwrap_or(pts.pcmu)
        } else {
            return; // comfort noise or a codec we did not offer
        };
        let (seq, timestamp) = self.to_browser.rewrite(p.ssrc, p.seq, p.timestamp);
        let frame = RtpFrame {
            pt,
            seq,
            timestamp,
            marker: p.marker,
            payload: p.payload.to_vec(),
        };
        self.peer.send_rtp(frame, now);
    }

    /// Timers are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.peer.handle_timeout(now);
    }

    /// Ends the browser side.
    pub fn close(&mut self) {
        self.peer.close();
    }

    /// Next output; call until it returns `Timeout` (or `BrowserGone`).
    pub fn poll_output(&mut self) -> BridgeOutput {
        if self.gone {
            return BridgeOutput::BrowserGone;
        }
        loop {
            match self.peer.poll_output() {
                PeerOutput::Transmit { to, data } => return BridgeOutput::ToBrowser { to, data },
                PeerOutput::Timeout(at) => return BridgeOutput::Timeout(at),
                PeerOutput::Connected => return BridgeOutput::Connected,
                PeerOutput::Disconnected => {
                    self.gone = true;
                    return BridgeOutput::BrowserGone;
                }
                PeerOutput::Rtp(frame) => {
                    self.stats.from_browser += 1;
                    if let Some(out) = self.browser_to_trunk(&frame) {
                        return out;
                    }
                }
            }
        }
    }

    fn browser_to_trunk(&mut self, f: &RtpFrame) -> Option<BridgeOutput> {
        let trunk = self.trunk?;
        let pts = self.peer.pts();
        let pt = if f.pt == pts.pcmu {
            TRUNK_PCMU
        } else if Some(f.pt) == pts.telephone_event {
            trunk.telephone_event?
        } else {
            return None;
        };
        // The browser's SSRC is hidden from the trunk: one SSRC of ours per call.
        let (seq, ts) = self.to_trunk.rewrite(0, f.seq, f.timestamp);
        self.stats.to_trunk += 1;
        let data = rtp::write(pt, f.marker, seq, ts, self.ssrc, &f.payload);
        Some(BridgeOutput::ToTrunk {
            to: trunk.addr,
            data,
        })
    }
}
