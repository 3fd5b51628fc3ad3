//! What a [`super::TrunkLeg`] tells its driver: call events, end reasons and outputs.

use std::net::SocketAddr;
use std::time::Instant;

use c2c_wire::EndReason;

use crate::sdp::RemoteMedia;

/// The end reason for a final failure response we did not provoke.
pub fn reason_for_status(status: u16) -> EndReason {
    match status {
        486 | 600 => EndReason::Busy,
        408 | 480 | 487 => EndReason::NoAnswer,
        403 | 603 => EndReason::Rejected,
        404 | 410 | 484 | 488 | 500..=599 => EndReason::Unavailable,
        _ => EndReason::Failed,
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
    /// Of a call rung on several devices at once, this one (its index among them) answers:
    /// the `Answered` that follows is its; the others are cancelled as completed elsewhere.
    Picked {
        /// The device's index in the order they were given.
        fork: usize,
    },
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
        reason: EndReason,
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
