//! The widget's call state machine and its wording, as plain Rust (no browser types), so the
//! rules are unit-tested on the host.
//!
//! The status element exposes [`WidgetState::as_str`] in `data-state`; site owners and tests rely
//! on those names (`loading|available|closed|unavailable|connecting|queued|trying|ringing|
//! early_media|answered|ended|error`). While `queued` it also carries `data-position` (1 is next)
//! and `data-wait` (the gateway's estimate in seconds, absent when unknown).

use c2c_wire::{CallState, EndReason};

use crate::i18n::{self, Lang, Msg};

/// What the visitor sees the widget doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetState {
    /// Availability not known yet.
    Loading,
    /// Open and an agent is free: the call button is offered.
    Available,
    /// Outside business hours: the campaign's fallback is offered.
    Closed,
    /// Open but no agent free (or the gateway unreachable): the fallback is offered.
    Unavailable,
    /// The widget is getting the microphone, a token and ICE candidates, or awaits the answer.
    Connecting,
    /// Every agent is busy: the call waits in the campaign's queue (media is up, the gateway
    /// plays music on hold); [`Status::place`] says where.
    Queued,
    /// The gateway sent the INVITE toward the callee.
    Trying,
    /// The callee is ringing; the widget plays a local ringback tone.
    Ringing,
    /// The callee plays early media (announcements, ringback).
    EarlyMedia,
    /// The call is connected.
    Answered,
    /// The call is over; `reason` says why.
    Ended,
    /// The call could not be placed or broke; `reason` holds the error code.
    Error,
}

/// What availability said about the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// A call can be placed.
    Available,
    /// Outside business hours.
    Closed,
    /// No agent free, or availability could not be fetched.
    Unavailable,
}

/// Something that moves the widget from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Availability arrived.
    Offer(Offer),
    /// The visitor asked for a call.
    Start,
    /// The gateway reported progress.
    Progress(CallState),
    /// The gateway's `queue` frame: the call waits at `position` (1 is next) for about
    /// `wait_s` seconds (`None`: unknown).
    Queue { position: u32, wait_s: Option<u32> },
    /// The gateway (or our own hang-up timer) ended the call.
    Ended(EndReason),
    /// Something failed; the string is a machine-readable code.
    Failed(String),
}

/// Why a call could not be placed or broke: a machine-readable code and, when the server sent
/// one, a sentence for the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Error code, shown in `data-reason` (`microphone_denied`, `origin_not_allowed`, …).
    pub code: String,
    /// The server's own message, shown when the widget has no words for `code`.
    pub message: Option<String>,
}

impl Failure {
    /// A failure detected by the widget itself.
    pub fn local(code: &str) -> Self {
        Failure {
            code: code.to_owned(),
            message: None,
        }
    }
}

/// Where a waiting call is in the campaign's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1 is next.
    pub position: u32,
    /// The gateway's latest estimate, seconds (`data-wait`); `None` when unknown.
    pub wait_s: Option<u32>,
    /// The estimate in whole minutes as the status line says it. It follows `wait_s` only when
    /// the position changes or the estimate moved more than half a minute past what is shown,
    /// so the live region is not re-announced for an estimate that drifts by seconds.
    pub shown_min: Option<u32>,
}

/// A state together with the reason shown next to it (end reason or error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Where the call is.
    pub state: WidgetState,
    /// `EndReason::as_str` for `Ended`, the error code for `Error`, `None` otherwise.
    pub reason: Option<String>,
    /// The queue position while `Queued`, `None` otherwise.
    pub place: Option<Place>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: WidgetState::Loading,
            reason: None,
            place: None,
        }
    }
}

impl WidgetState {
    /// The name used in `data-state`, `C2C.state` and `c2c:state` events.
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetState::Loading => "loading",
            WidgetState::Available => "available",
            WidgetState::Closed => "closed",
            WidgetState::Unavailable => "unavailable",
            WidgetState::Connecting => "connecting",
            WidgetState::Queued => "queued",
            WidgetState::Trying => "trying",
            WidgetState::Ringing => "ringing",
            WidgetState::EarlyMedia => "early_media",
            WidgetState::Answered => "answered",
            WidgetState::Ended => "ended",
            WidgetState::Error => "error",
        }
    }

    /// A call is being set up or is up: the hang-up button is offered.
    pub fn is_active(self) -> bool {
        self.rank() > 0
    }

    /// No call has been tried yet; availability decides what is offered.
    pub fn is_before_call(self) -> bool {
        matches!(
            self,
            WidgetState::Loading
                | WidgetState::Available
                | WidgetState::Closed
                | WidgetState::Unavailable
        )
    }

    /// The call is over (ended or failed).
    pub fn is_after_call(self) -> bool {
        matches!(self, WidgetState::Ended | WidgetState::Error)
    }

    /// The local ringback tone plays: the callee rings and sends no early media.
    pub fn plays_ringback(self) -> bool {
        self == WidgetState::Ringing
    }

    /// How far a call in progress has got; progress never goes backwards (a late `ringing`
    /// after `answered` is ignored). 0 when no call is in progress. Waiting in the queue ranks
    /// with connecting: any `state` frame moves on from it.
    fn rank(self) -> u8 {
        match self {
            WidgetState::Connecting | WidgetState::Queued => 1,
            WidgetState::Trying => 2,
            WidgetState::Ringing => 3,
            WidgetState::EarlyMedia => 4,
            WidgetState::Answered => 5,
            _ => 0,
        }
    }
}

impl Status {
    /// The status after `input`, or `None` when the input does not apply in this state
    /// (a second click while calling, a call while closed, progress after the call ended).
    pub fn next(&self, input: &Input) -> Option<Status> {
        let s = self.state;
        let to = |state, reason: Option<String>| {
            Some(Status {
                state,
                reason,
                place: None,
            })
        };
        match input {
            Input::Offer(o) if s.is_before_call() => to(
                match o {
                    Offer::Available => WidgetState::Available,
                    Offer::Closed => WidgetState::Closed,
                    Offer::Unavailable => WidgetState::Unavailable,
                },
                None,
            ),
            Input::Start
                if matches!(
                    s,
                    WidgetState::Available | WidgetState::Ended | WidgetState::Error
                ) =>
            {
                to(WidgetState::Connecting, None)
            }
            Input::Progress(p) if s.is_active() => {
                let state = match p {
                    CallState::Trying => WidgetState::Trying,
                    CallState::Ringing => WidgetState::Ringing,
                    CallState::EarlyMedia => WidgetState::EarlyMedia,
                    CallState::Answered => WidgetState::Answered,
                };
                (state.rank() > s.rank()).then_some(Status {
                    state,
                    reason: None,
                    place: None,
                })
            }
            // Queued before an agent is rung, or again when the one rung did not answer; a
            // late frame after the answer is ignored.
            Input::Queue { position, wait_s }
                if s.is_active() && s.rank() < WidgetState::Answered.rank() =>
            {
                let same_place = self.place.filter(|p| p.position == *position);
                let shown_min = wait_s.map(|w| match same_place.and_then(|p| p.shown_min) {
                    Some(m) if w + 90 > m * 60 && w <= m * 60 + 30 => m,
                    _ => w.div_ceil(60).max(1),
                });
                let next = Status {
                    state: WidgetState::Queued,
                    reason: None,
                    place: Some(Place {
                        position: *position,
                        wait_s: *wait_s,
                        shown_min,
                    }),
                };
                (next != *self).then_some(next)
            }
            Input::Ended(r) if s.is_active() => to(WidgetState::Ended, Some(r.as_str().to_owned())),
            Input::Failed(code) if s.is_active() => to(WidgetState::Error, Some(code.clone())),
            _ => None,
        }
    }

    /// The campaign's fallback (its callback form or message) is offered: before a call when
    /// closed or busy, and after a call no agent took (`no_agent`, ended or refused).
    pub fn offers_fallback(&self) -> bool {
        matches!(self.state, WidgetState::Closed | WidgetState::Unavailable)
            || self.state.is_after_call() && self.reason.as_deref() == Some("no_agent")
    }

    /// Whether the callback form shows: the fallback is offered, the campaign's fallback is
    /// `callback`, and the visitor has not sent a request yet (`sent`: `Some(true)` once one
    /// was accepted).
    pub fn shows_callback_form(&self, callback: bool, sent: Option<bool>) -> bool {
        self.offers_fallback() && callback && sent != Some(true)
    }

    /// The status line while queued, in `lang`: "You are number 2 in line — about 1 min.",
    /// "You are next.", …; `None` when not queued.
    pub fn queue_sentence(&self, lang: Lang) -> Option<String> {
        let p = self.place?;
        let mut s = match p.position {
            1 => i18n::text(lang, Msg::QueueNext).to_owned(),
            n => i18n::fill(i18n::text(lang, Msg::QueuePosition), &n.to_string()),
        };
        match p.shown_min {
            Some(m) => s.push_str(&i18n::fill(
                i18n::text(lang, Msg::QueueWait),
                &m.to_string(),
            )),
            None => s.push('.'),
        }
        Some(s)
    }

    /// The sentence for a call state; `None` before a call (availability has its own words).
    pub fn msg(&self) -> Option<Msg> {
        let reason = self.reason.as_deref().unwrap_or("");
        Some(match self.state {
            WidgetState::Connecting => Msg::Connecting,
            WidgetState::Trying => Msg::Calling,
            WidgetState::Ringing => Msg::Ringing,
            WidgetState::EarlyMedia => Msg::EarlyMedia,
            WidgetState::Answered => Msg::Answered,
            WidgetState::Ended => i18n::end_reason(reason),
            WidgetState::Error => i18n::error_code(reason).unwrap_or(Msg::ErrGeneric),
            _ => return None,
        })
    }
}

/// Whether a server `error` frame with `code` ends the call: before the gateway accepted the
/// call (token refused, bad offer) it does; later ones (a refused DTMF digit) leave the call
/// up, and a fatal problem then arrives as `ended` or a closed WebSocket. A `no_agent` refusal
/// ends a call nobody has answered yet wherever it comes.
pub fn error_frame_is_fatal(state: WidgetState, code: &str) -> bool {
    state == WidgetState::Connecting
        || code == "no_agent" && state.is_active() && state.rank() < WidgetState::Answered.rank()
}

/// `m:ss` (or `h:mm:ss`) for the call timer.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The level meter's 0–100 from `AnalyserNode.getByteTimeDomainData` samples (128 = silence):
/// the RMS amplitude, scaled so ordinary speech fills most of the bar.
pub fn level_percent(samples: &[u8]) -> u8 {
    if samples.is_empty() {
        return 0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&b| {
            let x = (f64::from(b) - 128.0) / 128.0;
            x * x
        })
        .sum();
    let rms = (sum / samples.len() as f64).sqrt();
    (rms * 300.0).min(100.0) as u8
}

/// A `state` value of a signalling frame (`trying|ringing|early_media|answered`).
pub fn call_state_from_str(s: &str) -> Option<CallState> {
    Some(match s {
        "trying" => CallState::Trying,
        "ringing" => CallState::Ringing,
        "early_media" => CallState::EarlyMedia,
        "answered" => CallState::Answered,
        _ => return None,
    })
}

/// Every end reason, in wire order.
pub(crate) const END_REASONS: [EndReason; 9] = [
    EndReason::HangupLocal,
    EndReason::HangupRemote,
    EndReason::Busy,
    EndReason::NoAnswer,
    EndReason::Rejected,
    EndReason::Unavailable,
    EndReason::Failed,
    EndReason::Timeout,
    EndReason::NoAgent,
];

/// The `reason` of an `ended` frame; an unknown reason from a newer gateway reads as `failed`.
pub fn end_reason_from_str(s: &str) -> Option<EndReason> {
    Some(
        END_REASONS
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(EndReason::Failed),
    )
}

/// The error code for a failed `getUserMedia`, from the DOMException name.
pub fn microphone_error_code(dom_exception_name: &str) -> &'static str {
    match dom_exception_name {
        "NotAllowedError" => "microphone_denied",
        "SecurityError" => "microphone_blocked",
        "NotFoundError" | "OverconstrainedError" => "no_microphone",
        "NotReadableError" | "AbortError" => "microphone_busy",
        "TypeError" => "webrtc_unsupported",
        _ => "microphone_error",
    }
}

/// The label of the call button: the campaign's label, or "Call again" after a call.
pub fn call_button_label<'a>(status: &Status, theme_label: &'a str, lang: Lang) -> &'a str {
    match status.state {
        s if s.is_after_call() => i18n::text(lang, Msg::CallAgain),
        _ => theme_label,
    }
}

/// Resolves the signalling URL from the token response against the gateway origin: an absolute
/// `ws(s)://` URL is used as is, a path is joined to the gateway with `http→ws`, `https→wss`.
pub fn resolve_ws_url(gateway: &str, ws_url: &str) -> String {
    if ws_url.starts_with("ws://") || ws_url.starts_with("wss://") {
        return ws_url.to_owned();
    }
    let base = gateway.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    if ws_url.starts_with('/') {
        format!("{base}{ws_url}")
    } else {
        format!("{base}/{ws_url}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: WidgetState) -> Status {
        Status {
            state,
            reason: None,
            place: None,
        }
    }

    #[test]
    fn a_call_walks_through_the_progress_states() {
        let mut s = Status::default();
        assert_eq!(s.state.as_str(), "loading");
        for (input, want) in [
            (Input::Offer(Offer::Available), "available"),
            (Input::Start, "connecting"),
            (Input::Progress(CallState::Trying), "trying"),
            (Input::Progress(CallState::Ringing), "ringing"),
            (Input::Progress(CallState::EarlyMedia), "early_media"),
            (Input::Progress(CallState::Answered), "answered"),
            (Input::Ended(EndReason::HangupRemote), "ended"),
        ] {
            s = s.next(&input).expect("transition applies");
            assert_eq!(s.state.as_str(), want);
        }
        assert_eq!(s.reason.as_deref(), Some("hangup_remote"));
        assert_eq!(s.msg(), Some(Msg::EndRemote));
    }

    #[test]
    fn availability_decides_whether_a_call_can_start() {
        let closed = Status::default()
            .next(&Input::Offer(Offer::Closed))
            .expect("offer");
        assert_eq!(closed.state, WidgetState::Closed);
        assert_eq!(closed.next(&Input::Start), None);
        let busy = closed
            .next(&Input::Offer(Offer::Unavailable))
            .expect("refresh");
        assert_eq!(busy.next(&Input::Start), None);
        assert_eq!(st(WidgetState::Loading).next(&Input::Start), None);
        // A refreshed availability never hides a call in progress or its outcome.
        for s in [WidgetState::Ringing, WidgetState::Ended, WidgetState::Error] {
            assert_eq!(st(s).next(&Input::Offer(Offer::Closed)), None);
        }
    }

    #[test]
    fn progress_never_goes_backwards_and_may_skip() {
        let answered = st(WidgetState::Answered);
        assert_eq!(answered.next(&Input::Progress(CallState::Ringing)), None);
        assert_eq!(answered.next(&Input::Progress(CallState::Answered)), None);
        let connecting = st(WidgetState::Connecting);
        let s = connecting
            .next(&Input::Progress(CallState::Answered))
            .expect("skip");
        assert_eq!(s.state, WidgetState::Answered);
    }

    #[test]
    fn nothing_but_a_new_call_leaves_a_finished_call() {
        for done in [WidgetState::Ended, WidgetState::Error] {
            let s = st(done);
            assert_eq!(s.next(&Input::Progress(CallState::Trying)), None);
            assert_eq!(s.next(&Input::Ended(EndReason::Busy)), None);
            assert_eq!(s.next(&Input::Failed("x".into())), None);
            assert_eq!(
                s.next(&Input::Start).map(|s| s.state),
                Some(WidgetState::Connecting)
            );
        }
    }

    #[test]
    fn a_second_click_while_calling_is_ignored() {
        for busy in [
            WidgetState::Connecting,
            WidgetState::Queued,
            WidgetState::Ringing,
            WidgetState::Answered,
        ] {
            assert_eq!(st(busy).next(&Input::Start), None);
        }
    }

    #[test]
    fn failures_carry_their_code_and_unknown_codes_read_as_generic() {
        let s = st(WidgetState::Connecting)
            .next(&Input::Failed("microphone_denied".into()))
            .expect("fails");
        assert_eq!(s.state.as_str(), "error");
        assert_eq!(s.reason.as_deref(), Some("microphone_denied"));
        assert_eq!(s.msg(), Some(Msg::ErrMicDenied));
        let s = st(WidgetState::Trying)
            .next(&Input::Failed("brand_new".into()))
            .expect("fails");
        assert_eq!(s.msg(), Some(Msg::ErrGeneric));
    }

    #[test]
    fn only_errors_before_the_gateway_took_the_call_end_it() {
        assert!(error_frame_is_fatal(WidgetState::Connecting, "bad_offer"));
        for s in [
            WidgetState::Queued,
            WidgetState::Trying,
            WidgetState::Ringing,
            WidgetState::Answered,
        ] {
            assert!(!error_frame_is_fatal(s, "bad_dtmf"), "{s:?}");
        }
        // Nobody free ends a call nobody answered, wherever the refusal comes.
        for s in [
            WidgetState::Connecting,
            WidgetState::Queued,
            WidgetState::Trying,
        ] {
            assert!(error_frame_is_fatal(s, "no_agent"), "{s:?}");
        }
        assert!(!error_frame_is_fatal(WidgetState::Answered, "no_agent"));
        assert!(!error_frame_is_fatal(WidgetState::Ended, "no_agent"));
    }

    fn queue(position: u32, wait_s: Option<u32>) -> Input {
        Input::Queue { position, wait_s }
    }

    fn place(s: &Status) -> (u32, Option<u32>, Option<u32>) {
        let p = s.place.expect("queued");
        (p.position, p.wait_s, p.shown_min)
    }

    #[test]
    fn a_queued_call_waits_then_an_agent_answers() {
        let mut s = st(WidgetState::Connecting);
        s = s.next(&queue(2, Some(75))).expect("queued");
        assert_eq!(s.state.as_str(), "queued");
        assert!(s.state.is_active(), "hang-up offered while waiting");
        assert_eq!(place(&s), (2, Some(75), Some(2)));
        assert_eq!(
            s.queue_sentence(Lang::En).as_deref(),
            Some("You are number 2 in line \u{2014} about 2 min.")
        );
        s = s.next(&queue(1, Some(20))).expect("moved up");
        assert_eq!(s.state, WidgetState::Queued);
        assert_eq!(place(&s), (1, Some(20), Some(1)));
        assert_eq!(
            s.queue_sentence(Lang::En).as_deref(),
            Some("You are next \u{2014} about 1 min.")
        );
        assert_eq!(s.msg(), None, "the queue has its own sentence");
        assert_eq!(s.next(&Input::Start), None, "no second call while waiting");
        assert_eq!(s.next(&Input::Offer(Offer::Closed)), None);
        for (input, want) in [
            (Input::Progress(CallState::Trying), "trying"),
            (Input::Progress(CallState::Ringing), "ringing"),
            (Input::Progress(CallState::Answered), "answered"),
        ] {
            s = s.next(&input).expect("moves on");
            assert_eq!(s.state.as_str(), want);
            assert_eq!(s.place, None);
            assert_eq!(s.queue_sentence(Lang::En), None);
        }
        assert_eq!(s.next(&queue(1, None)), None, "a late queue frame");
    }

    #[test]
    fn a_queued_call_may_go_straight_to_answered_or_back_to_the_queue() {
        let queued = st(WidgetState::Trying)
            .next(&queue(3, None))
            .expect("queued");
        assert_eq!(queued.state, WidgetState::Queued);
        assert_eq!(place(&queued), (3, None, None));
        assert_eq!(
            queued
                .next(&Input::Progress(CallState::Answered))
                .map(|s| s.state),
            Some(WidgetState::Answered)
        );
        // The agent rung did not answer: the call is queued again, then another is rung.
        let again = st(WidgetState::Ringing)
            .next(&queue(1, None))
            .expect("requeued");
        assert_eq!(again.state, WidgetState::Queued);
        assert_eq!(
            again
                .next(&Input::Progress(CallState::Trying))
                .map(|s| s.state),
            Some(WidgetState::Trying)
        );
        for before in [
            WidgetState::Available,
            WidgetState::Closed,
            WidgetState::Loading,
        ] {
            assert_eq!(st(before).next(&queue(1, None)), None, "{before:?}");
        }
        for after in [
            WidgetState::Answered,
            WidgetState::Ended,
            WidgetState::Error,
        ] {
            assert_eq!(st(after).next(&queue(1, None)), None, "{after:?}");
        }
    }

    #[test]
    fn the_queue_line_changes_with_the_position_not_with_seconds() {
        let s = st(WidgetState::Connecting)
            .next(&queue(4, Some(170)))
            .expect("q");
        assert_eq!(place(&s), (4, Some(170), Some(3)));
        // Same frame again: nothing to do.
        assert_eq!(s.next(&queue(4, Some(170))), None);
        // Seconds of drift, across the minute boundary too, keep the sentence as it is.
        let drift = s.next(&queue(4, Some(185))).expect("new estimate");
        assert_eq!(place(&drift), (4, Some(185), Some(3)), "data-wait follows");
        assert_eq!(drift.queue_sentence(Lang::En), s.queue_sentence(Lang::En));
        let drift = drift.next(&queue(4, Some(125))).expect("new estimate");
        assert_eq!(place(&drift).2, Some(3));
        // A real change of the estimate is said.
        let longer = drift.next(&queue(4, Some(240))).expect("longer");
        assert_eq!(place(&longer).2, Some(4));
        let shorter = longer.next(&queue(4, Some(100))).expect("shorter");
        assert_eq!(place(&shorter).2, Some(2));
        // A new position always says the current estimate.
        let moved = shorter.next(&queue(3, Some(121))).expect("moved");
        assert_eq!(place(&moved), (3, Some(121), Some(3)));
        // Estimate lost and found again.
        let unknown = moved.next(&queue(3, None)).expect("unknown");
        assert_eq!(
            unknown.queue_sentence(Lang::En).as_deref(),
            Some("You are number 3 in line.")
        );
        let known = unknown.next(&queue(3, Some(30))).expect("known");
        assert_eq!(place(&known).2, Some(1));
        let zero = st(WidgetState::Connecting)
            .next(&queue(1, Some(0)))
            .expect("q");
        assert_eq!(place(&zero).2, Some(1), "never \"about 0 min\"");
    }

    #[test]
    fn the_queue_line_in_every_language() {
        let s = |position, wait_s| Status {
            state: WidgetState::Queued,
            reason: None,
            place: Some(Place {
                position,
                wait_s,
                shown_min: wait_s.map(|w: u32| w.div_ceil(60)),
            }),
        };
        for (lang, pos, next, wait) in [
            (
                Lang::En,
                "You are number 5 in line.",
                "You are next.",
                "You are number 2 in line \u{2014} about 3 min.",
            ),
            (
                Lang::Es,
                "Es el número 5 en la cola.",
                "Es el siguiente.",
                "Es el número 2 en la cola \u{2014} unos 3 min.",
            ),
            (
                Lang::De,
                "Sie sind Nummer 5 in der Warteschlange.",
                "Sie sind als Nächstes dran.",
                "Sie sind Nummer 2 in der Warteschlange \u{2013} etwa 3 Min.",
            ),
        ] {
            assert_eq!(s(5, None).queue_sentence(lang).as_deref(), Some(pos));
            assert_eq!(s(1, None).queue_sentence(lang).as_deref(), Some(next));
            assert_eq!(s(2, Some(180)).queue_sentence(lang).as_deref(), Some(wait));
        }
    }

    #[test]
    fn hanging_up_while_queued_ends_the_call_as_ours() {
        let s = st(WidgetState::Connecting)
            .next(&queue(2, None))
            .expect("q");
        let ended = s.next(&Input::Ended(EndReason::HangupLocal)).expect("ends");
        assert_eq!(ended.state, WidgetState::Ended);
        assert_eq!(ended.reason.as_deref(), Some("hangup_local"));
        assert_eq!(ended.place, None);
        assert_eq!(ended.msg(), Some(Msg::EndLocal));
        assert!(!ended.offers_fallback());
        assert_eq!(
            ended.next(&Input::Start).map(|s| s.state),
            Some(WidgetState::Connecting)
        );
    }

    #[test]
    fn nobody_free_offers_the_campaigns_fallback_in_the_card() {
        let queued = st(WidgetState::Connecting)
            .next(&queue(1, Some(40)))
            .expect("q");
        let ended = queued
            .next(&Input::Ended(EndReason::NoAgent))
            .expect("ends");
        assert_eq!(ended.state.as_str(), "ended");
        assert_eq!(ended.reason.as_deref(), Some("no_agent"));
        assert_eq!(ended.msg(), Some(Msg::EndNoAgent));
        assert!(ended.offers_fallback());
        assert!(ended.shows_callback_form(true, None), "callback fallback");
        assert!(!ended.shows_callback_form(false, None), "message fallback");
        assert!(!ended.shows_callback_form(true, Some(true)), "request sent");
        assert!(
            ended.shows_callback_form(true, Some(false)),
            "retry a failed one"
        );
        // The visitor may still try calling again.
        assert_eq!(
            ended.next(&Input::Start).map(|s| s.state),
            Some(WidgetState::Connecting)
        );
        // Refused at token time or by the socket: the same offer.
        let refused = st(WidgetState::Connecting)
            .next(&Input::Failed("no_agent".into()))
            .expect("fails");
        assert_eq!(refused.state.as_str(), "error");
        assert_eq!(refused.msg(), Some(Msg::Busy));
        assert!(refused.shows_callback_form(true, None));
        // Other ends offer no fallback; closed and busy campaigns still do.
        for r in [
            EndReason::HangupRemote,
            EndReason::Busy,
            EndReason::Unavailable,
        ] {
            let s = queued.next(&Input::Ended(r)).expect("ends");
            assert!(!s.shows_callback_form(true, None), "{r:?}");
        }
        let failed = queued
            .next(&Input::Failed("network".into()))
            .expect("fails");
        assert!(!failed.offers_fallback());
        for s in [WidgetState::Closed, WidgetState::Unavailable] {
            assert!(st(s).shows_callback_form(true, None), "{s:?}");
        }
        for s in [
            WidgetState::Available,
            WidgetState::Answered,
            WidgetState::Queued,
        ] {
            assert!(!st(s).offers_fallback(), "{s:?}");
        }
    }

    #[test]
    fn ringback_plays_only_while_ringing_without_early_media() {
        assert!(WidgetState::Ringing.plays_ringback());
        for s in [
            WidgetState::Trying,
            WidgetState::EarlyMedia,
            WidgetState::Answered,
            WidgetState::Ended,
        ] {
            assert!(!s.plays_ringback(), "{s:?}");
        }
    }

    #[test]
    fn wire_names_parse_back() {
        for r in END_REASONS {
            assert_eq!(end_reason_from_str(r.as_str()), Some(r));
        }
        assert_eq!(end_reason_from_str("new_reason"), Some(EndReason::Failed));
        assert_eq!(
            call_state_from_str("early_media"),
            Some(CallState::EarlyMedia)
        );
        assert_eq!(call_state_from_str("answered"), Some(CallState::Answered));
        assert_eq!(call_state_from_str("Answered"), None);
    }

    #[test]
    fn microphone_errors_map_to_codes_with_words() {
        for (name, code) in [
            ("NotAllowedError", "microphone_denied"),
            ("SecurityError", "microphone_blocked"),
            ("NotFoundError", "no_microphone"),
            ("NotReadableError", "microphone_busy"),
        ] {
            assert_eq!(microphone_error_code(name), code);
            assert!(i18n::error_code(code).is_some(), "{code}");
        }
    }

    #[test]
    fn call_again_after_a_call() {
        let label = |s| call_button_label(&st(s), "Call sales", Lang::En);
        assert_eq!(label(WidgetState::Available), "Call sales");
        assert_eq!(label(WidgetState::Ended), "Call again");
        assert_eq!(label(WidgetState::Error), "Call again");
        assert_eq!(
            call_button_label(&st(WidgetState::Ended), "x", Lang::De),
            "Erneut anrufen"
        );
    }

    #[test]
    fn the_timer_reads_like_a_clock() {
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(65), "1:05");
        assert_eq!(clock(3600 + 61), "1:01:01");
    }

    #[test]
    fn the_level_meter_is_zero_for_silence_and_capped() {
        assert_eq!(level_percent(&[]), 0);
        assert_eq!(level_percent(&[128; 64]), 0);
        let loud: Vec<u8> = (0..64).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert_eq!(level_percent(&loud), 100);
        let quiet: Vec<u8> = (0..64)
            .map(|i| if i % 2 == 0 { 120 } else { 136 })
            .collect();
        let q = level_percent(&quiet);
        assert!(q > 0 && q < 50, "{q}");
    }

    #[test]
    fn ws_urls_resolve_against_the_gateway() {
        assert_eq!(
            resolve_ws_url("https://gw.example", "/v1/calls/ws"),
            "wss://gw.example/v1/calls/ws"
        );
        assert_eq!(
            resolve_ws_url("http://127.0.0.1:8080/", "v1/calls/ws"),
            "ws://127.0.0.1:8080/v1/calls/ws"
        );
        assert_eq!(resolve_ws_url("https://a", "wss://b/ws"), "wss://b/ws");
    }
}
