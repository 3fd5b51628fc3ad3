//! Wire types shared by the browser widget and the gateway; the messages are listed in ARCHITECTURE.md, "Signalling".
//!
//! This crate must stay tiny and dependency-free beyond `serde`: it is compiled into the wasm
//! widget, where every kilobyte counts.

use serde::{Deserialize, Serialize};

/// A signalling message sent by the browser over `/v1/calls/ws`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Start the call: the token from `POST /v1/calls/token` and the browser's SDP offer.
    Call { token: String, sdp: String },
    /// Send RFC 4733 DTMF digits (`0-9*#A-D`).
    Dtmf { digits: String },
    /// End the call.
    Hangup,
}

/// A signalling message sent by the gateway to the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The gateway's SDP answer to the browser's offer.
    Answer { sdp: String },
    /// Call progress.
    State { state: CallState },
    /// The call is over; no more messages follow.
    Ended { reason: EndReason },
    /// The request could not be served; `code` is machine-readable.
    Error { code: String, message: String },
    /// Every agent is busy: the call waits in the campaign's queue at this position (1 is
    /// next) for about this long (absent while there is no history to tell); sent again
    /// whenever either changes.
    Queue {
        position: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_wait_s: Option<u32>,
    },
}

/// Progress of a call as the browser sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The INVITE left; the trunk has not rung yet.
    Trying,
    /// The far end is ringing (180).
    Ringing,
    /// The far end sends early media (183 with SDP).
    EarlyMedia,
    /// The far end answered (200).
    Answered,
}

/// Why a call ended, from the caller's point of view: told to the browser, kept in the call
/// record, and what the SBC's trunk leg reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// We hung up (the browser asked, or the gateway ended the call).
    HangupLocal,
    /// The far end hung up (BYE).
    HangupRemote,
    /// The callee was busy (486, 600).
    Busy,
    /// Nobody answered (408, 480, 487 not caused by us).
    NoAnswer,
    /// The callee refused (403, 603).
    Rejected,
    /// The destination cannot be reached (404, 410, 484, 488, 5xx), or the node is draining.
    Unavailable,
    /// A protocol or media failure, or any other failure.
    Failed,
    /// No answer within our own timer (Timer B), or the media stopped.
    Timeout,
    /// No agent took the call: every one was busy, away or offline, and the queue (when the
    /// campaign has one) waited its longest.
    NoAgent,
}

impl EndReason {
    /// The snake_case name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::HangupLocal => "hangup_local",
            EndReason::HangupRemote => "hangup_remote",
            EndReason::Busy => "busy",
            EndReason::NoAnswer => "no_answer",
            EndReason::Rejected => "rejected",
            EndReason::Unavailable => "unavailable",
            EndReason::Failed => "failed",
            EndReason::Timeout => "timeout",
            EndReason::NoAgent => "no_agent",
        }
    }
}

/// Body of `POST /v1/calls/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// The campaign's public id.
    pub campaign: String,
    /// The page the visitor is on.
    pub page_url: String,
    /// `document.referrer`.
    #[serde(default)]
    pub referrer: String,
    /// UTM parameters of the page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
    /// The answer of a bot check (Turnstile, hCaptcha, reCAPTCHA) when the campaign uses one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<String>,
}

/// UTM campaign parameters of the visitor's page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Response of `POST /v1/calls/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The signed call token (JWS compact form).
    pub token: String,
    /// Expiry as Unix seconds.
    pub expires_at: i64,
    /// The E.164 number presented as caller ID for this web session.
    pub session_number: String,
    /// Where to open the signalling WebSocket.
    pub ws_url: String,
    /// ICE servers for `RTCPeerConnection` (empty: the gateway is ICE-lite and reachable).
    pub ice_servers: Vec<IceServer>,
}

/// One `RTCIceServer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
}

/// Response of `GET /v1/campaigns/{id}/availability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    /// Inside business hours.
    pub open: bool,
    /// Who could take a call now: for a campaign routed to agents, its agents with a free
    /// line, out of wrap-up and with the required skills; otherwise 1 while the campaign is
    /// under its concurrent-call limit, else 0. 0 whenever closed.
    pub agents_available: u32,
    /// Expected wait before answer, seconds: 0 when someone is free; when nobody is, the
    /// recent mean handle time over the agents logged in. Absent when unknown (closed,
    /// nobody logged in, no answered call in the last hour, or a campaign without agents
    /// at its limit): never a made-up number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_wait_s: Option<u32>,
    /// A call may wait in the campaign's queue when nobody is free (offer the call anyway).
    #[serde(default)]
    pub queues: bool,
    /// What to show instead of the call button when closed or busy.
    pub fallback: Fallback,
    /// Button label and colours.
    #[serde(default)]
    pub theme: Theme,
    /// When closed: Unix seconds of the next opening, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opens_at: Option<i64>,
}

/// Body of `POST /v1/callbacks`: a visitor asks to be called back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRequest {
    /// The campaign's public id.
    pub campaign: String,
    /// The number to call back, E.164 (`+` and 8 to 15 digits).
    pub phone: String,
    /// The visitor's name.
    #[serde(default)]
    pub name: String,
    /// The visitor agreed to be called back; required.
    #[serde(default)]
    pub consent: bool,
}

/// The campaign's fallback when no call can be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fallback {
    /// Show a message.
    Message { text: String },
    /// Offer a callback request form.
    Callback,
}

/// Widget look, chosen per campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    /// Button label.
    pub label: String,
    /// Button colour (CSS hex).
    pub color: String,
    /// `bottom-right`, `bottom-left`, …
    pub position: String,
    /// Text colour on the button (CSS hex); the widget picks one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_color: Option<String>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            label: "Call us".into(),
            color: "#0b6bcb".into(),
            position: "bottom-right".into(),
            text_color: None,
        }
    }
}

/// JSON body of every HTTP API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Machine-readable code, e.g. `origin_not_allowed`.
    pub error: String,
    /// A sentence for humans.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_match_the_design_contract() {
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"call","token":"t","sdp":"v=0"}"#).expect("call");
        assert_eq!(
            m,
            ClientMessage::Call {
                token: "t".into(),
                sdp: "v=0".into()
            }
        );
        let m: ClientMessage = serde_json::from_str(r#"{"type":"hangup"}"#).expect("hangup");
        assert_eq!(m, ClientMessage::Hangup);
        let m: ClientMessage =
            serde_json::from_str(r#"{"type":"dtmf","digits":"12#"}"#).expect("dtmf");
        assert_eq!(
            m,
            ClientMessage::Dtmf {
                digits: "12#".into()
            }
        );
    }

    #[test]
    fn server_messages_match_the_design_contract() {
        let s = serde_json::to_string(&ServerMessage::State {
            state: CallState::EarlyMedia,
        })
        .expect("ser");
        assert_eq!(s, r#"{"type":"state","state":"early_media"}"#);
        let s = serde_json::to_string(&ServerMessage::Ended {
            reason: EndReason::HangupRemote,
        })
        .expect("ser");
        assert_eq!(s, r#"{"type":"ended","reason":"hangup_remote"}"#);
    }
}
