//! The SIP task: owns the UDP socket, the ingress screen, every leg and the map of TCP
//! peers; routes screened messages by Call-ID and answers the rest.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::trace::{CallTrace, Direction, TraceEntry};
use super::Command;
use crate::failover::{order, random_roll, Candidate, TrunkHealth};
use crate::ingress::{answer_out_of_dialog, new_tag, Ingress, Screened};
use crate::keepalive::{Health, KeepAlive};
use crate::leg::{EndCause, LegEvent, LegParams, Output, TrunkLeg};
use crate::sip::{FrameError, Message, MAX_MESSAGE_SIZE};

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

struct LegSlot {
    leg: Box<TrunkLeg>,
    /// Name of the trunk the current attempt goes to.
    trunk: String,
    /// Trunks still to try if this one fails.
    pending: VecDeque<LegParams>,
    events: mpsc::UnboundedSender<LegEvent>,
    /// The call's messages as they go over the wire.
    trace: CallTrace,
    next_timeout: Option<Instant>,
    /// Addresses of every trunk this call may use: trusted while it lives, whatever the
    /// trunk set says.
    addrs: Vec<IpAddr>,
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
            .filter_map(|s| s.next_timeout)
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
                        let call_id = slot.leg.call_id().to_owned();
                        drain(&mut net, &mut slot).await;
                        legs.insert(call_id, slot);
                    }
                }
                Some(Command::Hangup { call_id }) => {
                    if let Some(slot) = legs.get_mut(&call_id) {
                        slot.pending.clear();
                        slot.leg.hangup(Instant::now());
                        drain(&mut net, slot).await;
                    }
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
                    if slot.next_timeout.is_some_and(|at| at <= now) {
                        slot.leg.handle_timeout(now);
                        drain(&mut net, slot).await;
                    }
                }
            }
        }
        let before = legs.len();
        legs.retain(|_, slot| !slot.leg.is_terminated());
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
        slot.trace.record(Direction::Received, raw, from);
        slot.leg.handle_datagram(msg, from, Instant::now());
        drain(net, slot).await;
        return;
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

/// Orders the candidate trunks and starts the first attempt that can be built.
fn place(
    health: &TrunkHealth,
    candidates: Vec<LegParams>,
    events: mpsc::UnboundedSender<LegEvent>,
    trace: mpsc::UnboundedSender<TraceEntry>,
) -> Option<LegSlot> {
    let now = Instant::now();
    let addrs: Vec<IpAddr> = candidates.iter().map(|c| c.trunk_addr.ip()).collect();
    let info: Vec<Candidate> = candidates
        .iter()
        .map(|c| Candidate {
            priority: c.trunk.priority,
            weight: c.trunk.weight,
            down: health.is_down(&c.trunk.name, now),
        })
        .collect();
    let mut slots: Vec<Option<LegParams>> = candidates.into_iter().map(Some).collect();
    let mut pending: VecDeque<LegParams> = order(&info, random_roll)
        .into_iter()
        .filter_map(|i| slots.get_mut(i)?.take())
        .collect();
    while let Some(params) = pending.pop_front() {
        let trunk = params.trunk.name.clone();
        match TrunkLeg::new(params, now) {
            Ok(leg) => {
                return Some(LegSlot {
                    leg: Box::new(leg),
                    trunk,
                    pending,
                    events,
                    trace: CallTrace::new(trace),
                    next_timeout: None,
                    addrs,
                })
            }
            Err(err) => warn!(%trunk, %err, "call attempt not possible"),
        }
    }
    let _ = events.send(LegEvent::Ended {
        cause: EndCause::Failed,
        status: None,
    });
    None
}

/// True when an ended attempt is the trunk's fault: silence, Timer B or a 5xx (RFC 3263 §4.3).
fn trunk_failed(event: &LegEvent) -> bool {
    match event {
        LegEvent::Ended {
            cause: EndCause::Timeout,
            ..
        } => true,
        LegEvent::Ended {
            status: Some(status),
            ..
        } => (500..600).contains(status),
        _ => false,
    }
}

/// Performs every output of a leg: sends messages, forwards events, records the next timer,
/// and moves the call to the next trunk when the current one failed before reaching anyone.
/// Events go out last, so whoever sees one finds every message before it in the trace.
async fn drain(net: &mut Transports, slot: &mut LegSlot) {
    slot.next_timeout = None;
    let mut events = Vec::new();
    while let Some(output) = slot.leg.poll_output() {
        match output {
            Output::Transmit { bytes, to } => {
                slot.trace.record(Direction::Sent, &bytes, to);
                net.send(bytes, to).await;
            }
            Output::Event(event) => {
                if trunk_failed(&event) {
                    net.health.mark_down(&slot.trunk, Instant::now());
                    if slot.leg.may_fail_over() && fail_over(slot) {
                        continue; // the new attempt's outputs follow in this loop
                    }
                } else if matches!(event, LegEvent::Answered(_) | LegEvent::Ringing) {
                    net.health.mark_up(&slot.trunk);
                }
                events.push(event);
            }
            Output::Timeout(at) => slot.next_timeout = Some(at),
        }
    }
    for event in events {
        let _ = slot.events.send(event);
    }
}

/// Replaces the failed attempt with one on the next trunk; false when none is left.
fn fail_over(slot: &mut LegSlot) -> bool {
    let now = Instant::now();
    while let Some(mut params) = slot.pending.pop_front() {
        params.continues = Some(slot.leg.continuation());
        let trunk = params.trunk.name.clone();
        match TrunkLeg::new(params, now) {
            Ok(leg) => {
                info!(from = %slot.trunk, to = %trunk, call_id = %leg.call_id(), "failing over");
                *slot.leg = leg;
                slot.trunk = trunk;
                return true;
            }
            Err(err) => warn!(%trunk, %err, "failover attempt not possible"),
        }
    }
    false
}
