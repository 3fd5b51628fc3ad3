//! A minimal RTP echo for rtpengine's plain side: every RTP packet goes back to its sender
//! under another SSRC, as a phone's own stream would.
//!
//! SIPp's `-rtp_echo` returns packets byte for byte; c2c rewrites the SSRC toward the browser,
//! but rtpengine passes it through, and a browser (str0m too) ignores packets carrying its own
//! SSRC. So the rtpengine runs use this echo; it costs the same recv + send per packet.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Mixed into the SSRC of every echoed packet.
pub const SSRC_FLIP: u32 = 0x5eed_c2c0;

/// A running echo; stops when dropped.
pub struct RtpEcho {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RtpEcho {
    /// Starts the echo thread on a free loopback port.
    pub fn start() -> std::io::Result<RtpEcho> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new().name("rtp-echo".into()).spawn({
            let stop = stop.clone();
            move || {
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    let packet = &mut buf[..n];
                    // RTP only (RFC 3550 §5.1): version 2, not RTCP's packet types 200–204.
                    if n < 12 || packet[0] >> 6 != 2 || (200..=204).contains(&packet[1]) {
                        continue;
                    }
                    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                    packet[8..12].copy_from_slice(&(ssrc ^ SSRC_FLIP).to_be_bytes());
                    let _ = socket.send_to(packet, from);
                }
            }
        })?;
        Ok(RtpEcho {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for RtpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
