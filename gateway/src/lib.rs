//! c2c-gateway: WebRTC termination, the signalling WebSocket and the media bridge, plus the
//! wiring of every role into the `c2c` binary.
//!
//! Depends on `c2c-sbc` (SIP, tokens) and `c2c-web` (HTTP API); nothing depends on it.

pub mod arenas;
pub mod call;
pub mod cdr;
pub mod config;
pub mod cut_off;
pub mod media;
pub mod node;
pub mod server;
pub mod signalling;
pub mod trunk_sync;
