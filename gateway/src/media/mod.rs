//! Media: the browser's WebRTC peer, the bridge to the trunk's RTP, and the per-core loops
//! that run every call's bridge.

pub mod bridge;
pub mod dtmf;
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
