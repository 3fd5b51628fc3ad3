//! The SIP task: owns the UDP socket, the ingress screen, every leg and the map of TCP
//! peers; routes screened messages by Call-ID and answers the rest.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::Command;
use crate::failover::TrunkHealth;
use crate::ingress::{answer_out_of_dialog, new_tag, Ingress, Screened};
use crate::keepalive::{Health, KeepAlive};
use crate::sip::{FrameError, Message, MAX_MESSAGE_SIZE};
use attempts::{place, LegSlot};

mod attempts;

/// Capacity of the queue from connection readers to the SIP task (back-pressure on TCP).
pub(super) const INBOUND_QUEUE: usize = 1024;
/// Capacity of the queue of bytes waiting to be written on one connection.
pub(super) const CONNECTION_QUEUE: usize = 64;

/// What a connection reader hands to the SIP task.
#[derive(Debug)]
pub(super) enum Inbound {
    /// One framed message.
    Message {
        bytes: Vec<u8>,
        from: SocketAddr,
        conn: mpsc::Sender<ConnOut>,
    },
    /// The stream cannot be framed; `pending` holds what was buffered.
    FrameError {
        pending: Vec<u8>,
        err: FrameError,
        from: SocketAddr,
        conn: mpsc::Sender<ConnOut>,
    },
    /// The connection is gone.
    Closed {
        from: SocketAddr,
        conn: mpsc::Sender<ConnOut>,
    },
}

/// What the SIP task asks a connection writer to do.
#[derive(Debug)]
pub(super) enum ConnOut {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Close the connection.
    Close,
}

/// The SIP task's screening state: what it trusts and whom it pings.
pub(super) struct Sip {
    pub(super) ingress: Ingress,
    pub(super) keepalive: KeepAlive,
    /// Addresses of the current trunk set.
    pub(super) configured: HashSet<IpAddr>,
}

impl Sip {
    /// Trusts the current trunks and the trunks of calls in progress, nothing else.
    fn retrust(&mut self, legs: &HashMap<String, LegSlot>) {
        let live = legs.values().flat_map(|s| s.addrs.iter().copied());
        self.ingress
            .set_trusted(self.configured.iter().copied().chain(live));
    }
}

/// Sends on the transport a peer uses: its TCP connection when it has one, else UDP.
struct Transports {
    udp: UdpSocket,
    tcp_peers: HashMap<SocketAddr, mpsc::Sender<ConnOut>>,
    /// Recent trunk failures, for failover ordering.
    health: TrunkHealth,
}

impl Transports {
    /// Records what a keep-alive found.
    fn note(&mut self, health: &Health, now: Instant) {
        match health {
            Health::Up(trunk) => self.health.mark_up(trunk),
            Health::Down(trunk) => {
                warn!(%trunk, "trunk did not answer its keep-alive");
                self.health.mark_down(trunk, now);
            }
        }
    }

    async fn send(&self, bytes: Vec<u8>, to: SocketAddr) {
        if let Some(conn) = self.tcp_peers.get(&to) {
            if conn.try_send(ConnOut::Send(bytes)).is_err() {
                warn!(%to, "TCP connection backlog full, message dropped");
            }
            return;
        }
        if let Err(err) = self.udp.send_to(&bytes, to).await {
            warn!(%to, %err, "SIP send failed");
        }
    }
}

/// Runs until the [`super::Sbc`] handle is dropped.
pub(super) async fn run(
    udp: UdpSocket,
    mut sip: Sip,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut inbound: mpsc::Receiver<Inbound>,
) {
    let mut legs: HashMap<String, LegSlot> = HashMap::new();
    let mut net = Transports {
        udp,
        tcp_peers: HashMap::new(),
        health: TrunkHealth::default(),
    };
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        let deadline = legs
            .values()
            .filter_map(LegSlot::next_timeout)
            .chain(sip.keepalive.next_timeout())
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Place { candidates, events, trace, conns }) => {
                    net.tcp_peers.extend(conns);
                    for c in &candidates {
                        sip.ingress.trust(c.trunk_addr.ip());
                    }
                    if let Some(mut slot) = place(&net.health, candidates, events, trace) {
                        slot.start(&mut net).await;
                        legs.insert(slot.call_id().to_owned(), slot);
                    }
                }
                Some(Command::Hangup { call_id }) => {
                    if let Some(slot) = legs.get_mut(&call_id) {
                        slot.hangup(&mut net, Instant::now()).await;
                    }
                }
                Some(Command::Recover { leg, events, trace }) => {
                    if legs.contains_key(leg.call_id()) {
                        warn!(call_id = %leg.call_id(), "recovered dialog already in progress");
                        continue;
                    }
                    let mut slot = LegSlot::recovered(*leg, events, trace);
                    for ip in &slot.addrs {
                        sip.ingress.trust(*ip);
                    }
                    slot.start(&mut net).await;
                    legs.insert(slot.call_id().to_owned(), slot);
                }
                Some(Command::SetTrunks { trusted, probes }) => {
                    sip.configured = trusted;
                    sip.retrust(&legs);
                    sip.keepalive.replace(&probes, Instant::now());
                }
                None => return, // the Sbc handle is gone
            },
            received = net.udp.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    let screened = sip.ingress.screen(&buf[..len], from, Instant::now());
                    let raw = &buf[..len];
                    on_screened(&mut net, &mut legs, &mut sip.keepalive, screened, from, raw).await;
                }
                Err(err) => warn!(%err, "SIP socket receive failed"),
            },
            Some(item) = inbound.recv() => match item {
                Inbound::Message { bytes, from, conn } => {
                    let screened = sip.ingress.screen(&bytes, from, Instant::now());
                    if screened == Screened::Drop("untrusted source") {
                        let _ = conn.try_send(ConnOut::Close);
                        continue;
                    }
                    net.tcp_peers.insert(from, conn);
                    on_screened(&mut net, &mut legs, &mut sip.keepalive, screened, from, &bytes).await;
                }
                Inbound::FrameError { pending, err, from, conn } => {
                    debug!(%from, %err, "TCP stream unframeable, closing");
                    if let Screened::Reply(bytes) = sip.ingress.screen_frame_error(&pending, err, from) {
                        let _ = conn.try_send(ConnOut::Send(bytes));
                    }
                    let _ = conn.try_send(ConnOut::Close);
                }
                Inbound::Closed { from, conn } => {
                    // Only forget the peer if a newer connection has not replaced this one.
                    if net.tcp_peers.get(&from).is_some_and(|c| c.same_channel(&conn)) {
                        net.tcp_peers.remove(&from);
                    }
                }
            },
            () = sleep => {
                let now = Instant::now();
                for health in sip.keepalive.handle_timeout(now) {
                    net.note(&health, now);
                }
                while let Some((bytes, to)) = sip.keepalive.poll_transmit() {
                    net.send(bytes, to).await;
                }
                for slot in legs.values_mut() {
                    slot.handle_timeout(&mut net, now).await;
                }
            }
        }
        let before = legs.len();
        legs.retain(|_, slot| !slot.is_terminated());
        if legs.len() < before {
            sip.retrust(&legs); // an ended call's trunk may have left the set meanwhile
        }
    }
}

/// Routes a screened message (`raw` as it arrived) to its call, or answers it.
async fn on_screened(
    net: &mut Transports,
    legs: &mut HashMap<String, LegSlot>,
    keepalive: &mut KeepAlive,
    screened: Screened,
    from: SocketAddr,
    raw: &[u8],
) {
    let msg = match screened {
        Screened::Drop(reason) => {
            debug!(%from, reason, "SIP message dropped");
            return;
        }
        Screened::Reply(bytes) => return net.send(bytes, from).await,
        Screened::Request(req) => Message::Request(req),
        Screened::Response(resp) => Message::Response(resp),
    };
    let call_id = msg.call_id().unwrap_or_default().to_owned();
    if let Some(slot) = legs.get_mut(&call_id) {
        return slot
            .handle_message(net, msg, raw, from, Instant::now())
            .await;
    }
    let Message::Request(req) = msg else {
        match keepalive.handle_response(&msg) {
            Some(health) => net.note(&health, Instant::now()),
            None => debug!(%from, %call_id, "response for unknown call dropped"),
        }
        return;
    };
    if let Some(resp) = answer_out_of_dialog(&req, &new_tag()) {
        net.send(Message::Response(resp).to_bytes(), from).await;
    }
}
