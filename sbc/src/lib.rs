//! c2c-sbc: the session border controller between the gateway and the phone network.
//!
//! It owns everything SIP: a strict parser and serialiser ([`sip`]), the ingress screen every
//! message passes first ([`ingress`]: trunk-only sources, rate limits, RFC-correct refusals,
//! identity headers stripped), the sans-IO INVITE client leg toward a trunk ([`leg`]: timers,
//! digest auth, dialog, re-INVITE), trunk failover and keep-alive ([`failover`],
//! [`keepalive`]), the thin UDP + TCP shell around them ([`shell`]) and an in-process demo
//! trunk. [`shell::Sbc::place_call`] takes a [`c2c_token::VerifiedCall`]: no INVITE can leave
//! unless a call token verified, and the caller ID, session and callee come from it.
//!
//! It builds on `c2c-token`, `c2c-guard` and `c2c-wire` only; the gateway and web crates build on it.

pub mod context;
pub mod demo_trunk;
pub mod destination;
pub mod digest;
pub mod dns;
pub mod e164;
pub mod failover;
pub mod ingress;
pub mod interrupted;
pub mod keepalive;
pub mod leg;
pub mod networks;
pub mod registrar;
pub mod sdp;
pub mod shell;
pub mod sip;
pub mod trunk;
