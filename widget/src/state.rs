//! The widget's call state machine and its wording, as plain Rust (no browser types), so the
//! rules are unit-tested on the host.
//!
//! The status element exposes [`WidgetState::as_str`] in `data-state`; site owners and tests rely
//! on those names (`idle|connecting|trying|ringing|early_media|answered|ended|error`).

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

/// A state together with the reason shown next to it (end reason or error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Where the call is.
    pub state: WidgetState,
    /// `EndReason::as_str` for `Ended`, the error code for `Error`, `None` otherwise.
    pub reason: Option<String>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: WidgetState::Loading,
            reason: None,
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

    /// The local ringback tone plays: the callee rings and sends no early media.
    pub fn plays_ringback(self) -> bool {
        self == WidgetState::Ringing
    }

    /// How far a call in progress has got; progress never goes backwards (a late `ringing`
    /// after `answered` is ignored). 0 when no call is in progress.
    fn rank(self) -> u8 {
        match self {
            WidgetState::Connecting => 1,
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
        let to = |state, reason: Option<String>| Some(Status { state, reason });
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
                })
            }
            Input::Ended(r) if s.is_active() => to(WidgetState::Ended, Some(r.as_str().to_owned())),
            Input::Failed(code) if s.is_active() => to(WidgetState::Error, Some(code.clone())),
            _ => None,
        }
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

/// Whether a server `error` frame ends the call: before the gateway accepted the call (token
/// refused, bad offer) it does; later ones (a refused DTMF digit) leave the call up, and a
/// fatal problem then arrives as `ended` or a closed WebSocket.
pub fn error_frame_is_fatal(state: WidgetState) -> bool {
    state == WidgetState::Connecting
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
const END_REASONS: [EndReason; 8] = [
    EndReason::HangupLocal,
    EndReason::HangupRemote,
    EndReason::Busy,
    EndReason::NoAnswer,
    EndReason::Rejected,
    EndReason::Unavailable,
    EndReason::Failed,
    EndReason::Timeout,
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
        WidgetState::Ended | WidgetState::Error => i18n::text(lang, Msg::CallAgain),
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
        assert!(error_frame_is_fatal(WidgetState::Connecting));
        for s in [
            WidgetState::Trying,
            WidgetState::Ringing,
            WidgetState::Answered,
        ] {
            assert!(!error_frame_is_fatal(s), "{s:?}");
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
