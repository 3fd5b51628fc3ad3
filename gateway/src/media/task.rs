//! The async shell around one call's [`Bridge`]: two UDP sockets, a timer, a command channel.
//!
//! One task per call for now; the bridge is sans-IO so it can move into per-core media loops
//! sharing one WebRTC socket without changing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::bridge::{Bridge, BridgeOutput, BridgeStats, TrunkMedia};

/// Largest datagram we read (RTP, STUN, DTLS all fit well below).
const MAX_DATAGRAM: usize = 2048;

/// Commands from the call to its media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// The trunk's SDP told us where its media is.
    TrunkMedia(TrunkMedia),
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

/// Starts the media task for `bridge` on its two sockets.
pub fn spawn(bridge: Bridge, browser: UdpSocket, trunk: UdpSocket) -> MediaHandle {
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (ev_tx, ev_rx) = mpsc::channel(8);
    tokio::spawn(run(bridge, browser, trunk, cmd_rx, ev_tx));
    MediaHandle {
        commands: cmd_tx,
        events: ev_rx,
    }
}

async fn run(
    mut bridge: Bridge,
    browser: UdpSocket,
    trunk: UdpSocket,
    mut commands: mpsc::Receiver<MediaCommand>,
    events: mpsc::Sender<MediaEvent>,
) {
    let mut bbuf = vec![0u8; MAX_DATAGRAM];
    let mut tbuf = vec![0u8; MAX_DATAGRAM];
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
            () = sleep => bridge.handle_timeout(Instant::now()),
            cmd = commands.recv() => match cmd {
                Some(MediaCommand::TrunkMedia(m)) => bridge.set_trunk_media(m),
                Some(MediaCommand::Dtmf(digits)) => {
                    if let Err(e) = bridge.send_dtmf(&digits, Instant::now()) {
                        tracing::info!(error = %e, "dtmf refused");
                    }
                }
                Some(MediaCommand::Stop) | None => {
                    bridge.close();
                    let _ = events.send(MediaEvent::Stopped(bridge.stats())).await;
                    return;
                }
            },
        }
    }
}

async fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(data, to).await {
        tracing::debug!(error = %e, %to, "media send failed");
    }
}
