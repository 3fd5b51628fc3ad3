//! The media bridge of one call: browser (DTLS-SRTP via [`BrowserPeer`]) ↔ trunk (plain RTP).
//!
//! Sans-IO like the peer inside it: datagrams and time go in, datagrams to send and events
//! come out. G.711 passes through untouched; payload types are mapped between the two sides'
//! numbering, and sequence numbers and timestamps are rewritten into one stream per direction.
//! It also watches for RTP silence ([`RtpWatch`]), keeps the trunk's RTCP reports and stops
//! sending to a trunk that put the call on hold.
//!
//! While the gateway holds the call itself ([`Bridge::hold`]: the visitor waits for an agent),
//! the browser hears music on hold ([`HoldPlayer`]) on the stream it already receives, and
//! nothing is relayed either way until [`Bridge::unhold`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::dtmf::{DtmfSender, InvalidDigit};
use super::hold::{HoldAudio, HoldPlayer};
use super::loss::StreamLoss;
use super::peer::{BrowserPeer, BrowserPts, PeerOutput, RtpFrame};
use super::rtcp::{self, TrunkReports};
use super::rtp::{self, Rewriter};
use super::watchdog::{RtpWatch, Side};

/// Payload type of PCMU on the trunk side (static, RFC 3551).
const TRUNK_PCMU: u8 = 0;

/// What the trunk's SDP told us about its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkMedia {
    /// The only address we send to and accept RTP from (no learning: RTP bleed); 0.0.0.0
    /// while on hold (RFC 2543 style), when we keep accepting from the previous address.
    pub addr: SocketAddr,
    /// telephone-event/8000 payload type on the trunk side.
    pub telephone_event: Option<u8>,
    /// It takes RTP from us (sendrecv/recvonly and a real address); false while on hold.
    pub receives: bool,
    /// It says it sends RTP to us (sendrecv/sendonly).
    pub sends: bool,
    /// An agent's device, maybe behind NAT: its RTP may come from elsewhere than its SDP
    /// names; the first packet from an address the bridge's [`LatchScope`] allows becomes
    /// the one address we send to and accept from (symmetric RTP).
    pub latch: bool,
}

/// Where a device's RTP may be latched from (the operator's networks for phones): nothing
/// outside it is ever sent to or accepted.
#[derive(Clone)]
pub struct LatchScope(std::sync::Arc<dyn Fn(std::net::IpAddr) -> bool + Send + Sync>);

impl LatchScope {
    /// A scope allowing the addresses `allows` says yes to.
    pub fn new(allows: impl Fn(std::net::IpAddr) -> bool + Send + Sync + 'static) -> Self {
        LatchScope(std::sync::Arc::new(allows))
    }
}

impl std::fmt::Debug for LatchScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LatchScope(..)")
    }
}

/// Settings of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeConfig {
    /// RTP silence from either side after which the call ends; None never.
    pub rtp_timeout: Option<Duration>,
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
    /// No RTP from this side for the configured time: end the call.
    RtpTimeout(Side),
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
    /// RTP packets sent to the browser.
    pub to_browser: u64,
    /// Packets of the browser's stream that never reached us (sequence gaps).
    pub lost_from_browser: u64,
    /// Packets of the trunk's stream that never reached us (sequence gaps).
    pub lost_from_trunk: u64,
    /// RTP packets from other addresses, dropped.
    pub dropped_foreign: u64,
    /// Packets not sent to the trunk because it had put the call on hold.
    pub held: u64,
    /// Music-on-hold frames sent to the browser (not in `to_browser`, which counts relayed
    /// packets).
    pub hold_frames: u64,
    /// What the trunk's RTCP reports said.
    pub trunk_rtcp: TrunkReports,
}

/// One call's media path.
pub struct Bridge {
    peer: BrowserPeer,
    trunk: Option<TrunkMedia>,
    /// Where trunk RTP is accepted from: the last real address it gave, or where a
    /// device's RTP was latched from.
    trunk_source: Option<SocketAddr>,
    /// Where a device's RTP may be latched from; None: never (trunks).
    latch_scope: Option<LatchScope>,
    /// The address a device's RTP was latched from, once it was.
    latched: Option<SocketAddr>,
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
    browser_loss: StreamLoss,
    trunk_loss: StreamLoss,
    watch: RtpWatch,
    /// Music on hold while the gateway holds the call: nothing is relayed meanwhile.
    hold: Option<HoldPlayer>,
    /// The next packet relayed to the browser starts a talkspurt (after music on hold).
    mark_relay: bool,
    /// ICE and DTLS are up: RTP can be sent to the browser.
    connected: bool,
    /// The time of the latest input, for packets that poll_output drains.
    now: Instant,
    gone: bool,
}

impl Bridge {
    /// A bridge around an answered browser peer; the trunk side is unknown until it answers.
    pub fn new(peer: BrowserPeer, config: BridgeConfig, now: Instant) -> Self {
        Bridge {
            peer,
            trunk: None,
            trunk_source: None,
            latch_scope: None,
            latched: None,
            ssrc: rand::random(),
            trunk_seq: rand::random::<u16>() & 0x7fff,
            trunk_ts: rand::random(),
            event_ts: 0,
            to_trunk: Rewriter::default(),
            to_browser: Rewriter::default(),
            dtmf: DtmfSender::default(),
            queue: VecDeque::new(),
            stats: BridgeStats::default(),
            browser_loss: StreamLoss::default(),
            trunk_loss: StreamLoss::default(),
            watch: RtpWatch::new(config.rtp_timeout, now),
            hold: None,
            mark_relay: false,
            connected: false,
            now,
            gone: false,
        }
    }

    /// The same bridge, latching a device's RTP (see [`TrunkMedia::latch`]) only from
    /// addresses `scope` allows.
    pub fn latching_within(mut self, scope: LatchScope) -> Self {
        self.latch_scope = Some(scope);
        self
    }

    /// Sets (or moves, holds, resumes) the trunk's media, from a 183, 200 or re-INVITE SDP.
    pub fn set_trunk_media(&mut self, media: TrunkMedia, now: Instant) {
        self.now = now;
        if !media.addr.ip().is_unspecified() && self.latched.is_none() {
            self.trunk_source = Some(media.addr);
        }
        self.watch.trunk_sends(media.sends, now);
        self.trunk = Some(media);
    }

    /// The trunk answered: its RTP is watched from now on.
    pub fn trunk_answered(&mut self, now: Instant) {
        self.now = now;
        self.watch.answered(now);
    }

    /// Holds the call: the browser hears `audio` (from its beginning, a frame every 20 ms,
    /// continuing the RTP stream it already receives), and nothing is relayed either way
    /// until [`Bridge::unhold`]: not the trunk's audio (ringback, a dead or absent leg) to the
    /// browser, not the browser's audio or DTMF to the trunk. Before the browser is connected
    /// the music starts once it is. Holding again switches the audio (same audio: no change).
    pub fn hold(&mut self, audio: HoldAudio, now: Instant) {
        self.now = now;
        match self.hold.as_mut() {
            Some(player) => player.set_audio(audio),
            None => {
                let mut player = HoldPlayer::new(audio);
                if self.connected {
                    player.start(now);
                }
                self.hold = Some(player);
            }
        }
    }

    /// Ends the gateway's hold: both ways are relayed again (an agent answered).
    pub fn unhold(&mut self, now: Instant) {
        self.now = now;
        if self.hold.take().is_some() {
            self.mark_relay = true;
        }
    }

    /// Whether the gateway holds the call (music on hold, no relaying).
    pub fn on_hold(&self) -> bool {
        self.hold.is_some()
    }

    /// Our SSRC toward the trunk (what its RTCP report blocks are about).
    pub fn trunk_ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Counters so far.
    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            lost_from_browser: self.browser_loss.lost(),
            lost_from_trunk: self.trunk_loss.lost(),
            ..self.stats
        }
    }

    /// Our ICE ufrag on the browser side (see [`super::stun::receiver_ufrag`]).
    pub fn local_ufrag(&self) -> &str {
        self.peer.local_ufrag()
    }

    /// Whether a datagram on a shared WebRTC socket is this call's.
    pub fn accepts_browser(&self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        self.peer.accepts(from, data, now)
    }

    /// A datagram arrived on the WebRTC socket.
    pub fn handle_browser(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        self.now = now;
        self.peer.handle_datagram(from, data, now);
    }

    /// A datagram arrived on the trunk-side RTP socket (RTP, or RTCP when multiplexed).
    pub fn handle_trunk(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        self.now = now;
        let (Some(trunk), Some(source)) = (self.trunk, self.trunk_source) else {
            self.stats.dropped_foreign += 1;
            return;
        };
        if from != source && !self.latch(trunk, from) {
            self.stats.dropped_foreign += 1;
            return;
        }
        if rtcp::is_rtcp(data) {
            self.take_rtcp(data);
            return;
        }
        let Some(p) = rtp::parse(data) else { return };
        self.stats.from_trunk += 1;
        self.trunk_loss.packet(p.ssrc, p.seq);
        self.watch.heard(Side::Trunk, now);
        // Held: the visitor hears music on hold, not the agent leg's ringback.
        if self.hold.is_some() {
            return;
        }
        // Comfort noise or a codec we did not offer is dropped.
        let Some(pt) = pt_to_browser(self.peer.pts(), trunk, p.pt) else {
            return;
        };
        let (seq, timestamp) = self.to_browser.rewrite(p.ssrc, p.seq, p.timestamp);
        let frame = RtpFrame {
            pt,
            seq,
            timestamp,
            marker: p.marker || std::mem::take(&mut self.mark_relay),
            payload: p.payload.to_vec(),
        };
        self.stats.to_browser += 1;
        self.peer.send_rtp(frame, now);
    }

    /// A datagram arrived on the trunk-side RTCP socket (the RTP port + 1, RFC 3550 §11):
    /// accepted from the trunk's media host on any port (`a=rtcp`, RFC 3605, may move it).
    pub fn handle_trunk_rtcp(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        self.now = now;
        if self.trunk_source.map(|s| s.ip()) != Some(from.ip()) {
            self.stats.dropped_foreign += 1;
            return;
        }
        self.take_rtcp(data);
    }

    fn take_rtcp(&mut self, data: &[u8]) {
        match rtcp::parse(data) {
            Some(reports) => self.stats.trunk_rtcp.update(&reports, self.ssrc),
            None => tracing::debug!(len = data.len(), "malformed RTCP from the trunk"),
        }
    }

    /// Timers are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        // Hold frames due are queued first: the peer's timeout sends them.
        self.poll_hold(now);
        self.peer.handle_timeout(now);
        self.poll_dtmf(now);
        if let Some(side) = self.watch.check(now) {
            self.queue.push_back(BridgeOutput::RtpTimeout(side));
        }
    }

    /// Queues DTMF digits to send to the trunk as RFC 4733 telephone-events.
    pub fn send_dtmf(&mut self, digits: &str, now: Instant) -> Result<(), InvalidDigit> {
        self.now = now;
        self.dtmf.push(digits, now)?;
        self.poll_dtmf(now);
        Ok(())
    }

    /// The trunk to send to, unless it has put the call on hold (then the packet is counted
    /// and dropped: nothing goes to 0.0.0.0 or to a trunk that said it does not listen).
    fn sending_trunk(&mut self) -> Option<TrunkMedia> {
        let trunk = self.trunk?;
        if !trunk.receives {
            self.stats.held += 1;
            return None;
        }
        Some(match self.latched {
            Some(addr) => TrunkMedia { addr, ..trunk },
            None => trunk,
        })
    }

    /// Latches a device's RTP to `from`: once, and only inside the scope.
    fn latch(&mut self, trunk: TrunkMedia, from: SocketAddr) -> bool {
        let allowed = trunk.latch
            && self.latched.is_none()
            && self.latch_scope.as_ref().is_some_and(|s| (s.0)(from.ip()));
        if allowed {
            tracing::info!(sdp = %trunk.addr, %from, "device RTP latched (NAT)");
            self.latched = Some(from);
            self.trunk_source = Some(from);
        }
        allowed
    }

    /// Queues for the browser the music-on-hold frames that are due (sent by the peer's
    /// timeout that follows).
    fn poll_hold(&mut self, now: Instant) {
        if self.gone || !self.connected {
            return;
        }
        let Some(player) = self.hold.as_mut() else {
            return;
        };
        let pt = self.peer.pts().pcmu;
        while let Some(frame) = player.poll(now) {
            let (_, timestamp) = self.to_browser.generated(frame.ts_step);
            self.stats.hold_frames += 1;
            self.peer
                .queue_shared(pt, timestamp, frame.marker, frame.payload, now);
        }
    }

    fn poll_dtmf(&mut self, now: Instant) {
        while let Some(p) = self.dtmf.poll(now) {
            // Digits pressed while waiting in the queue are for nobody.
            if self.hold.is_some() {
                continue;
            }
            let Some(trunk) = self.sending_trunk() else {
                continue;
            };
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
                    // None until the browser is connected.
                    let hold = self.hold.as_ref().and_then(HoldPlayer::next_timeout);
                    let at = [self.dtmf.next_timeout(), self.watch.deadline(), hold]
                        .into_iter()
                        .flatten()
                        .fold(at, Instant::min);
                    return BridgeOutput::Timeout(at);
                }
                PeerOutput::Connected => {
                    self.connected = true;
                    if let Some(player) = self.hold.as_mut() {
                        player.start(self.now);
                    }
                    return BridgeOutput::Connected;
                }
                PeerOutput::Disconnected => {
                    self.gone = true;
                    return BridgeOutput::BrowserGone;
                }
                PeerOutput::Rtp(frame) => {
                    self.stats.from_browser += 1;
                    // The browser keeps one SSRC per call.
                    self.browser_loss.packet(0, frame.seq);
                    self.watch.heard(Side::Browser, self.now);
                    if let Some(out) = self.browser_to_trunk(&frame) {
                        return out;
                    }
                }
            }
        }
    }

    fn browser_to_trunk(&mut self, f: &RtpFrame) -> Option<BridgeOutput> {
        // Held: there may be no trunk, or an agent's phone still ringing.
        if self.hold.is_some() {
            return None;
        }
        let trunk = self.sending_trunk()?;
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
mod tests;
