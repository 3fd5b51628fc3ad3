//! What a [`super::TrunkLeg`] tells its driver: call events, end causes and outputs.

use std::net::SocketAddr;
use std::time::Instant;

use crate::sdp::RemoteMedia;

/// Why a call ended, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndCause {
    /// We hung up.
    HangupLocal,
    /// The far end hung up.
    HangupRemote,
    /// The callee was busy (486, 600).
    Busy,
    /// Nobody answered (408, 480, 487 not caused by us).
    NoAnswer,
    /// The callee refused (403, 603).
    Rejected,
    /// The destination cannot be reached (404, 410, 484, 488, 5xx).
    Unavailable,
    /// Any other failure.
    Failed,
    /// The trunk never answered the INVITE (Timer B).
    Timeout,
}

impl EndCause {
    /// The reason string of the signalling protocol (DESIGN §3).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HangupLocal => "hangup_local",
            Self::HangupRemote => "hangup_remote",
            Self::Busy => "busy",
            Self::NoAnswer => "no_answer",
            Self::Rejected => "rejected",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }

    /// The cause for a final failure response we did not provoke.
    pub fn from_status(status: u16) -> Self {
        match status {
            486 | 600 => Self::Busy,
            408 | 480 | 487 => Self::NoAnswer,
            403 | 603 => Self::Rejected,
            404 | 410 | 484 | 488 | 500..=599 => Self::Unavailable,
            _ => Self::Failed,
        }
    }
}

/// What happened to the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// The trunk sent 100 Trying.
    Trying,
    /// The callee is ringing (180-182 without SDP).
    Ringing,
    /// Early media: the trunk sent SDP in a provisional response.
    EarlyMedia(RemoteMedia),
    /// The call was answered (200 OK with SDP).
    Answered(RemoteMedia),
    /// The trunk moved or re-described its media in the call (re-INVITE or UPDATE, e.g.
    /// hold/unhold or a new media address, RFC 3264 §8).
    MediaChanged(RemoteMedia),
    /// The trunk named an address outside `[sip] trunk_networks` (a Contact, Record-Route or
    /// media address) and got nothing there; the text says which, for the call record. The
    /// call ends next when it was the answer's.
    Refused(String),
    /// The call is over; `status` is the final SIP status when one caused it.
    Ended {
        /// Why.
        cause: EndCause,
        /// The SIP status that ended it, if any.
        status: Option<u16>,
    },
}

/// What the leg wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes as one datagram.
    Transmit {
        /// The datagram.
        bytes: Vec<u8>,
        /// Destination.
        to: SocketAddr,
    },
    /// Tell the application.
    Event(LegEvent),
    /// Call `handle_timeout` at this instant (the last output of a drain).
    Timeout(Instant),
}
