//! What the caller hears of a call rung on several devices at once (ring_all): one Trying,
//! one Ringing, no early media (whose would it be?), the first answer, and, should every
//! device refuse, the one refusal that says most (RFC 3261 §16.7: a 6xx, else the lowest
//! class).

use crate::leg::{EndReason, LegEvent};
use crate::sdp::RemoteMedia;

/// The fork's relay state, until a device answers or every one has ended.
#[derive(Debug, Default)]
pub(super) struct Forking {
    said_trying: bool,
    said_ringing: bool,
    /// The best end so far.
    best: Option<(EndReason, Option<u16>)>,
}

/// What to do with one device's event.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Relay {
    /// Tell the caller.
    Tell(LegEvent),
    /// Nothing the caller needs (a second Ringing, early media).
    Quiet,
    /// This device answered with this media: it takes the call, the others are cancelled.
    Answer(RemoteMedia),
    /// This device is out of the race (its end is kept if it is the best so far).
    Out,
}

impl Forking {
    /// Sorts one event of a device still in the race.
    pub(super) fn relay(&mut self, event: LegEvent) -> Relay {
        match event {
            LegEvent::Trying if self.said_trying => Relay::Quiet,
            LegEvent::Trying => {
                self.said_trying = true;
                Relay::Tell(event)
            }
            LegEvent::Ringing if self.said_ringing => Relay::Quiet,
            LegEvent::Ringing => {
                self.said_ringing = true;
                Relay::Tell(event)
            }
            LegEvent::EarlyMedia(_) => Relay::Quiet,
            LegEvent::Answered(media) => Relay::Answer(media),
            LegEvent::Ended { reason, status } => {
                if self.best.is_none_or(|best| rank(status) < rank(best.1)) {
                    self.best = Some((reason, status));
                }
                Relay::Out
            }
            other => Relay::Tell(other),
        }
    }

    /// The end the caller is told once every device is out.
    pub(super) fn end(&self) -> LegEvent {
        let (reason, status) = self.best.unwrap_or((EndReason::Failed, None));
        LegEvent::Ended { reason, status }
    }
}

/// Lower is better: a 6xx (a global refusal), then 4xx before 5xx, then no response at all.
fn rank(status: Option<u16>) -> u16 {
    match status {
        Some(s @ 600..=699) => s - 600,
        Some(s) => s,
        None => u16::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(reason: EndReason, status: Option<u16>) -> LegEvent {
        LegEvent::Ended { reason, status }
    }

    #[test]
    fn the_caller_hears_one_trying_one_ringing_and_no_early_media() {
        let mut f = Forking::default();
        assert_eq!(f.relay(LegEvent::Trying), Relay::Tell(LegEvent::Trying));
        assert_eq!(f.relay(LegEvent::Trying), Relay::Quiet);
        assert_eq!(f.relay(LegEvent::Ringing), Relay::Tell(LegEvent::Ringing));
        assert_eq!(f.relay(LegEvent::Ringing), Relay::Quiet);
    }

    #[test]
    fn when_all_refuse_a_decline_beats_busy_beats_unavailable_beats_silence() {
        let mut f = Forking::default();
        assert_eq!(f.relay(ended(EndReason::Timeout, None)), Relay::Out);
        assert_eq!(f.end(), ended(EndReason::Timeout, None));
        f.relay(ended(EndReason::Unavailable, Some(503)));
        f.relay(ended(EndReason::Busy, Some(486)));
        f.relay(ended(EndReason::NoAnswer, Some(480)));
        assert_eq!(f.end(), ended(EndReason::NoAnswer, Some(480)));
        f.relay(ended(EndReason::Rejected, Some(603)));
        assert_eq!(f.end(), ended(EndReason::Rejected, Some(603)));
        assert_eq!(Forking::default().end(), ended(EndReason::Failed, None));
    }
}
