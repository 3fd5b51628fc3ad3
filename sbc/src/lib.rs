//! c2c-sbc: the session border controller between the gateway and the phone network.
//!
//! It owns everything SIP: parsing and serialising messages, the INVITE client transaction and
//! dialog toward a trunk (sans-IO, driven with virtual time in tests), the thin UDP shell around
//! it, and an in-process demo trunk. It also verifies call tokens: no INVITE leaves unless the
//! token in front of it verified.
//!
//! This crate depends on no other c2c crate; the gateway and web crates build on it.

pub mod demo_trunk;
pub mod digest;
pub mod failover;
pub mod ingress;
pub mod leg;
pub mod sdp;
pub mod shell;
pub mod sip;
pub mod token;
pub mod trunk;
