//! The claims a call token carries.

use serde::{Deserialize, Serialize};

use crate::SessionNumber;

/// The only audience a call token may name.
pub const AUDIENCE: &str = "c2c-sbc";

/// The longest lifetime (`exp - iat`) a call token may have, seconds.
pub const MAX_LIFETIME_S: i64 = 60;

/// The claims of a call token. Unknown or duplicated claims are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallClaims {
    /// Issuer: the web node's configured name.
    pub iss: String,
    /// Audience: always [`AUDIENCE`].
    pub aud: String,
    /// The web session id.
    pub sub: String,
    /// Organisation id.
    pub org: String,
    /// Campaign public id.
    pub cmp: String,
    /// The session number presented as caller ID.
    pub num: SessionNumber,
    /// The origin (`scheme://host[:port]`) the token was issued to.
    pub ori: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Unique token id; accepted once.
    pub jti: String,
    /// The routing portion, AES-256-GCM sealed (see [`crate::RouteKey`]).
    pub rte: String,
}
