//! The widget's call state machine and its wording, as plain Rust (no browser types), so the
//! rules are unit-tested on the host.
//!
//! The status element exposes [`WidgetState::as_str`] in `data-state`; site owners and tests rely
//! on those names (`idle|connecting|trying|ringing|early_media|answered|ended|error`).

use c2c_wire::{CallState, EndReason};

/// What the visitor sees the widget doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidgetState {
    /// No call: the call button is offered (or the fallback, when closed).
    Idle,
    /// The widget is getting a token, the microphone and ICE candidates, or awaiting the answer.
    Connecting,
    /// The gateway sent the INVITE toward the callee.
    Trying,
    /// The callee is ringing.
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

/// Something that moves the widget from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
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
    /// The server's own message, preferred over [`error_text`] when present.
    pub message: Option<String>,
}

impl Failure {
    /// A failure detected by the widget itself, worded by [`error_text`].
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
            state: WidgetState::Idle,
            reason: None,
        }
    }
}

impl WidgetState {
    /// The name used in `data-state`, `C2C.state` and `c2c:state` events.
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetState::Idle => "idle",
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
        !matches!(
            self,
            WidgetState::Idle | WidgetState::Ended | WidgetState::Error
        )
    }

    /// How far a call in progress has got; progress never goes backwards (a late `ringing`
    /// after `answered` is ignored).
    fn rank(self) -> u8 {
        match self {
            WidgetState::Connecting => 1,
            WidgetState::Trying => 2,
            WidgetState::Ringing => 3,
            WidgetState::EarlyMedia => 4,
            WidgetState::Answered => 5,
            WidgetState::Idle | WidgetState::Ended | WidgetState::Error => 0,
        }
    }
}

impl Status {
    /// The status after `input`, or `None` when the input does not apply in this state
    /// (a second click while calling, progress after the call ended, a repeated `ended`).
    pub fn next(&self, input: &Input) -> Option<Status> {
        let active = self.state.is_active();
        let to = |state, reason: Option<String>| Some(Status { state, reason });
        match input {
            Input::Start if !active => to(WidgetState::Connecting, None),
            Input::Progress(p) if active => {
                let state = match p {
                    CallState::Trying => WidgetState::Trying,
                    CallState::Ringing => WidgetState::Ringing,
                    CallState::EarlyMedia => WidgetState::EarlyMedia,
                    CallState::Answered => WidgetState::Answered,
                };
                (state.rank() > self.state.rank()).then_some(Status {
                    state,
                    reason: None,
                })
            }
            Input::Ended(r) if active => to(WidgetState::Ended, Some(r.as_str().to_owned())),
            Input::Failed(code) if active => to(WidgetState::Error, Some(code.clone())),
            _ => None,
        }
    }

    /// The sentence shown in the status element.
    pub fn text(&self) -> &'static str {
        match self.state {
            WidgetState::Idle => "",
            WidgetState::Connecting => "Connecting\u{2026}",
            WidgetState::Trying => "Calling\u{2026}",
            WidgetState::Ringing => "Ringing\u{2026}",
            WidgetState::EarlyMedia => "Connecting you\u{2026}",
            WidgetState::Answered => "Connected",
            WidgetState::Ended => end_reason_text(self.reason.as_deref().unwrap_or("")),
            WidgetState::Error => error_text(self.reason.as_deref().unwrap_or("")),
        }
    }
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

/// An end reason from the wire (`hangup_remote`, …) in plain English for the visitor.
pub fn end_reason_text(reason: &str) -> &'static str {
    match reason {
        "hangup_local" => "You ended the call.",
        "hangup_remote" => "The call has ended.",
        "busy" => "The line is busy. Please try again in a moment.",
        "no_answer" => "No one answered. Please try again later.",
        "rejected" => "The call was declined.",
        "unavailable" => "We can't take your call right now. Please try again later.",
        "timeout" => "The call timed out.",
        _ => "The call could not be completed.",
    }
}

/// A widget-side error code in plain English. Server errors carry their own message, which the
/// widget shows instead when there is one.
pub fn error_text(code: &str) -> &'static str {
    match code {
        "microphone_denied" => "Please allow microphone access to call us.",
        "no_microphone" => "No microphone was found.",
        "webrtc_unsupported" => "This browser cannot place calls.",
        "network" => "We could not reach the call service. Please try again.",
        "connection_lost" => "The connection to the call service was lost.",
        "bad_response" => "The call service sent an unexpected answer.",
        _ => "Something went wrong. Please try again.",
    }
}

/// The error code for a failed `getUserMedia`, from the DOMException name.
pub fn microphone_error_code(dom_exception_name: &str) -> &'static str {
    match dom_exception_name {
        "NotAllowedError" | "SecurityError" => "microphone_denied",
        "NotFoundError" | "OverconstrainedError" => "no_microphone",
        "TypeError" => "webrtc_unsupported",
        _ => "microphone_error",
    }
}

/// The label of the call button: the campaign's label, or "Call again" after a call.
pub fn call_button_label<'a>(status: &Status, theme_label: &'a str) -> &'a str {
    match status.state {
        WidgetState::Ended | WidgetState::Error => "Call again",
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
        for (input, want) in [
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
        assert_eq!(s.text(), "The call has ended.");
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
        for done in [WidgetState::Idle, WidgetState::Ended, WidgetState::Error] {
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
    fn failures_carry_their_code() {
        let s = st(WidgetState::Connecting)
            .next(&Input::Failed("microphone_denied".into()))
            .expect("fails");
        assert_eq!(s.state.as_str(), "error");
        assert_eq!(s.reason.as_deref(), Some("microphone_denied"));
        assert_eq!(s.text(), "Please allow microphone access to call us.");
    }

    #[test]
    fn every_end_reason_has_its_own_words() {
        use EndReason::*;
        let all = [
            HangupLocal,
            HangupRemote,
            Busy,
            NoAnswer,
            Rejected,
            Unavailable,
            Failed,
            Timeout,
        ];
        let texts: Vec<_> = all.iter().map(|r| end_reason_text(r.as_str())).collect();
        for (i, t) in texts.iter().enumerate() {
            assert!(!t.is_empty() && !t.contains('_'), "{t}");
            // Only `failed` shares the generic sentence with unknown reasons.
            if all[i] != Failed {
                assert_ne!(*t, end_reason_text("something_new"));
            }
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
        assert_eq!(
            microphone_error_code("NotAllowedError"),
            "microphone_denied"
        );
        assert_eq!(microphone_error_code("NotFoundError"), "no_microphone");
        assert_ne!(error_text("no_microphone"), error_text("unknown"));
    }

    #[test]
    fn call_again_after_a_call() {
        assert_eq!(
            call_button_label(&st(WidgetState::Idle), "Call sales"),
            "Call sales"
        );
        assert_eq!(
            call_button_label(&st(WidgetState::Ended), "Call sales"),
            "Call again"
        );
        assert_eq!(
            call_button_label(&st(WidgetState::Error), "Call sales"),
            "Call again"
        );
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
