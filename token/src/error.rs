//! Why a token was refused.

use thiserror::Error;

/// A refusal of a call token; every variant means "no call".
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed JWS, or its header or claims do not parse.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token is larger than any token we issue.
    #[error("token too large")]
    TooLarge,
    /// The header names an algorithm other than the pinned one.
    #[error("algorithm not allowed")]
    Algorithm,
    /// The header tries to supply its own key (`jku`, `jwk`, `x5u`, `x5c`).
    #[error("token header carries key material")]
    EmbeddedKey,
    /// No `kid`, or a `kid` we never issued.
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// `aud` or `iss` is not ours.
    #[error("wrong audience or issuer")]
    Audience,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// Before `nbf`, or `iat` in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `exp - iat` longer than we ever issue.
    #[error("token lifetime too long")]
    Lifetime,
    /// The WebSocket's Origin is not the origin the token was issued to.
    #[error("origin mismatch")]
    Origin,
    /// This `jti` was already used.
    #[error("token already used")]
    Replayed,
    /// The encrypted routing portion does not open with our key and this `jti`.
    #[error("routing portion invalid")]
    Route,
    /// Key generation, storage or encoding failed on our side.
    #[error("key store: {0}")]
    KeyStore(String),
    /// The used-id ledger could not be reached; the token is refused rather than risk reuse.
    #[error("token ledger unavailable: {0}")]
    Ledger(String),
}

impl TokenError {
    /// A stable machine-readable code for logs and the signalling `error` message.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) | TokenError::TooLarge => "token_malformed",
            TokenError::Algorithm | TokenError::EmbeddedKey | TokenError::UnknownKey => "token_key",
            TokenError::Signature | TokenError::Route => "token_signature",
            TokenError::Audience => "token_audience",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid | TokenError::Lifetime => "token_time",
            TokenError::Origin => "token_origin",
            TokenError::Replayed => "token_replayed",
            TokenError::KeyStore(_) | TokenError::Ledger(_) => "internal",
        }
    }
}
