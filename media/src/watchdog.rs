//! RTP timeout: a call whose audio stopped arriving from either side is ended, so a trunk or a
//! browser that vanished without a BYE or a WebSocket close does not keep a line busy.
//!
//! Sans-IO: time comes in as `now`, the next deadline goes out. The browser side is watched
//! from the start of the call; the trunk side only once it answered and while it says it sends
//! (RFC 3264: a trunk that put us on hold with `inactive`/`recvonly` or 0.0.0.0 sends nothing).

use std::time::{Duration, Instant};

/// Default silence after which a call ends (seconds), as `[media] rtp_timeout_s`.
pub const DEFAULT_RTP_TIMEOUT_S: u64 = 30;

/// The side of the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The browser (WebRTC).
    Browser,
    /// The trunk (plain RTP).
    Trunk,
}

/// Watches both sides for RTP silence longer than the limit; fires once.
#[derive(Debug, Clone)]
pub struct RtpWatch {
    limit: Option<Duration>,
    browser: Instant,
    /// Last RTP from the trunk or when watching started; None while not watched.
    trunk: Option<Instant>,
    answered: bool,
    trunk_sends: bool,
    fired: bool,
}

impl RtpWatch {
    /// Starts watching the browser at `now`; `None` never times out.
    pub fn new(limit: Option<Duration>, now: Instant) -> Self {
        RtpWatch {
            limit,
            browser: now,
            trunk: None,
            answered: false,
            trunk_sends: true,
            fired: false,
        }
    }

    /// RTP arrived from `side`.
    pub fn heard(&mut self, side: Side, now: Instant) {
        match side {
            Side::Browser => self.browser = now,
            Side::Trunk => {
                if let Some(t) = self.trunk.as_mut() {
                    *t = now;
                }
            }
        }
    }

    /// The trunk answered: from now on it must send.
    pub fn answered(&mut self, now: Instant) {
        self.answered = true;
        self.rearm(now);
    }

    /// The trunk's SDP says whether it sends (false: on hold); a change restarts the wait.
    pub fn trunk_sends(&mut self, sends: bool, now: Instant) {
        if sends != self.trunk_sends {
            self.trunk_sends = sends;
            self.rearm(now);
        }
    }

    fn rearm(&mut self, now: Instant) {
        self.trunk = (self.answered && self.trunk_sends).then_some(now);
    }

    /// When `check` must next be called; None when nothing is watched.
    pub fn deadline(&self) -> Option<Instant> {
        let limit = self.limit.filter(|_| !self.fired)?;
        let last = self.trunk.map_or(self.browser, |t| t.min(self.browser));
        Some(last + limit)
    }

    /// The side that fell silent, once.
    pub fn check(&mut self, now: Instant) -> Option<Side> {
        let limit = self.limit.filter(|_| !self.fired)?;
        let side = if now >= self.browser + limit {
            Side::Browser
        } else if self.trunk.is_some_and(|t| now >= t + limit) {
            Side::Trunk
        } else {
            return None;
        };
        self.fired = true;
        Some(side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(30);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_silent_browser_times_out_once() {
        let t0 = Instant::now();
        let mut w = RtpWatch::new(Some(LIMIT), t0);
        assert_eq!(w.deadline(), Some(t0 + LIMIT));
        w.heard(Side::Browser, t0 + secs(10));
        assert_eq!(w.check(t0 + secs(39)), None);
        assert_eq!(w.deadline(), Some(t0 + secs(40)));
        assert_eq!(w.check(t0 + secs(40)), Some(Side::Browser));
        assert_eq!(w.check(t0 + secs(100)), None);
        assert_eq!(w.deadline(), None);
    }

    #[test]
    fn the_trunk_is_watched_only_after_answer() {
        let t0 = Instant::now();
        let mut w = RtpWatch::new(Some(LIMIT), t0);
        // Ringing for 25 s without early media: not a timeout.
        for s in (0..=25).step_by(5) {
            w.heard(Side::Browser, t0 + secs(s));
        }
        w.answered(t0 + secs(25));
        for s in (30..=54).step_by(6) {
            w.heard(Side::Browser, t0 + secs(s));
            assert_eq!(w.check(t0 + secs(s)), None);
        }
        assert_eq!(w.deadline(), Some(t0 + secs(55)));
        assert_eq!(w.check(t0 + secs(55)), Some(Side::Trunk));
    }

    #[test]
    fn trunk_rtp_keeps_the_call_and_hold_pauses_the_watch() {
        let t0 = Instant::now();
        let mut w = RtpWatch::new(Some(LIMIT), t0);
        w.answered(t0);
        for s in 1..=20 {
            w.heard(Side::Browser, t0 + secs(s));
            w.heard(Side::Trunk, t0 + secs(s));
        }
        // On hold (inactive) at 20 s: a silent trunk for minutes is fine.
        w.trunk_sends(false, t0 + secs(20));
        for s in 21..=200 {
            w.heard(Side::Browser, t0 + secs(s));
            assert_eq!(w.check(t0 + secs(s)), None, "at {s} s");
        }
        // Taken off hold at 200 s: a fresh window, then it must send again.
        w.trunk_sends(true, t0 + secs(200));
        w.heard(Side::Browser, t0 + secs(229));
        assert_eq!(w.check(t0 + secs(229)), None);
        assert_eq!(w.check(t0 + secs(230)), Some(Side::Trunk));
    }

    #[test]
    fn no_limit_never_fires() {
        let t0 = Instant::now();
        let mut w = RtpWatch::new(None, t0);
        w.answered(t0);
        assert_eq!(w.deadline(), None);
        assert_eq!(w.check(t0 + secs(1_000_000)), None);
    }
}
