//! The media bridge of one call: browser (DTLS-SRTP via [`BrowserPeer`]) ↔ trunk (plain RTP).
//!
//! Sans-IO like the peer inside it: datagrams and time go in, datagrams to send and events
//! come out. G.711 passes through untouched; payload types are mapped between the two sides'
//! numbering, and sequence numbers and timestamps are rewritten into one stream per direction.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::dtmf::{DtmfSender, InvalidDigit};
use super::peer::{BrowserPeer, BrowserPts, PeerOutput, RtpFrame};
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

/// The browser-side payload type for a trunk-side one; None drops the packet.
pub fn pt_to_browser(browser: BrowserPts, trunk: TrunkMedia, pt: u8) -> Option<u8> {
    if pt == TRUNK_PCMU {
        Some(browser.pcmu)
    } else if Some(pt) == trunk.telephone_event {
        browser.telephone_event
    } else {
        None
    }
}

/// The trunk-side payload type for a browser-side one; None drops the packet.
pub fn pt_to_trunk(browser: BrowserPts, trunk: TrunkMedia, pt: u8) -> Option<u8> {
    if pt == browser.pcmu {
        Some(TRUNK_PCMU)
    } else if Some(pt) == browser.telephone_event {
        trunk.telephone_event
    } else {
        None
    }
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
    /// Our own sequence numbers toward the trunk: generated DTMF packets share the stream.
    trunk_seq: u16,
    /// Last RTP timestamp sent to the trunk.
    trunk_ts: u32,
    /// RTP timestamp of the telephone-event being generated.
    event_ts: u32,
    to_trunk: Rewriter,
    to_browser: Rewriter,
    dtmf: DtmfSender,
    queue: VecDeque<BridgeOutput>,
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
            trunk_seq: rand::random::<u16>() & 0x7fff,
            trunk_ts: rand::random(),
            event_ts: 0,
            to_trunk: Rewriter::default(),
            to_browser: Rewriter::default(),
            dtmf: DtmfSender::default(),
            queue: VecDeque::new(),
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
        // Comfort noise or a codec we did not offer is dropped.
        let Some(pt) = pt_to_browser(self.peer.pts(), trunk, p.pt) else {
            return;
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
        self.poll_dtmf(now);
    }

    /// Queues DTMF digits to send to the trunk as RFC 4733 telephone-events.
    pub fn send_dtmf(&mut self, digits: &str, now: Instant) -> Result<(), InvalidDigit> {
        self.dtmf.push(digits, now)?;
        self.poll_dtmf(now);
        Ok(())
    }

    fn poll_dtmf(&mut self, now: Instant) {
        while let Some(p) = self.dtmf.poll(now) {
            let Some(trunk) = self.trunk else { continue };
            let Some(pt) = trunk.telephone_event else {
                continue;
            };
            if p.event_start {
                self.event_ts = self.trunk_ts.wrapping_add(160);
                self.trunk_ts = self.event_ts;
            }
            let data = rtp::write(
                pt,
                p.marker,
                self.next_trunk_seq(),
                self.event_ts,
                self.ssrc,
                &p.payload,
            );
            self.stats.to_trunk += 1;
            self.queue.push_back(BridgeOutput::ToTrunk {
                to: trunk.addr,
                data,
            });
        }
    }

    fn next_trunk_seq(&mut self) -> u16 {
        self.trunk_seq = self.trunk_seq.wrapping_add(1);
        self.trunk_seq
    }

    /// Ends the browser side.
    pub fn close(&mut self) {
        self.peer.close();
    }

    /// Next output; call until it returns `Timeout` (or `BrowserGone`).
    pub fn poll_output(&mut self) -> BridgeOutput {
        if let Some(o) = self.queue.pop_front() {
            return o;
        }
        if self.gone {
            return BridgeOutput::BrowserGone;
        }
        loop {
            match self.peer.poll_output() {
                PeerOutput::Transmit { to, data } => return BridgeOutput::ToBrowser { to, data },
                PeerOutput::Timeout(at) => {
                    let at = self.dtmf.next_timeout().map_or(at, |d| d.min(at));
                    return BridgeOutput::Timeout(at);
                }
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
        let pt = pt_to_trunk(self.peer.pts(), trunk, f.pt)?;
        // The browser's SSRC is hidden from the trunk: one SSRC of ours per call.
        let (_, ts) = self.to_trunk.rewrite(0, f.seq, f.timestamp);
        self.trunk_ts = ts;
        self.stats.to_trunk += 1;
        let seq = self.next_trunk_seq();
        let data = rtp::write(pt, f.marker, seq, ts, self.ssrc, &f.payload);
        Some(BridgeOutput::ToTrunk {
            to: trunk.addr,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: BrowserPts = BrowserPts {
        pcmu: 0,
        telephone_event: Some(126),
    };

    fn trunk(te: Option<u8>) -> TrunkMedia {
        TrunkMedia {
            addr: "127.0.0.1:6000".parse().expect("addr"),
            telephone_event: te,
        }
    }

    #[test]
    fn telephone_events_are_renumbered_both_ways() {
        assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 126), Some(101));
        assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 101), Some(126));
        assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 0), Some(0));
        assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 0), Some(0));
    }

    #[test]
    fn what_the_other_side_did_not_negotiate_is_dropped() {
        assert_eq!(pt_to_trunk(BROWSER, trunk(None), 126), None);
        assert_eq!(
            pt_to_browser(
                BrowserPts {
                    pcmu: 0,
                    telephone_event: None
                },
                trunk(Some(101)),
                101
            ),
            None
        );
        assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 13), None); // CN
        assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 111), None); // opus
    }
}
