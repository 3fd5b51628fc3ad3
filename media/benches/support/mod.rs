//! The in-memory call both benches drive: a str0m offerer plays the browser and the
//! gateway's `Bridge` (with its `BrowserPeer`) answers over an in-memory wire.

// Each bench uses its own subset of these helpers.
#![allow(dead_code)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use c2c_media::bridge::{Bridge, BridgeConfig, BridgeOutput, TrunkMedia};
use c2c_media::peer::{g711_config, BrowserPeer};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo};
use str0m::{Candidate, Event, Input, Output, Rtc};

pub const BROWSER: &str = "127.0.0.1:41000";
pub const GATEWAY: &str = "127.0.0.1:42000";
pub const TRUNK: &str = "127.0.0.1:43000";

/// A connected pair: the browser's str0m and the gateway's bridge.
pub struct Call {
    pub browser: Rtc,
    pub mid: Mid,
    pub bridge: Bridge,
    pub now: Instant,
    pub seq: u64,
    pub trunk_seq: u16,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

pub fn receive(from: SocketAddr, to: SocketAddr, data: &[u8]) -> Receive<'_> {
    Receive {
        proto: Protocol::Udp,
        source: from,
        destination: to,
        contents: data.try_into().expect("a datagram str0m can read"),
    }
}

impl Call {
    /// A connected call: [`Call::answered`], then [`Call::handshake`].
    pub fn connect() -> Call {
        let mut call = Call::answered();
        call.handshake();
        call
    }

    /// The browser's offer answered by a new bridge whose trunk has answered; no ICE yet.
    pub fn answered() -> Call {
        let now = Instant::now();
        let mut browser = g711_config().build(now);
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
                latch: false,
            },
            now,
        );
        bridge.trunk_answered(now);
        Call {
            browser,
            mid,
            bridge,
            now,
            seq: 1,
            trunk_seq: 1,
        }
    }

    /// Runs ICE and DTLS over the in-memory wire until both sides are connected.
    pub fn handshake(&mut self) {
        let (mut browser_up, mut bridge_up) = (false, false);
        for _ in 0..2000 {
            browser_up |= self.pump_browser();
            bridge_up |= self.pump_bridge();
            if browser_up && bridge_up {
                return;
            }
            self.now += Duration::from_millis(5);
            self.browser
                .handle_input(Input::Timeout(self.now))
                .expect("browser timeout");
            self.bridge.handle_timeout(self.now);
        }
        panic!("ICE/DTLS did not complete in memory");
    }

    /// Delivers the browser's datagrams to the bridge; true once the browser is connected.
    pub fn pump_browser(&mut self) -> bool {
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
    pub fn pump_bridge(&mut self) -> bool {
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
    pub fn browser_packets(&mut self, n: u64) -> Vec<Vec<u8>> {
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
    pub fn trunk_packet(&mut self) -> Vec<u8> {
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
    pub fn drain(&mut self) -> (u32, u32) {
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
