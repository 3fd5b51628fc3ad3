//! Client transaction timers (RFC 3261 §17.1) and the retransmission state they drive.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::Output;

/// RTT estimate, the base of every timer (RFC 3261 §17.1.1.1).
pub const T1: Duration = Duration::from_millis(500);
/// Cap of non-INVITE retransmission intervals (RFC 3261 §17.1.2.2).
pub const T2: Duration = Duration::from_secs(4);
/// INVITE transaction timeout, Timer B = 64*T1 (RFC 3261 §17.1.1.2).
pub const TIMER_B: Duration = Duration::from_secs(32);
/// Non-INVITE transaction timeout, Timer F = 64*T1 (RFC 3261 §17.1.2.2).
pub const TIMER_F: Duration = Duration::from_secs(32);
/// How long a finished leg still answers retransmissions (Timer D for UDP, RFC 3261 §17.1.1.2).
pub const LINGER: Duration = Duration::from_secs(32);
/// How long to wait for the INVITE's final response after CANCEL (64*T1, RFC 3261 §9.1).
pub const CANCEL_WAIT: Duration = Duration::from_secs(32);

/// A request we retransmit until answered or timed out.
#[derive(Debug)]
pub(crate) struct ClientTx {
    pub(crate) branch: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) to: SocketAddr,
    /// Next retransmission (Timer A / E); None once a response stopped it.
    pub(crate) next_send: Option<Instant>,
    pub(crate) interval: Duration,
    /// Transaction timeout (Timer B / F).
    pub(crate) deadline: Option<Instant>,
    /// INVITE intervals double without cap; non-INVITE ones cap at T2.
    pub(crate) cap: Option<Duration>,
}

impl ClientTx {
    pub(crate) fn new(
        branch: String,
        bytes: Vec<u8>,
        to: SocketAddr,
        timeout: Duration,
        cap: Option<Duration>,
        now: Instant,
    ) -> Self {
        Self {
            branch,
            bytes,
            to,
            next_send: Some(now + T1),
            interval: T1,
            deadline: Some(now + timeout),
            cap,
        }
    }

    /// Over a reliable transport requests are not retransmitted (RFC 3261 §17.1.1.2, §17.1.2.2);
    /// only the timeout remains.
    pub(crate) fn over(mut self, reliable: bool) -> Self {
        if reliable {
            self.next_send = None;
        }
        self
    }

    pub(crate) fn stop(&mut self) {
        self.next_send = None;
        self.deadline = None;
    }

    /// Non-INVITE Timer E retransmission and Timer F timeout; returns true when the transaction timed out.
    pub(crate) fn tick(&mut self, now: Instant, outputs: &mut VecDeque<Output>) -> bool {
        if let Some(at) = self.next_send.filter(|at| *at <= now) {
            self.interval = (self.interval * 2).min(self.cap.unwrap_or(Duration::MAX));
            self.next_send = Some(at + self.interval);
            outputs.push_back(Output::Transmit {
                bytes: self.bytes.clone(),
                to: self.to,
            });
        }
        if self.deadline.is_some_and(|at| at <= now) {
            self.stop();
            return true;
        }
        false
    }
}
