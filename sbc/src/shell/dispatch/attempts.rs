//! One call's attempts on its trunks: the attempt in progress, the trunks still to try, and
//! the attempts failover replaced. A replaced attempt stays until its own transactions are
//! over (Timer D, RFC 3261 §17.1.1.2): its trunk may still resend a final response whose ACK
//! got lost, or answer late, and only that attempt knows the transaction.
//!
//! A call rung on several devices at once (ring_all) has one attempt per device, all live
//! until one answers; [`Forking`] decides what the caller hears of them.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::forks::{Forking, Relay};
use super::Transports;
use crate::failover::{order, random_roll, Candidate, TrunkHealth};
use crate::leg::{EndReason, LegEvent, LegParams, Output, TrunkLeg};
use crate::shell::trace::{CallTrace, Direction, TraceEntry};
use crate::sip::Message;

/// One attempt of the call, on one trunk.
struct Attempt {
    leg: Box<TrunkLeg>,
    /// Name of the trunk it goes to.
    trunk: String,
    /// Its device's index among those of a forked call (0 otherwise).
    fork: usize,
    /// When its timers next need firing.
    next_timeout: Option<Instant>,
}

impl Attempt {
    fn new(leg: TrunkLeg, trunk: String) -> Self {
        Self {
            leg: Box::new(leg),
            trunk,
            fork: 0,
            next_timeout: None,
        }
    }

    fn is_due(&self, now: Instant) -> bool {
        self.next_timeout.is_some_and(|at| at <= now)
    }
}

/// A call in progress, as the SIP task holds it.
pub(super) struct LegSlot {
    current: Attempt,
    /// Attempts failover replaced, kept until they terminate; they never speak to the call.
    retired: Vec<Attempt>,
    /// Trunks still to try if the current one fails.
    pending: VecDeque<LegParams>,
    /// Of a forked call before an answer, the devices ringing beside `current`.
    forks: Vec<Attempt>,
    /// A forked call's relay, until a device answers or every one has ended.
    forking: Option<Forking>,
    events: mpsc::UnboundedSender<LegEvent>,
    /// The call's messages as they go over the wire, every attempt's.
    trace: CallTrace,
    /// Addresses of every peer this call may use: trusted while it lives, whatever the
    /// trunk set says, when they are trunks.
    pub(super) addrs: Vec<IpAddr>,
    /// Whether its peers are trunks, rather than an agent's device (which is screened as an
    /// agent, never trusted as a trunk).
    pub(super) trunk_peers: bool,
}

/// Orders the candidate trunks and starts the first attempt that can be built; with `fork`,
/// starts one attempt per candidate at once instead (the devices of a ring_all call).
pub(super) fn place(
    health: &TrunkHealth,
    candidates: Vec<LegParams>,
    fork: bool,
    events: mpsc::UnboundedSender<LegEvent>,
    trace: mpsc::UnboundedSender<TraceEntry>,
) -> Option<LegSlot> {
    if fork {
        return place_forked(candidates, events, trace);
    }
    let now = Instant::now();
    let addrs: Vec<IpAddr> = candidates.iter().map(|c| c.trunk_addr.ip()).collect();
    let trunk_peers = !candidates.iter().any(|c| c.pinned);
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
                    current: Attempt::new(leg, trunk),
                    retired: Vec::new(),
                    pending,
                    forks: Vec::new(),
                    forking: None,
                    events,
                    trace: CallTrace::new(trace),
                    addrs,
                    trunk_peers,
                })
            }
            Err(err) => warn!(%trunk, %err, "call attempt not possible"),
        }
    }
    let _ = events.send(LegEvent::Ended {
        reason: EndReason::Failed,
        status: None,
    });
    None
}

/// Starts one attempt per device at once; the first built is `current`.
fn place_forked(
    candidates: Vec<LegParams>,
    events: mpsc::UnboundedSender<LegEvent>,
    trace: mpsc::UnboundedSender<TraceEntry>,
) -> Option<LegSlot> {
    let now = Instant::now();
    let addrs: Vec<IpAddr> = candidates.iter().map(|c| c.trunk_addr.ip()).collect();
    let trunk_peers = !candidates.iter().any(|c| c.pinned);
    let mut attempts = Vec::new();
    for (fork, params) in candidates.into_iter().enumerate() {
        let trunk = params.trunk.name.clone();
        match TrunkLeg::new(params, now) {
            Ok(leg) => attempts.push(Attempt {
                fork,
                ..Attempt::new(leg, trunk)
            }),
            Err(err) => warn!(%trunk, %err, "device cannot be rung"),
        }
    }
    if attempts.is_empty() {
        let _ = events.send(LegEvent::Ended {
            reason: EndReason::Failed,
            status: None,
        });
        return None;
    }
    let current = attempts.remove(0);
    Some(LegSlot {
        current,
        retired: Vec::new(),
        pending: VecDeque::new(),
        forks: attempts,
        forking: Some(Forking::default()),
        events,
        trace: CallTrace::new(trace),
        addrs,
        trunk_peers,
    })
}

/// Performs an attempt's outputs: its messages go out, its next timer is kept; its events
/// are returned.
async fn collect(net: &Transports, trace: &mut CallTrace, attempt: &mut Attempt) -> Vec<LegEvent> {
    attempt.next_timeout = None;
    let mut events = Vec::new();
    while let Some(output) = attempt.leg.poll_output() {
        match output {
            Output::Transmit { bytes, to } => transmit(net, trace, bytes, to).await,
            Output::Event(event) => events.push(event),
            Output::Timeout(at) => attempt.next_timeout = Some(at),
        }
    }
    events
}

impl LegSlot {
    /// The slot of a leg ending an interrupted dialog after a restart: one attempt, no failover.
    pub(super) fn interrupted(
        leg: TrunkLeg,
        events: mpsc::UnboundedSender<LegEvent>,
        trace: mpsc::UnboundedSender<TraceEntry>,
    ) -> LegSlot {
        let addrs = vec![leg.next_hop().ip()];
        LegSlot {
            current: Attempt::new(leg, "interrupted".to_owned()),
            retired: Vec::new(),
            pending: VecDeque::new(),
            forks: Vec::new(),
            forking: None,
            events,
            trace: CallTrace::new(trace),
            addrs,
            trunk_peers: true,
        }
    }
}

/// True when an ended attempt is the trunk's fault: silence, Timer B or a 5xx (RFC 3263 §4.3).
fn trunk_failed(event: &LegEvent) -> bool {
    match event {
        LegEvent::Ended {
            reason: EndReason::Timeout,
            ..
        } => true,
        LegEvent::Ended {
            status: Some(status),
            ..
        } => (500..600).contains(status),
        _ => false,
    }
}

/// Records a message in the call's trace, then sends it.
async fn transmit(net: &Transports, trace: &mut CallTrace, bytes: Vec<u8>, to: SocketAddr) {
    trace.record(Direction::Sent, &bytes, to);
    net.send(bytes, to).await;
}

/// Performs every output of a replaced attempt: its messages go out, its events (the call
/// has moved on) go nowhere.
async fn drain_retired(net: &Transports, trace: &mut CallTrace, attempt: &mut Attempt) {
    attempt.next_timeout = None;
    while let Some(output) = attempt.leg.poll_output() {
        match output {
            Output::Transmit { bytes, to } => transmit(net, trace, bytes, to).await,
            Output::Event(event) => {
                debug!(trunk = %attempt.trunk, ?event, "event of a replaced attempt dropped");
            }
            Output::Timeout(at) => attempt.next_timeout = Some(at),
        }
    }
}

impl LegSlot {
    /// The call's Call-ID, the same on every attempt.
    pub(super) fn call_id(&self) -> &str {
        self.current.leg.call_id()
    }

    /// When the earliest timer of any attempt is due.
    pub(super) fn next_timeout(&self) -> Option<Instant> {
        let others = self.retired.iter().chain(&self.forks);
        let others = others.filter_map(|a| a.next_timeout);
        self.current.next_timeout.into_iter().chain(others).min()
    }

    /// True once every attempt is over: drop the slot.
    pub(super) fn is_terminated(&self) -> bool {
        self.current.leg.is_terminated()
            && self.retired.iter().all(|a| a.leg.is_terminated())
            && self.forks.iter().all(|a| a.leg.is_terminated())
    }

    /// Sends the first attempt's INVITE (every device's, for a forked call).
    pub(super) async fn start(&mut self, net: &mut Transports) {
        let forks: Vec<usize> = self.forks.iter().map(|a| a.fork).collect();
        self.drain(net).await;
        for fork in forks {
            self.drain_fork(net, fork).await;
        }
    }

    /// Hangs up the call: no further trunk is tried, no device rings on.
    pub(super) async fn hangup(&mut self, net: &mut Transports, now: Instant) {
        self.pending.clear();
        for fork in &mut self.forks {
            fork.leg.hangup(now);
        }
        let forks: Vec<usize> = self.forks.iter().map(|a| a.fork).collect();
        for fork in forks {
            self.drain_fork(net, fork).await;
        }
        self.current.leg.hangup(now);
        self.drain(net).await;
    }

    /// Feeds a message of this call (`raw` as it arrived from `from`) to the attempt it
    /// belongs to.
    pub(super) async fn handle_message(
        &mut self,
        net: &mut Transports,
        msg: Message,
        raw: &[u8],
        from: SocketAddr,
        now: Instant,
    ) {
        let ip = from.ip();
        let known = self.addrs.contains(&ip)
            || self.current.leg.accepts_from(ip)
            || self.retired.iter().any(|a| a.leg.accepts_from(ip))
            || self.forks.iter().any(|a| a.leg.accepts_from(ip));
        if !known {
            // A trusted source (another trunk) speaking in a call that is not its own.
            debug!(%from, call_id = %self.call_id(), "message from outside the call's peers dropped");
            return;
        }
        self.trace.record(Direction::Received, raw, from);
        if let Some(fork) = self.forks.iter_mut().find(|a| a.leg.owns(&msg)) {
            fork.leg.handle_datagram(msg, from, now);
            let fork = fork.fork;
            return self.drain_fork(net, fork).await;
        }
        match self.retired.iter_mut().find(|a| a.leg.owns(&msg)) {
            Some(attempt) => {
                attempt.leg.handle_datagram(msg, from, now);
                drain_retired(net, &mut self.trace, attempt).await;
            }
            None => {
                self.current.leg.handle_datagram(msg, from, now);
                self.drain(net).await;
            }
        }
    }

    /// Fires the timers due at `now`, on every attempt.
    pub(super) async fn handle_timeout(&mut self, net: &mut Transports, now: Instant) {
        if self.current.is_due(now) {
            self.current.leg.handle_timeout(now);
            self.drain(net).await;
        }
        let due: Vec<usize> = self
            .forks
            .iter()
            .filter(|a| a.is_due(now))
            .map(|a| a.fork)
            .collect();
        for fork in due {
            if let Some(attempt) = self.forks.iter_mut().find(|a| a.fork == fork) {
                attempt.leg.handle_timeout(now);
                self.drain_fork(net, fork).await;
            }
        }
        for attempt in self.retired.iter_mut().filter(|a| a.is_due(now)) {
            attempt.leg.handle_timeout(now);
            drain_retired(net, &mut self.trace, attempt).await;
        }
        self.retired.retain(|a| !a.leg.is_terminated());
    }

    /// Performs every output of the current attempt: sends messages, forwards events, records
    /// the next timer, and moves the call to the next trunk when the current one failed before
    /// reaching anyone. Events go out last, so whoever sees one finds every message before it
    /// in the trace.
    async fn drain(&mut self, net: &mut Transports) {
        if self.forking.is_some() {
            let fork = self.current.fork;
            return self.drain_fork(net, fork).await;
        }
        self.current.next_timeout = None;
        let mut events = Vec::new();
        while let Some(output) = self.current.leg.poll_output() {
            match output {
                Output::Transmit { bytes, to } => {
                    transmit(net, &mut self.trace, bytes, to).await;
                }
                Output::Event(event) => {
                    if trunk_failed(&event) {
                        net.health.mark_down(&self.current.trunk, Instant::now());
                        if self.current.leg.may_fail_over() && self.fail_over(net).await {
                            continue; // the new attempt's outputs follow in this loop
                        }
                    } else if matches!(event, LegEvent::Answered(_) | LegEvent::Ringing) {
                        net.health.mark_up(&self.current.trunk);
                    }
                    events.push(event);
                }
                Output::Timeout(at) => self.current.next_timeout = Some(at),
            }
        }
        for event in events {
            let _ = self.events.send(event);
        }
    }

    /// Performs the outputs of a forked call's attempt for device `fork` (the current one or
    /// one ringing beside it) and tells the caller what the fork's relay lets through.
    async fn drain_fork(&mut self, net: &mut Transports, fork: usize) {
        let attempt = match self.forks.iter_mut().find(|a| a.fork == fork) {
            Some(attempt) => attempt,
            None if self.current.fork == fork => &mut self.current,
            None => return,
        };
        let events = collect(net, &mut self.trace, attempt).await;
        for event in events {
            let Some(forking) = self.forking.as_mut() else {
                // Answered: the device is the call now.
                let _ = self.events.send(event);
                continue;
            };
            match forking.relay(event) {
                Relay::Tell(event) => {
                    let _ = self.events.send(event);
                }
                Relay::Quiet => {}
                Relay::Answer(media) => {
                    self.answered_by(net, fork).await;
                    let _ = self.events.send(LegEvent::Answered(media));
                }
                Relay::Out => self.out_of_the_race(fork),
            }
        }
    }

    /// Device `fork` answered: it becomes the call, every other device is cancelled as
    /// completed elsewhere, and the caller hears whose answer it is, then the answer.
    async fn answered_by(&mut self, net: &mut Transports, fork: usize) {
        if let Some(i) = self.forks.iter().position(|a| a.fork == fork) {
            let winner = self.forks.remove(i);
            let old = std::mem::replace(&mut self.current, winner);
            self.forks.push(old);
        }
        self.forking = None;
        let now = Instant::now();
        for mut other in std::mem::take(&mut self.forks) {
            other.leg.hangup_elsewhere(now);
            drain_retired(net, &mut self.trace, &mut other).await;
            self.retired.push(other);
        }
        info!(call_id = %self.call_id(), fork, "device answered; the others are cancelled");
        let _ = self.events.send(LegEvent::Picked { fork });
    }

    /// Device `fork` ended without answering: it leaves the race, and when it was the last,
    /// the caller hears the best refusal.
    fn out_of_the_race(&mut self, fork: usize) {
        match self.forks.iter().position(|a| a.fork == fork) {
            Some(i) => self.retired.push(self.forks.remove(i)),
            None if !self.forks.is_empty() => {
                let next = self.forks.remove(0);
                let ended = std::mem::replace(&mut self.current, next);
                self.retired.push(ended);
            }
            None => {
                if let Some(forking) = self.forking.take() {
                    let _ = self.events.send(forking.end());
                }
            }
        }
    }

    /// Replaces the failed attempt with one on the next trunk, retiring the old one; false
    /// when no trunk is left.
    async fn fail_over(&mut self, net: &Transports) -> bool {
        let now = Instant::now();
        while let Some(mut params) = self.pending.pop_front() {
            params.continues = Some(self.current.leg.continuation());
            let trunk = params.trunk.name.clone();
            match TrunkLeg::new(params, now) {
                Ok(leg) => {
                    info!(from = %self.current.trunk, to = %trunk, call_id = %leg.call_id(), "failing over");
                    let mut old = std::mem::replace(&mut self.current, Attempt::new(leg, trunk));
                    // What the old attempt still has to say (its next timer) is read here.
                    drain_retired(net, &mut self.trace, &mut old).await;
                    self.retired.push(old);
                    return true;
                }
                Err(err) => warn!(%trunk, %err, "failover attempt not possible"),
            }
        }
        false
    }
}
