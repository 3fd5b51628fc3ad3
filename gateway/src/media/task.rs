//! The async shell around one call's [`Bridge`]: the WebRTC socket, the trunk's RTP and RTCP
//! sockets, a timer, a command channel.
//!
//! One task per call for now; the bridge is sans-IO so it can move into per-core media loops
//! sharing one WebRTC socket without changing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::bridge::{Bridge, BridgeOutput, BridgeStats, TrunkMedia};
use super::watchdog::Side;

/// Largest datagram we read (RTP, STUN, DTLS all fit well below).
const MAX_DATAGRAM: usize = 2048;

/// Commands from the call to its media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// The trunk's SDP told us where its media is (or that it holds the call).
    TrunkMedia(TrunkMedia),
    /// The trunk answered: its RTP is watched for silence from now on.
    Answered,
    /// Send these DTMF digits to the trunk (RFC 4733).
    Dtmf(String),
    /// Stop and report the final counters.
    Stop,
}

/// Events from the media task to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS connected.
    Connected,
    /// The browser's peer went away.
    BrowserGone,
    /// No RTP from this side for `[media] rtp_timeout_s`.
    RtpTimeout(Side),
    /// The task ended; final counters.
    Stopped(BridgeStats),
}

/// The call's handle on its media task.
pub struct MediaHandle {
    /// Commands into the task.
    pub commands: mpsc::Sender<MediaCommand>,
    /// Events out of the task.
    pub events: mpsc::Receiver<MediaEvent>,
}

/// The sockets of one call.
#[derive(Debug)]
pub struct MediaSockets {
    /// WebRTC (ICE, DTLS, SRTP and SRTCP multiplexed).
    pub browser: UdpSocket,
    /// Trunk-side RTP (even port).
    pub rtp: UdpSocket,
    /// Trunk-side RTCP (the RTP port + 1).
    pub rtcp: UdpSocket,
}

/// Starts the media task for `bridge` on its sockets; `session` labels its logs.
pub fn spawn(bridge: Bridge, sockets: MediaSockets, session: &str) -> MediaHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (ev_tx, ev_rx) = mpsc::channel(8);
    let span = tracing::info_span!("media", session = %session);
    tokio::spawn(run(bridge, sockets, cmd_rx, ev_tx).instrument(span));
    MediaHandle {
        commands: cmd_tx,
        events: ev_rx,
    }
}

async fn run(
    mut bridge: Bridge,
    sockets: MediaSockets,
    mut commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::Sender<MediaEvent>,
) {
    let MediaSockets {
        browser,
        rtp: trunk,
        rtcp,
    } = sockets;
    let mut bbuf = vec![0u8; MAX_DATAGRAM];
    let mut tbuf = vec![0u8; MAX_DATAGRAM];
    let mut cbuf = vec![0u8; MAX_DATAGRAM];
    let mut reported_gone = false;
    loop {
        // Drain the bridge before waiting (str0m's mutate → drain invariant).
        let deadline = loop {
            match bridge.poll_output() {
                BridgeOutput::ToBrowser { to, data } => send(&browser, &data, to).await,
                BridgeOutput::ToTrunk { to, data } => send(&trunk, &data, to).await,
                BridgeOutput::Connected => {
                    let _ = events.send(MediaEvent::Connected).await;
                }
                BridgeOutput::BrowserGone => {
                    if !reported_gone {
                        reported_gone = true;
                        let _ = events.send(MediaEvent::BrowserGone).await;
                    }
                    break Instant::now() + Duration::from_secs(3600);
                }
                BridgeOutput::RtpTimeout(side) => {
                    tracing::info!(?side, "no RTP: ending the call");
                    let _ = events.send(MediaEvent::RtpTimeout(side)).await;
                }
                BridgeOutput::Timeout(at) => break at,
            }
        };
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::select! {
            r = browser.recv_from(&mut bbuf) => match r {
                Ok((n, from)) => bridge.handle_browser(from, &bbuf[..n], Instant::now()),
                Err(e) => tracing::debug!(error = %e, "webrtc socket receive"),
            },
            r = trunk.recv_from(&mut tbuf) => match r {
                Ok((n, from)) => bridge.handle_trunk(from, &tbuf[..n], Instant::now()),
                Err(e) => tracing::debug!(error = %e, "rtp socket receive"),
            },
            r = rtcp.recv_from(&mut cbuf) => match r {
                Ok((n, from)) => bridge.handle_trunk_rtcp(from, &cbuf[..n], Instant::now()),
                Err(e) => tracing::debug!(error = %e, "rtcp socket receive"),
            },
            () = sleep => bridge.handle_timeout(Instant::now()),
            cmd = commands.recv() => match cmd {
                Some(MediaCommand::TrunkMedia(m)) => bridge.set_trunk_media(m, Instant::now()),
                Some(MediaCommand::Answered) => bridge.trunk_answered(Instant::now()),
                Some(MediaCommand::Dtmf(digits)) => {
                    if let Err(e) = bridge.send_dtmf(&digits, Instant::now()) {
                        tracing::info!(error = %e, "dtmf refused");
                    }
                }
                Some(MediaCommand::Stop) | None => {
                    bridge.close();
                    let stats = bridge.stats();
                    log_stats(&stats);
                    let _ = events.send(MediaEvent::Stopped(stats)).await;
                    return;
                }
            },
        }
    }
}

/// The call's media figures, for operators reading the log at call end.
fn log_stats(s: &BridgeStats) {
    let r = &s.trunk_rtcp;
    tracing::info!(
        from_browser = s.from_browser,
        to_trunk = s.to_trunk,
        from_trunk = s.from_trunk,
        dropped_foreign = s.dropped_foreign,
        held = s.held,
        rtcp_reports = r.reports,
        trunk_sent_packets = r.packets_sent,
        trunk_lost = r.lost,
        trunk_loss_pct = f64::from(r.fraction_lost) * 100.0 / 256.0,
        // 8 kHz G.711: 8 timestamp units per millisecond.
        trunk_jitter_ms = f64::from(r.jitter) / 8.0,
        "media stats"
    );
}

async fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(data, to).await {
        tracing::debug!(error = %e, %to, "media send failed");
    }
}
