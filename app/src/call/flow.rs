//! The life of one call, sans-IO: what happens next, given what just happened and the time.
//!
//! The call's shell (`call.rs`) waits on the trunk leg, the browser's socket, the media loop,
//! the node's drain and the flow's deadline; each thing it sees goes in as an [`Input`] with
//! the current time, and the flow answers with [`Action`]s for the shell to carry out. The flow
//! owns every decision: when a destination has rung long enough, when the next one is called,
//! who asked for the hang-up and so which [`EndReason`] the browser is told. Nothing here
//! waits or touches a socket, so every race is a unit test with virtual time.
//!
//! New behaviour (a queue, ring strategies, transfers, a leg held while the browser is away)
//! becomes a new [`Phase`] and new inputs, not a flag beside the others.

use std::time::{Duration, Instant};

use c2c_sbc::leg::LegEvent;
use c2c_sbc::sdp::RemoteMedia;
use c2c_wire::{CallState, ClientMessage, EndReason, ServerMessage};

use c2c_media::bridge::TrunkMedia;
use c2c_media::hold::HoldAudio;
use c2c_media::loops::{MediaCommand, MediaEvent};

/// After we asked the trunk to hang up, how long we wait for it to confirm.
pub const HANGUP_WAIT: Duration = Duration::from_secs(40);
/// Longest call we let run; a runaway call costs the customer money.
pub const MAX_CALL: Duration = Duration::from_secs(4 * 3600);

/// Something the call's shell saw.
#[derive(Debug)]
pub enum Input {
    /// The trunk leg's next event.
    Leg(LegEvent),
    /// The SBC forgot the trunk leg without ending it.
    LegGone,
    /// A placement asked for by [`Action::Place`] went out, to this destination (it may be
    /// a later one than asked, when the SBC could not call those between).
    Placed {
        /// The index among the route's destinations.
        destination: usize,
    },
    /// No destination from the one asked for on could be called.
    PlaceFailed,
    /// A well-formed message from the browser.
    Browser(ClientMessage),
    /// A frame from the browser that is not a message of the protocol.
    BrowserMalformed(String),
    /// The browser's socket closed.
    BrowserClosed,
    /// The media loop reported.
    Media(MediaEvent),
    /// The node's drain period is over: calls end now.
    DrainOver,
    /// The flow's [`CallFlow::deadline`] passed.
    Deadline,
    /// Of a call waiting in the queue: its place now (1 is next) and the wait expected.
    QueuePosition {
        /// 1 is next.
        position: u32,
        /// Seconds, when the history tells.
        estimated_wait_s: Option<u32>,
    },
    /// Of a call waiting in the queue: it is its turn, and this many callees are free to
    /// be rung (the shell's new routing plan).
    AgentsFree {
        /// How many the flow may call one after another.
        callees: usize,
    },
}

/// Something the call's shell must do.
#[derive(Debug)]
pub enum Action {
    /// Tell the browser.
    Send(ServerMessage),
    /// Ask the trunk leg to hang up (CANCEL before an answer, BYE after).
    HangUp,
    /// Place the call on this destination of the route (or the next one that can be called),
    /// with the same offer and media; answer with [`Input::Placed`] or [`Input::PlaceFailed`].
    Place {
        /// The index among the route's destinations.
        destination: usize,
    },
    /// Tell the call's media.
    Media(MediaCommand),
    /// Add an event to the call's record.
    Record {
        /// The event's kind.
        kind: &'static str,
        /// What happened.
        detail: &'static str,
    },
    /// This destination answered, this long after the call started: whoever it is now
    /// carries the call (the setup-time histogram, the agent's state).
    Connected {
        /// The index among the route's destinations.
        destination: usize,
        /// Since the call started.
        after: Duration,
    },
    /// The call is over, for this reason.
    End(EndReason),
}

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A destination's INVITE is out and it has not answered.
    Calling {
        /// When the INVITE went out.
        since: Instant,
    },
    /// The destination rang for the ring timeout and is being cancelled; the next destination
    /// is called when its end arrives.
    MovingOn,
    /// The next destination is being placed.
    Placing,
    /// The trunk answered.
    Answered,
    /// We asked the trunk to hang up, and wait for it to confirm.
    HangingUp {
        /// When we asked.
        since: Instant,
        /// Why we did, which is what the browser is told.
        why: HangUpCause,
    },
    /// No callee is free: the call waits in the queue (the browser hears music on hold).
    Queued,
    /// The call is over.
    Ended(EndReason),
}

/// Why we asked the trunk to hang up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpCause {
    /// The browser hung up, closed its socket, or its media went away.
    Browser,
    /// A side sent no RTP for the media timeout.
    RtpTimeout,
    /// The node's drain period ran out.
    Drain,
    /// The call reached the longest a call may last.
    MaxDuration,
}

impl HangUpCause {
    /// What the browser is told when the trunk confirms.
    fn reason(self) -> EndReason {
        match self {
            HangUpCause::Browser | HangUpCause::MaxDuration => EndReason::HangupLocal,
            HangUpCause::RtpTimeout => EndReason::Timeout,
            HangUpCause::Drain => EndReason::Unavailable,
        }
    }
}

/// One call after its first INVITE went out.
#[derive(Debug)]
pub struct CallFlow {
    phase: Phase,
    started: Instant,
    /// The destination being called (index into the route's), and how many there are.
    destination: usize,
    destinations: usize,
    /// How long one destination rings before the next is tried.
    ring_timeout: Duration,
    /// Whether the browser's socket is open (we read from it and tell it the end).
    browser_open: bool,
    /// When the call may wait for an agent: since when it waits, and how long it may.
    queue: Option<Waiting>,
    /// The queue place and estimate the browser was told last.
    told: Option<(u32, Option<u32>)>,
    /// Whether the browser hears music on hold (from the queue until an answer).
    holding: bool,
    actions: Vec<Action>,
}

/// A call's time in the queue.
#[derive(Debug, Clone)]
struct Waiting {
    /// When it first waited (it keeps its place when a ring fails).
    since: Instant,
    /// The longest it may wait in all.
    max: Duration,
    /// What the browser hears meanwhile.
    music: HoldAudio,
}

impl CallFlow {
    /// A call whose INVITE to `destination` (of `destinations`) went out at `now`.
    pub fn new(now: Instant, destination: usize, destinations: usize, ring: Duration) -> Self {
        CallFlow {
            phase: Phase::Calling { since: now },
            started: now,
            destination,
            destinations,
            ring_timeout: ring,
            browser_open: true,
            queue: None,
            told: None,
            holding: false,
            actions: Vec::new(),
        }
    }

    /// A call that found no callee free at `now`: it waits in the queue for at most
    /// `max_wait` hearing `music`, and each callee rung from there rings for `ring`.
    pub fn queued(now: Instant, ring: Duration, max_wait: Duration, music: HoldAudio) -> Self {
        let mut flow = Self::new(now, 0, 0, ring).may_wait(now, max_wait, music);
        flow.wait();
        flow
    }

    /// The same call, allowed to wait in the queue (from `now`, for at most `max_wait`,
    /// hearing `music`) when no callee it rings answers.
    pub fn may_wait(mut self, now: Instant, max_wait: Duration, music: HoldAudio) -> Self {
        self.queue = Some(Waiting {
            since: now,
            max: max_wait,
            music,
        });
        self
    }

    /// Whether the call waits in the queue now (the shell polls its place).
    pub fn is_queued(&self) -> bool {
        self.phase == Phase::Queued
    }

    /// Where the call stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The destination being called, as an index into the route's.
    pub fn destination(&self) -> usize {
        self.destination
    }

    /// Whether the shell should read the browser's socket (and tell it the end).
    pub fn browser_open(&self) -> bool {
        self.browser_open
    }

    /// Whether the node's drain still concerns this call (it is not hanging up already).
    pub fn drain_matters(&self) -> bool {
        !matches!(self.phase, Phase::HangingUp { .. } | Phase::Ended(_))
    }

    /// When the shell must feed [`Input::Deadline`]: the ring timeout while another
    /// destination is left, the trunk's confirmation of a hang-up, else the longest call.
    pub fn deadline(&self) -> Instant {
        match self.phase {
            Phase::HangingUp { since, .. } => since + HANGUP_WAIT,
            // From the queue even the last callee rings only so long: the call waits on.
            Phase::Calling { since } if self.has_next() || self.queue.is_some() => {
                (since + self.ring_timeout).min(self.started + MAX_CALL)
            }
            Phase::Queued => match &self.queue {
                Some(q) => (q.since + q.max).min(self.started + MAX_CALL),
                None => self.started + MAX_CALL,
            },
            _ => self.started + MAX_CALL,
        }
    }

    /// The next thing to do, in order; None once all are taken.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            None
        } else {
            Some(self.actions.remove(0))
        }
    }

    /// Takes in what the shell saw at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        if matches!(self.phase, Phase::Ended(_)) {
            return;
        }
        match input {
            Input::Leg(event) => self.on_leg(event, now),
            Input::LegGone => self.end(EndReason::Failed),
            Input::Placed { destination } => {
                self.destination = destination;
                self.phase = Phase::Calling { since: now };
            }
            Input::PlaceFailed if self.queue.is_some() => self.wait(),
            Input::PlaceFailed => self.end(EndReason::Failed),
            Input::Browser(message) => self.on_browser(message, now),
            Input::BrowserMalformed(error) => self.send_error("bad_message", error),
            Input::BrowserClosed => {
                self.browser_open = false;
                self.hang_up(HangUpCause::Browser, now);
            }
            Input::Media(event) => match event {
                MediaEvent::Connected | MediaEvent::Stopped(_) => {}
                MediaEvent::BrowserGone => self.hang_up(HangUpCause::Browser, now),
                MediaEvent::RtpTimeout(_) => self.hang_up(HangUpCause::RtpTimeout, now),
            },
            Input::DrainOver => {
                if self.drain_matters() {
                    self.actions.push(Action::Record {
                        kind: "state",
                        detail: "ended by the node's drain",
                    });
                    self.hang_up(HangUpCause::Drain, now);
                }
            }
            Input::Deadline => self.on_deadline(now),
            Input::QueuePosition {
                position,
                estimated_wait_s,
            } => {
                if self.phase == Phase::Queued && self.told != Some((position, estimated_wait_s)) {
                    self.told = Some((position, estimated_wait_s));
                    self.actions.push(Action::Send(ServerMessage::Queue {
                        position,
                        estimated_wait_s,
                    }));
                }
            }
            Input::AgentsFree { callees } => {
                if self.phase == Phase::Queued && callees > 0 {
                    self.destinations = callees;
                    self.destination = 0;
                    self.phase = Phase::Placing;
                    self.actions.push(Action::Record {
                        kind: "queue",
                        detail: "an agent is free: ringing",
                    });
                    self.actions.push(Action::Place { destination: 0 });
                }
            }
        }
    }

    /// Back to (or first into) the queue: the browser is told its place again, and hears the
    /// music (it goes on while agents are rung, until one answers).
    fn wait(&mut self) {
        self.phase = Phase::Queued;
        self.told = None;
        self.actions.push(Action::Record {
            kind: "queue",
            detail: "waiting for a free agent",
        });
        if let (false, Some(q)) = (self.holding, &self.queue) {
            self.holding = true;
            let music = q.music.clone();
            self.actions.push(Action::Media(MediaCommand::Hold(music)));
        }
    }

    fn on_leg(&mut self, event: LegEvent, now: Instant) {
        let hanging_up = matches!(self.phase, Phase::HangingUp { .. });
        match event {
            // Recorded with the call by the shell; an answer's refusal ends next.
            LegEvent::Trying | LegEvent::Refused(_) => {}
            LegEvent::Ringing if !hanging_up => self.send_state(CallState::Ringing),
            LegEvent::EarlyMedia(m) if !hanging_up => {
                self.trunk_media(&m);
                self.send_state(CallState::EarlyMedia);
            }
            // A re-INVITE moved the trunk's media (hold/unhold, new address).
            LegEvent::MediaChanged(m) => self.trunk_media(&m),
            // Of the destinations rung at once from this one on, that one answers.
            LegEvent::Picked { fork } if !hanging_up => {
                self.destination = self.destination.saturating_add(fork);
            }
            LegEvent::Picked { .. } => {}
            LegEvent::Answered(m) if !hanging_up => {
                if self.phase != Phase::Answered {
                    self.actions.push(Action::Connected {
                        destination: self.destination,
                        after: now - self.started,
                    });
                }
                self.phase = Phase::Answered;
                self.trunk_media(&m);
                if std::mem::take(&mut self.holding) {
                    self.actions.push(Action::Media(MediaCommand::Unhold));
                }
                self.actions.push(Action::Media(MediaCommand::Answered));
                self.send_state(CallState::Answered);
            }
            LegEvent::Ringing | LegEvent::EarlyMedia(_) | LegEvent::Answered(_) => {}
            LegEvent::Ended { reason, .. } => self.on_leg_ended(reason),
        }
    }

    fn on_leg_ended(&mut self, reason: EndReason) {
        let reason = match self.phase {
            Phase::HangingUp { why, .. } => why.reason(),
            Phase::MovingOn if self.has_next() => return self.place_next(),
            Phase::MovingOn if self.queue.is_some() => return self.wait(),
            Phase::MovingOn => EndReason::NoAnswer,
            Phase::Calling { .. } if hunts_on(reason) && self.has_next() => {
                return self.place_next()
            }
            Phase::Calling { .. } if hunts_on(reason) && self.queue.is_some() => {
                return self.wait()
            }
            _ => reason,
        };
        self.end(reason);
    }

    fn on_browser(&mut self, message: ClientMessage, now: Instant) {
        match message {
            ClientMessage::Hangup => self.hang_up(HangUpCause::Browser, now),
            ClientMessage::Dtmf { digits } => {
                if digits
                    .chars()
                    .all(|c| c2c_media::dtmf::event_code(c).is_ok())
                {
                    self.actions.push(Action::Media(MediaCommand::Dtmf(digits)));
                } else {
                    self.send_error("bad_dtmf", "digits must be 0-9, *, # or A-D".into());
                }
            }
            ClientMessage::Call { .. } => {
                self.send_error("protocol", "a call is already in progress".into());
            }
        }
    }

    fn on_deadline(&mut self, now: Instant) {
        if now < self.deadline() {
            return;
        }
        match self.phase {
            // The trunk never confirmed our hang-up.
            Phase::HangingUp { .. } => self.end(EndReason::Failed),
            Phase::Queued => {
                self.actions.push(Action::Record {
                    kind: "queue",
                    detail: "waited the queue's longest",
                });
                self.end(EndReason::NoAgent);
            }
            Phase::Calling { since }
                if (self.has_next() || self.queue.is_some())
                    && since + self.ring_timeout <= now =>
            {
                // Rang long enough: cancel, and call the next when the CANCEL is done.
                self.phase = Phase::MovingOn;
                self.actions.push(Action::HangUp);
            }
            _ => self.hang_up(HangUpCause::MaxDuration, now),
        }
    }

    /// Asks the trunk to hang up, unless we did already.
    fn hang_up(&mut self, why: HangUpCause, now: Instant) {
        if matches!(self.phase, Phase::HangingUp { .. }) {
            return;
        }
        // Waiting in the queue there is no leg to hang up.
        if self.phase == Phase::Queued {
            return self.end(why.reason());
        }
        // Cancelled to move on already: the hang-up is asked; the next destination is not.
        if self.phase != Phase::MovingOn {
            self.actions.push(Action::HangUp);
        }
        self.phase = Phase::HangingUp { since: now, why };
    }

    fn place_next(&mut self) {
        self.phase = Phase::Placing;
        self.actions.push(Action::Place {
            destination: self.destination + 1,
        });
    }

    fn has_next(&self) -> bool {
        self.destination + 1 < self.destinations
    }

    fn trunk_media(&mut self, m: &RemoteMedia) {
        self.actions
            .push(Action::Media(MediaCommand::TrunkMedia(trunk_media(m))));
    }

    fn send_state(&mut self, state: CallState) {
        self.actions
            .push(Action::Send(ServerMessage::State { state }));
    }

    fn send_error(&mut self, code: &str, message: String) {
        self.actions.push(Action::Send(ServerMessage::Error {
            code: code.into(),
            message,
        }));
    }

    fn end(&mut self, reason: EndReason) {
        self.phase = Phase::Ended(reason);
        self.actions.push(Action::End(reason));
    }
}

/// What the media loop needs to know of the trunk's SDP.
pub fn trunk_media(m: &RemoteMedia) -> TrunkMedia {
    TrunkMedia {
        addr: m.addr,
        telephone_event: m.telephone_event_pt,
        receives: m.receives(),
        sends: m.sends() && !m.addr.ip().is_unspecified(),
        latch: false,
    }
}

/// Whether a trunk leg that ended this way, unanswered, moves on to the next destination:
/// every refusal does (busy, declined, unreachable, no answer), a hang-up does not.
fn hunts_on(reason: EndReason) -> bool {
    !matches!(reason, EndReason::HangupLocal | EndReason::HangupRemote)
}

#[cfg(test)]
mod tests;
