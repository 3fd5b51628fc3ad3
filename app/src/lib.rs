//! c2c: the application. The `c2c` binary's commands, the server that wires every role
//! together ([`server`]), configuration ([`config`]), the signalling WebSocket
//! ([`signalling`]), the call ([`call`]: the sans-IO `CallFlow` and the shell that drives it),
//! call records ([`cdr`]), the closing of calls a crash interrupted ([`interrupted`]), trunk
//! sync, and agents with their SIP accounts and registrations kept in step with the registrar ([`agents`]).
//!
//! It builds on every other crate (token, wire, sbc, media, web); nothing depends on it.

pub mod agents;
pub mod arenas;
pub mod call;
pub mod cdr;
pub mod config;
pub mod interrupted;
pub mod node;
pub mod server;
pub mod signalling;
pub mod trunk_sync;
