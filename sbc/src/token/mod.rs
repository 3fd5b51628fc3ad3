//! Call tokens (DESIGN §3): the signed, single-use permission for one call.
//!
//! The web side mints a token after screening a visitor; the SBC verifies it before any SIP
//! leaves. A [`VerifiedCall`] can only be obtained from [`TokenVerifier::verify`], so code that
//! places a call cannot be handed an unchecked token by mistake.

mod claims;
mod error;
mod issue;
mod keys;
mod ledger;
mod route;
mod verify;

pub use claims::{CallClaims, AUDIENCE, MAX_LIFETIME_S};
pub use error::TokenError;
pub use issue::{CallGrant, TokenIssuer};
pub use keys::{Jwk, Jwks, KeyRing, SharedKeys, SigningKey, KEY_OVERLAP_S};
pub use ledger::{LedgerFuture, TokenLedger, UsedTokenIds};
pub use route::{Route, RouteKey};
pub use verify::{CheckedToken, TokenVerifier, VerifiedCall, CLOCK_SKEW_S};
