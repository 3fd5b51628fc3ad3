//! One simulated browser: a str0m peer that offers PCMU with full ICE (controlling) and
//! DTLS-SRTP, sends 50 packets/s stamped with their send time and index, and counts what
//! the far side echoes back.
//!
//! Sans-IO like the gateway's own peer: the media loop owns the socket and the clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::stats::Histogram;

/// One G.711 frame: 20 ms at 8 kHz (RFC 3551 §4.5.14).
pub const PACKET_INTERVAL: Duration = Duration::from_millis(20);
/// RTP timestamp step of one frame.
const TS_STEP: u32 = 160;
/// PCMU's static payload type (RFC 3551 table 4).
const PCMU: u8 = 0;
/// µ-law silence, the filler after the 16-byte stamp.
const SILENCE: u8 = 0xff;
/// Frames at the start of sending that are not counted: media may start a moment before the
/// relay has finished its own DTLS/ICE side (rtpengine drops those), which is setup, not loss.
const WARMUP_FRAMES: u64 = 12;
/// If the loop falls this far behind, skip frames instead of bursting them out.
const MAX_LAG: Duration = Duration::from_millis(60);

/// Why a simulated browser could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// str0m refused our own offer or the far side's answer.
    #[error("webrtc: {0}")]
    Rtc(String),
}

/// The packet counters of one call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaCounts {
    /// ICE and DTLS came up.
    pub connected: bool,
    /// Stamped packets sent.
    pub sent: u64,
    /// Distinct stamped packets that came back.
    pub received: u64,
    /// Echoed packets seen more than once.
    pub duplicates: u64,
    /// Frames skipped because the loop ran late.
    pub skipped: u64,
}

/// What the media loop must do for this browser.
#[derive(Debug)]
pub enum BrowserOutput {
    /// Send `data` from the browser's socket.
    Transmit { to: SocketAddr, data: Vec<u8> },
    /// Nothing until then.
    Timeout(Instant),
}

/// A simulated browser.
pub struct Browser {
    rtc: Rtc,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    epoch: Instant,
    /// Sending starts once the far end answered and ICE + DTLS are up.
    answered: bool,
    sending: bool,
    next_send: Instant,
    seq: u64,
    /// First packet index counted in the loss and round-trip figures.
    counted_from: u64,
    ts: u32,
    counts: MediaCounts,
    /// One bit per packet index: which came back.
    seen: Vec<u64>,
    dead: bool,
}

impl Browser {
    /// A browser on the socket bound at `local`; returns it and its SDP offer. `epoch` is the
    /// run's common clock origin for the send stamps.
    pub fn offer(
        local: SocketAddr,
        epoch: Instant,
        now: Instant,
    ) -> Result<(Self, String), BrowserError> {
        // What a G.711 call needs, configured as the gateway answers it.
        let config = c2c_media::peer::g711_config();
        let mut rtc = config.build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| BrowserError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| BrowserError::Rtc("no offer produced".into()))?;
        let browser = Browser {
            rtc,
            local,
            mid,
            pending: Some(pending),
            epoch,
            answered: false,
            sending: false,
            next_send: now,
            seq: 1,
            counted_from: 1 + WARMUP_FRAMES,
            ts: rand_u32(),
            counts: MediaCounts::default(),
            seen: Vec::new(),
            dead: false,
        };
        Ok((browser, offer.to_sdp_string()))
    }

    /// Applies the far side's SDP answer; ICE starts at the next poll.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), BrowserError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| BrowserError::Rtc(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| BrowserError::Rtc("answer without an offer".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| BrowserError::Rtc(e.to_string()))
    }

    /// The call was answered: send audio as soon as (or once) media is connected.
    pub fn set_answered(&mut self, now: Instant) {
        self.answered = true;
        self.maybe_start(now);
    }

    /// Stops sending; echoes still in flight are counted until the browser is dropped.
    pub fn stop_sending(&mut self) {
        self.sending = false;
        self.answered = false;
    }

    /// Counters so far.
    pub fn counts(&self) -> MediaCounts {
        self.counts
    }

    /// Whether the peer failed or disconnected.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    fn maybe_start(&mut self, now: Instant) {
        if self.answered && self.counts.connected && !self.sending {
            self.sending = true;
            self.next_send = now;
        }
    }

    /// A datagram arrived on the browser's socket.
    pub fn handle_datagram(&mut self, from: SocketAddr, data: &[u8], now: Instant) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.local,
                contents,
            },
        );
        if let Err(e) = self.rtc.handle_input(input) {
            tracing::debug!(error = %e, "datagram refused");
        }
    }

    /// Timers and the send clock: sends the frames that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(error = %e, "timeout handling failed");
            self.dead = true;
            return;
        }
        if !self.sending {
            return;
        }
        if now.saturating_duration_since(self.next_send) > MAX_LAG {
            let behind = now.saturating_duration_since(self.next_send);
            let frames = (behind.as_micros() / PACKET_INTERVAL.as_micros()) as u64;
            self.counts.skipped += frames;
            self.next_send += PACKET_INTERVAL * frames as u32;
        }
        let mut wrote = false;
        while self.next_send <= now {
            self.send_frame(now);
            self.next_send += PACKET_INTERVAL;
            wrote = true;
        }
        // Written packets leave at the next timeout str0m handles: make that now.
        if wrote {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                tracing::debug!(error = %e, "timeout handling failed");
                self.dead = true;
            }
        }
    }

    fn send_frame(&mut self, now: Instant) {
        let mut payload = vec![SILENCE; TS_STEP as usize];
        let stamp = now.duration_since(self.epoch).as_nanos() as u64;
        payload[..8].copy_from_slice(&stamp.to_be_bytes());
        payload[8..16].copy_from_slice(&self.seq.to_be_bytes());
        let seq: SeqNo = self.seq.into();
        self.ts = self.ts.wrapping_add(TS_STEP);
        let write = RtpWrite::new(Pt::from(PCMU), seq, self.ts, now, payload);
        let mut api = self.rtc.direct_api();
        if let Some(tx) = api.stream_tx_by_mid(self.mid, None) {
            tx.write_rtp(write);
            if self.seq >= self.counted_from {
                self.counts.sent += 1;
            }
            self.seq += 1;
        }
    }

    /// The next output; call until it returns `Timeout`. Echoed packets are counted and their
    /// round trips recorded in `rtt` on the way.
    pub fn poll_output(&mut self, rtt: &mut Histogram) -> BrowserOutput {
        loop {
            if self.dead {
                return BrowserOutput::Timeout(far_future());
            }
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    return BrowserOutput::Transmit {
                        to: t.destination,
                        data: t.contents.into(),
                    }
                }
                Ok(Output::Timeout(at)) => {
                    let at = if self.sending {
                        at.min(self.next_send)
                    } else {
                        at
                    };
                    return BrowserOutput::Timeout(at);
                }
                Ok(Output::Event(ev)) => match ev {
                    Event::Connected => {
                        self.counts.connected = true;
                        self.maybe_start(Instant::now());
                    }
                    Event::RtpPacket(p) => self.count_echo(&p.payload, rtt),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.dead = true;
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!(error = %e, "peer failed");
                    self.dead = true;
                }
            }
        }
    }

    fn count_echo(&mut self, payload: &[u8], rtt: &mut Histogram) {
        let (Some(stamp), Some(index)) = (read_u64(payload, 0), read_u64(payload, 8)) else {
            return;
        };
        if index < self.counted_from || index >= self.seq {
            return;
        }
        let (word, bit) = ((index / 64) as usize, index % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            self.counts.duplicates += 1;
            return;
        }
        self.seen[word] |= 1 << bit;
        self.counts.received += 1;
        let now = Instant::now().duration_since(self.epoch).as_nanos() as u64;
        rtt.record_ns(now.saturating_sub(stamp));
    }
}

fn read_u64(data: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// A random RTP timestamp origin (RFC 3550 §5.1), without a crate for it.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) as u32
}
