//! c2c-media: a call's media. The browser's WebRTC peer ([`peer`], the only door to str0m),
//! the sans-IO bridge to the trunk's plain RTP ([`bridge`]: SRTP ↔ RTP, RFC 4733 DTMF, RTCP
//! reports, the RTP watchdog), and the per-core loops ([`loops`]) that carry every call's
//! bridge on one socket per core. While a call waits for an agent, the bridge plays the
//! visitor music on hold ([`hold`]) instead of relaying.
//!
//! It depends on no other c2c crate: it knows nothing of SIP or tokens; the application tells
//! it where the trunk's media is ([`bridge::TrunkMedia`]).

pub mod bridge;
pub mod dtmf;
pub mod g711;
pub mod hold;
pub mod loops;
pub mod loss;
pub mod peer;
pub mod ports;
pub mod rtcp;
pub mod rtp;
pub mod stun;
pub mod watchdog;

use std::sync::Arc;
use std::time::Duration;

/// What every call's media needs from the configuration; cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// The `[media]` port range, shared by all calls.
    pub ports: Arc<ports::PortPool>,
    /// RTP silence after which a call ends; None never.
    pub rtp_timeout: Option<Duration>,
}
