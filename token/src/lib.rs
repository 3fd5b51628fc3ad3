//! c2c-token: the call token, the signed, single-use permission for one call.
//!
//! The web side mints a token after screening a visitor ([`TokenIssuer`]); the gateway
//! verifies it before any SIP leaves ([`TokenVerifier`]). A [`VerifiedCall`] can only be
//! obtained from [`TokenVerifier::verify`], and the SBC places calls only for a
//! `VerifiedCall`, so no code path can send an INVITE for an unchecked token. The route
//! (trunk and callees) is sealed with a key of the deployment's nodes, so the browser that
//! carries the token can neither read nor change where the call goes.
//!
//! It also keeps the one wall clock ([`clock`]) that tokens and records are stamped with.
//!
//! This crate depends on no other c2c crate.

mod claims;
pub mod clock;
mod error;
mod issue;
mod keys;
mod ledger;
mod number;
mod route;
mod verify;

pub use claims::{CallClaims, AUDIENCE, MAX_LIFETIME_S};
pub use error::TokenError;
pub use issue::{CallGrant, TokenIssuer};
pub use keys::{Jwk, Jwks, KeyRing, SharedKeys, SigningKey, KEY_OVERLAP_S};
pub use ledger::{LedgerFuture, TokenLedger, UsedTokenIds};
pub use number::{NotASessionNumber, SessionNumber};
pub use route::{Route, RouteKey};
pub use verify::{CheckedToken, TokenVerifier, VerifiedCall, CLOCK_SKEW_S};
