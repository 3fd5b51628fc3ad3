//! Media: the browser's WebRTC peer, the bridge to the trunk's RTP, and the task that runs it.

pub mod bridge;
pub mod dtmf;
pub mod peer;
pub mod rtp;
pub mod task;
