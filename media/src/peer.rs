//! The browser's WebRTC peer (ICE-lite, DTLS-SRTP), the only module that touches str0m.
//!
//! str0m runs in RTP mode: we see and write whole RTP packets, so G.711 and RFC 4733
//! telephone-events pass through with their timestamps and marker bits intact, no
//! depacketising or re-framing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::format::{Codec, FormatParams};
use str0m::media::{Frequency, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{Extension, RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// Why the browser's offer could not be answered or the peer failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The offer is not valid SDP.
    #[error("offer is not valid SDP: {0}")]
    BadOffer(String),
    /// The offer has no audio we can pass through (PCMU).
    #[error("offer has no PCMU audio")]
    NoPcmu,
    /// str0m refused an input or failed.
    #[error("webrtc: {0}")]
    Rtc(String),
}

/// One RTP packet as received from or sent to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpFrame {
    /// Payload type on the browser side.
    pub pt: u8,
    /// Sequence number (16 bits on the wire).
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Marker bit (start of talkspurt; first packet of a DTMF event).
    pub marker: bool,
    /// RTP payload.
    pub payload: Vec<u8>,
}

/// What the peer wants done.
#[derive(Debug)]
pub enum PeerOutput {
    /// Send `data` from our WebRTC socket to `to`.
    Transmit { to: SocketAddr, data: Vec<u8> },
    /// An RTP packet arrived from the browser.
    Rtp(RtpFrame),
    /// ICE and DTLS are up: media can flow.
    Connected,
    /// The browser went away (ICE disconnected or the peer closed).
    Disconnected,
    /// Call `handle_timeout` at this time.
    Timeout(Instant),
}

/// Payload types negotiated with the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserPts {
    /// G.711 µ-law.
    pub pcmu: u8,
    /// telephone-event/8000, if the browser offered it.
    pub telephone_event: Option<u8>,
}

/// The browser side of a call.
pub struct BrowserPeer {
    /// Boxed: an `Rtc` is ~10 KiB inline, moved through channels and held in the loop's
    /// call table, whose spare capacity would otherwise cost that much per empty slot.
    rtc: Box<Rtc>,
    local: SocketAddr,
    mid: Mid,
    pts: BrowserPts,
    /// Extended sequence counter of what we send (str0m wants the rollover count too).
    tx_seq: u64,
    dead: bool,
    /// Our ICE ufrag (from the answer): the browser's checks name it.
    ufrag: String,
}

/// What a G.711 call needs from str0m, for both ends (the gateway's answer, and the load
/// generator's and benchmarks' browsers): RTP mode, PCMU and telephone-event/8000 (payload
/// type 126) only, the two header extensions browsers send, no stats. TWCC and abs-send-time
/// would cost CPU per packet for nothing.
pub fn g711_config() -> RtcConfig {
    let mut config = RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true, false)
        .clear_extension_map()
        .set_extension(1, Extension::AudioLevel)
        .set_extension(4, Extension::RtpMid)
        .set_stats_interval(None);
    config.codec_config().add_config(
        Pt::from(126),
        None,
        Codec::Tele,
        Frequency::EIGHT_KHZ,
        None,
        FormatParams::default(),
    );
    config
}

impl BrowserPeer {
    /// Answers the browser's SDP offer for a peer reached at `local`; returns the peer and
    /// the SDP answer to send back.
    pub fn answer(
        offer: &str,
        local: SocketAddr,
        now: Instant,
    ) -> Result<(Self, String), PeerError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| PeerError::BadOffer(e.to_string()))?;
        let config = g711_config()
            .set_ice_lite(true)
            // Every write is one packet and is sent in the same turn (see `send_rtp`); the
            // default ring of 50 packets per call is memory for nothing. A DTMF event's three
            // end packets are the largest burst.
            .set_send_buffer_audio(8);
        let mut rtc = Box::new(config.build(now));
        let candidate = Candidate::host(local, "udp").map_err(|e| PeerError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| PeerError::BadOffer(e.to_string()))?;

        let answer = answer.to_sdp_string();
        let (mid, pts) = negotiated_audio(&rtc, &answer).ok_or(PeerError::NoPcmu)?;
        let ufrag = answer
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
            .map(str::to_owned)
            .ok_or_else(|| PeerError::Rtc("the answer has no ICE ufrag".into()))?;
        let mut tx_seq = 0u64;
        while tx_seq == 0 {
            tx_seq = u64::from(rand::random::<u16>() & 0x7fff);
        }
        let peer = BrowserPeer {
            rtc,
            local,
            mid,
            pts,
            tx_seq,
            dead: false,
            ufrag,
        };
        Ok((peer, answer))
    }

    /// Our ICE ufrag: the receiver ufrag of every connectivity check meant for this peer.
    pub fn local_ufrag(&self) -> &str {
        &self.ufrag
    }

    /// The payload types the browser agreed to.
    pub fn pts(&self) -> BrowserPts {
        self.pts
    }

    /// Whether this datagram belongs to this peer (STUN for our ufrag, or from its address).
    pub fn accepts(&self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        match receive(from, self.local, data) {
            Some(r) => self.rtc.accepts(&Input::Receive(now, r)),
            None => false,
        }
    }

    /// Feeds a datagram that arrived on the WebRTC socket.
    pub fn handle_datagram(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        let Some(r) = receive(from, self.local, data) else {
            return;
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, r)) {
            tracing::debug!(error = %e, "browser datagram refused");
        }
    }

    /// Advances timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::warn!(error = %e, "webrtc timeout handling failed");
            self.dead = true;
        }
    }

    /// Sends one RTP packet to the browser (payload type already mapped to the browser's).
    pub fn send_rtp(&mut self, frame: RtpFrame, now: Instant) {
        self.write_rtp(frame.pt, frame.timestamp, frame.marker, frame.payload, now);
        // str0m packetises written RTP on its next timeout: run it now, so the packet leaves
        // in this loop turn instead of after another wake-up.
        self.handle_timeout(now);
    }

    /// Queues one RTP packet whose payload is shared (music on hold: the same frame for every
    /// call, so nothing is copied or allocated for it here); it leaves at the next
    /// `handle_timeout`, which the caller runs right after.
    pub fn queue_shared(
        &mut self,
        pt: u8,
        timestamp: u32,
        marker: bool,
        payload: Arc<[u8]>,
        now: Instant,
    ) {
        self.write_rtp(pt, timestamp, marker, payload, now);
    }

    fn write_rtp(
        &mut self,
        pt: u8,
        timestamp: u32,
        marker: bool,
        payload: impl Into<Arc<[u8]>>,
        now: Instant,
    ) {
        let seq: SeqNo = self.tx_seq.into();
        self.tx_seq += 1;
        let write = RtpWrite::new(Pt::from(pt), seq, timestamp, now, payload).marker(marker);
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(self.mid, None) {
            tx.write_rtp(write);
        }
    }

    /// Closes the peer.
    pub fn close(&mut self) {
        self.rtc.disconnect();
        self.dead = true;
    }

    /// Next thing to do; call until it returns `Timeout`.
    pub fn poll_output(&mut self) -> PeerOutput {
        if self.dead {
            return PeerOutput::Disconnected;
        }
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    return PeerOutput::Transmit {
                        to: t.destination,
                        data: t.contents.into(),
                    }
                }
                Ok(Output::Timeout(at)) => return PeerOutput::Timeout(at),
                Ok(Output::Event(ev)) => match ev {
                    Event::RtpPacket(p) => {
                        return PeerOutput::Rtp(RtpFrame {
                            pt: *p.header.payload_type,
                            seq: p.header.sequence_number,
                            timestamp: p.header.timestamp,
                            marker: p.header.marker,
                            payload: p.payload.to_vec(),
                        })
                    }
                    Event::Connected => return PeerOutput::Connected,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.dead = true;
                        return PeerOutput::Disconnected;
                    }
                    _ => continue,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "webrtc peer failed");
                    self.dead = true;
                    return PeerOutput::Disconnected;
                }
            }
        }
    }
}

fn receive(from: SocketAddr, local: SocketAddr, data: &[u8]) -> Option<Receive<'_>> {
    Some(Receive {
        proto: Protocol::Udp,
        source: from,
        destination: local,
        contents: data.try_into().ok()?,
    })
}

/// The audio m-line's mid (read from our answer: str0m reports `MediaAdded` only once
/// connected) and the payload types we pass through.
fn negotiated_audio(rtc: &Rtc, answer: &str) -> Option<(Mid, BrowserPts)> {
    let mut in_audio = false;
    let mut mid = None;
    for line in answer.lines() {
        if line.starts_with("m=") {
            in_audio = line.starts_with("m=audio ");
        } else if in_audio {
            if let Some(m) = line.strip_prefix("a=mid:") {
                mid = Some(Mid::from(m.trim()));
                break;
            }
        }
    }
    let mid = mid?;
    let media = rtc.media(mid)?;
    let mut pcmu = None;
    let mut tele = None;
    for pt in media.remote_pts() {
        let Some(p) = rtc.codec_config().params().iter().find(|p| p.pt() == *pt) else {
            continue;
        };
        let spec = p.spec();
        if spec.codec == Codec::PCMU {
            pcmu.get_or_insert(**pt);
        } else if spec.codec == Codec::Tele && spec.clock_rate == Frequency::EIGHT_KHZ {
            tele.get_or_insert(**pt);
        }
    }
    Some((
        mid,
        BrowserPts {
            pcmu: pcmu?,
            telephone_event: tele,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = include_str!("../tests/fixtures/chromium_offer.sdp");

    #[test]
    fn a_chromium_offer_is_answered_with_pcmu_and_telephone_event_only() {
        let local: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let (peer, answer) = BrowserPeer::answer(OFFER, local, Instant::now()).expect("answer");
        assert_eq!(
            peer.pts(),
            BrowserPts {
                pcmu: 0,
                telephone_event: Some(126)
            }
        );
        let m_line = answer
            .lines()
            .find(|l| l.starts_with("m=audio"))
            .expect("m=audio");
        assert!(m_line.ends_with(" 0 126"), "{m_line}");
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("127.0.0.1 40000 typ host"), "{answer}");
        assert!(!answer.contains("opus"), "{answer}");
        assert!(!answer.contains("transport-cc"), "{answer}");
    }

    #[test]
    fn an_offer_without_pcmu_or_garbage_is_refused() {
        let local: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
        let opus_only = OFFER
            .replace(" 111 63 9 0 8 13 110 126", " 111")
            .lines()
            .filter(|l| !l.contains("rtpmap:") || l.contains("opus"))
            .collect::<Vec<_>>()
            .join("\r\n")
            + "\r\n";
        assert!(BrowserPeer::answer(&opus_only, local, Instant::now()).is_err());
        assert!(BrowserPeer::answer("nonsense", local, Instant::now()).is_err());
        assert!(BrowserPeer::answer("", local, Instant::now()).is_err());
    }
}
