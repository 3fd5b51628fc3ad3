//! c2c-routing: the contact centre's agent routing, sans-IO: who is free ([`presence`]), what
//! a call needs from an agent ([`needs`], [`score`]), in what order agents are rung
//! ([`strategy`]), and the wait a queued call can expect ([`queue`]).
//!
//! Pure logic: no I/O, no async, no clock. Time is unix milliseconds (`i64`) passed in, because
//! agent state comes from the database every node shares. The shell (in the app) loads the
//! agents of a campaign, asks [`Router::ring_order`] whom to ring, and, while a call waits
//! in the queue (kept in the database), tells it [`wait_estimate_s`].
//!
//! It depends on no other c2c crate.

pub mod needs;
pub mod presence;
pub mod queue;
pub mod score;
pub mod strategy;

pub use needs::{needs_for, Condition, Needs, Rule, WebContext, LANGUAGE_WEIGHT};
pub use presence::{AgentState, Presence, DEFAULT_MAX_CALLS};
pub use queue::wait_estimate_s;
pub use score::{explain_skip, REQUIRED_WEIGHT};
pub use strategy::{Pick, RingPlan, Router, Strategy};
