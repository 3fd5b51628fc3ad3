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
use crate::registrar::{Change, Registrar};
use crate::sip::{FrameError, Message, Method, Request, MAX_MESSAGE_SIZE};
use crate::trunk::Transport;
use attempts::{place, LegSlot};
use c2c_guard::supervise::Evidence;

mod attempts;
mod forks;

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

/// The SIP task's state outside calls: what it trusts, whom it pings, who is registered.
pub(super) struct Sip {
    pub(super) ingress: Ingress,
    pub(super) keepalive: KeepAlive,
    /// Addresses of the current trunk set.
    pub(super) configured: HashSet<IpAddr>,
    /// The agents' registrar, when enabled.
    pub(super) registrar: Option<Registrar>,
    /// Where the registrar's changes go.
    pub(super) registrations: mpsc::Sender<Change>,
}

impl Sip {
    /// Trusts the current trunks and the trunks of calls in progress, nothing else.
    fn retrust(&mut self, legs: &HashMap<String, LegSlot>) {
        let live = legs
            .values()
            .filter(|s| s.trunk_peers)
            .flat_map(|s| s.addrs.iter().copied());
        self.ingress
            .set_trusted(self.configured.iter().copied().chain(live));
    }

    /// Answers a REGISTER when the registrar is on and the source may register.
    fn register(
        &mut self,
        req: &Request,
        from: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let may = self.ingress.answers(from.ip());
        let registrar = self.registrar.as_mut().filter(|_| may)?;
        let resp = registrar.handle(req, from, transport, Instant::now());
        metrics::counter!("c2c_registrar_requests_total", "status" => resp.status.to_string())
            .increment(1);
        self.forward_changes();
        Some(Message::Response(resp).to_bytes())
    }

    /// Hands the registrar's changes to the application.
    fn forward_changes(&mut self) {
        let Some(registrar) = self.registrar.as_mut() else {
            return;
        };
        let mut changed = false;
        while let Some(change) = registrar.poll_change() {
            changed = true;
            if self.registrations.try_send(change).is_err() {
                warn!("registration change dropped: the application is not keeping up");
            }
        }
        if changed {
            metrics::gauge!("c2c_registrar_bindings").set(registrar.binding_count() as f64);
        }
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

/// One thing the SIP task was woken for.
enum Wake {
    Command(Command),
    /// A datagram of this length is in the receive buffer.
    Datagram(usize, SocketAddr),
    Inbound(Inbound),
    Timers,
}

/// Everything the SIP task owns.
struct Task {
    sip: Sip,
    legs: HashMap<String, LegSlot>,
    net: Transports,
}

/// Runs until the [`super::Sbc`] handle is dropped.
///
/// Each wake-up is handled under [`guarded`]: a panic while handling one message or timer
/// (a bug no input should be able to reach) drops that message and is counted, and the task
/// goes on serving every other call.
pub(super) async fn run(
    udp: UdpSocket,
    sip: Sip,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut inbound: mpsc::Receiver<Inbound>,
) {
    let mut task = Task {
        sip,
        legs: HashMap::new(),
        net: Transports {
            udp,
            tcp_peers: HashMap::new(),
            health: TrunkHealth::default(),
        },
    };
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        let deadline = task
            .legs
            .values()
            .filter_map(LegSlot::next_timeout)
            .chain(task.sip.keepalive.next_timeout())
            .chain(
                task.sip
                    .registrar
                    .as_ref()
                    .and_then(Registrar::next_timeout),
            )
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            command = commands.recv() => match command {
                Some(command) => Wake::Command(command),
                None => return, // the Sbc handle is gone
            },
            received = task.net.udp.recv_from(&mut buf) => match received {
                Ok((len, from)) => Wake::Datagram(len, from),
                Err(err) => {
                    warn!(%err, "SIP socket receive failed");
                    continue;
                }
            },
            Some(item) = inbound.recv() => Wake::Inbound(item),
            () = sleep => Wake::Timers,
        };
        let (peer, input): (Option<SocketAddr>, &[u8]) = match &wake {
            Wake::Datagram(len, from) => (Some(*from), buf.get(..*len).unwrap_or_default()),
            Wake::Inbound(Inbound::Message { bytes, from, .. }) => (Some(*from), bytes),
            Wake::Inbound(Inbound::FrameError { pending, from, .. }) => (Some(*from), pending),
            _ => (None, &[]),
        };
        let evidence = Evidence::new(peer, input);
        guarded(task.handle(wake, &buf), &evidence).await;
        let before = task.legs.len();
        task.legs.retain(|_, slot| !slot.is_terminated());
        if task.legs.len() < before {
            // An ended call's trunk may have left the set meanwhile.
            task.sip.retrust(&task.legs);
        }
    }
}

/// Awaits `work`; should it panic, logs the peer and the start of what it sent and counts
/// the panic, instead of letting it end the task.
async fn guarded(work: impl std::future::Future<Output = ()>, evidence: &Evidence) {
    use futures_util::FutureExt;
    if let Err(panic) = std::panic::AssertUnwindSafe(work).catch_unwind().await {
        evidence.report(Task::LABEL, panic.as_ref());
    }
}

impl Task {
    /// This task in the panic counter.
    const LABEL: &str = "sip";

    async fn handle(&mut self, wake: Wake, buf: &[u8]) {
        let Task { sip, legs, net } = self;
        match wake {
            Wake::Command(Command::Place {
                candidates,
                fork,
                events,
                trace,
                conns,
            }) => {
                net.tcp_peers.extend(conns);
                for c in candidates.iter().filter(|c| !c.pinned) {
                    sip.ingress.trust(c.trunk_addr.ip());
                }
                if let Some(mut slot) = place(&net.health, candidates, fork, events, trace) {
                    slot.start(net).await;
                    legs.insert(slot.call_id().to_owned(), slot);
                }
            }
            Wake::Command(Command::Hangup { call_id }) => {
                if let Some(slot) = legs.get_mut(&call_id) {
                    slot.hangup(net, Instant::now()).await;
                }
            }
            Wake::Command(Command::Recover { leg, events, trace }) => {
                if legs.contains_key(leg.call_id()) {
                    warn!(call_id = %leg.call_id(), "interrupted dialog already in progress");
                    return;
                }
                let mut slot = LegSlot::interrupted(*leg, events, trace);
                for ip in &slot.addrs {
                    sip.ingress.trust(*ip);
                }
                slot.start(net).await;
                legs.insert(slot.call_id().to_owned(), slot);
            }
            Wake::Command(Command::SetAgents { credentials }) => {
                if let Some(registrar) = sip.registrar.as_mut() {
                    registrar.set_credentials(credentials);
                }
                sip.forward_changes();
            }
            Wake::Command(Command::SetTrunks { trusted, probes }) => {
                sip.configured = trusted;
                sip.retrust(legs);
                sip.keepalive.replace(&probes, Instant::now());
            }
            Wake::Datagram(len, from) => {
                let raw = buf.get(..len).unwrap_or_default();
                let screened = sip
                    .ingress
                    .screen(raw, from, Instant::now(), |id| legs.contains_key(id));
                on_screened(net, legs, sip, screened, (from, Transport::Udp), raw).await;
            }
            Wake::Inbound(Inbound::Message { bytes, from, conn }) => {
                let screened = sip
                    .ingress
                    .screen(&bytes, from, Instant::now(), |id| legs.contains_key(id));
                if screened == Screened::Drop("untrusted source") {
                    let _ = conn.try_send(ConnOut::Close);
                    return;
                }
                net.tcp_peers.insert(from, conn);
                on_screened(net, legs, sip, screened, (from, Transport::Tcp), &bytes).await;
            }
            Wake::Inbound(Inbound::FrameError {
                pending,
                err,
                from,
                conn,
            }) => {
                debug!(%from, %err, "TCP stream unframeable, closing");
                if let Screened::Reply(bytes) = sip.ingress.screen_frame_error(&pending, err, from)
                {
                    let _ = conn.try_send(ConnOut::Send(bytes));
                }
                let _ = conn.try_send(ConnOut::Close);
            }
            Wake::Inbound(Inbound::Closed { from, conn }) => {
                // Only forget the peer if a newer connection has not replaced this one.
                if net
                    .tcp_peers
                    .get(&from)
                    .is_some_and(|c| c.same_channel(&conn))
                {
                    net.tcp_peers.remove(&from);
                    if let Some(registrar) = sip.registrar.as_mut() {
                        registrar.flow_closed(from);
                    }
                    sip.forward_changes();
                }
            }
            Wake::Timers => {
                let now = Instant::now();
                for health in sip.keepalive.handle_timeout(now) {
                    net.note(&health, now);
                }
                while let Some((bytes, to)) = sip.keepalive.poll_transmit() {
                    net.send(bytes, to).await;
                }
                for slot in legs.values_mut() {
                    slot.handle_timeout(net, now).await;
                }
                if let Some(registrar) = sip.registrar.as_mut() {
                    registrar.handle_timeout(now);
                    while let Some((bytes, to)) = registrar.poll_transmit() {
                        net.send(bytes, to).await;
                    }
                }
                sip.forward_changes();
            }
        }
    }
}

/// Routes a screened message (`raw` as it arrived from `from` over its transport) to its
/// call, the registrar or the keep-alive, or answers it.
async fn on_screened(
    net: &mut Transports,
    legs: &mut HashMap<String, LegSlot>,
    sip: &mut Sip,
    screened: Screened,
    (from, transport): (SocketAddr, Transport),
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
        if sip
            .registrar
            .as_mut()
            .is_some_and(|r| r.handle_response(&msg))
        {
            return;
        }
        match sip.keepalive.handle_response(&msg) {
            Some(health) => net.note(&health, Instant::now()),
            None => debug!(%from, %call_id, "response for unknown call dropped"),
        }
        return;
    };
    if req.method == Method::Register {
        if let Some(bytes) = sip.register(&req, from, transport) {
            return net.send(bytes, from).await;
        }
    }
    if let Some(resp) = answer_out_of_dialog(&req, &new_tag()) {
        net.send(Message::Response(resp).to_bytes(), from).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_handling_one_input_is_contained() {
        let evidence = Evidence::new(Some("192.0.2.1:5060".parse().expect("addr")), b"OPTIONS");
        let mut handled = 0;
        for n in 0..3 {
            guarded(
                async {
                    assert!(n != 1, "a bug reached by input {n}");
                    handled += 1;
                },
                &evidence,
            )
            .await;
        }
        assert_eq!(
            handled, 2,
            "the inputs before and after the panic were handled"
        );
    }
}
