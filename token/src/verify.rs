//! Verifying call tokens at the SBC, before anything else happens.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};

use crate::{
    CallClaims, Route, SessionNumber, SharedKeys, TokenError, TokenLedger, AUDIENCE, MAX_LIFETIME_S,
};

/// Clock skew tolerated between the minting and verifying nodes, seconds.
pub const CLOCK_SKEW_S: i64 = 5;

/// No token we mint comes near this size; anything larger is refused unparsed.
const MAX_TOKEN_LEN: usize = 4096;

/// The one algorithm we accept, pinned here and never taken from the token.
const PINNED_ALG: Algorithm = Algorithm::ES256;

/// A token that passed every check and whose id is spent, with its routing portion opened:
/// the one thing the SBC places a call for. Only [`TokenVerifier::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCall {
    claims: CallClaims,
    route: Route,
}

impl VerifiedCall {
    /// The web session the call is from.
    pub fn session(&self) -> &str {
        &self.claims.sub
    }

    /// The organisation whose campaign and trunk carry the call.
    pub fn org(&self) -> &str {
        &self.claims.org
    }

    /// The campaign's public id.
    pub fn campaign(&self) -> &str {
        &self.claims.cmp
    }

    /// The session number the call presents as caller ID.
    pub fn number(&self) -> &SessionNumber {
        &self.claims.num
    }

    /// The origin of the page that was granted the call.
    pub fn origin(&self) -> &str {
        &self.claims.ori
    }

    /// Where the call goes: trunk and callees, from server-side campaign data.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Every verified claim.
    pub fn claims(&self) -> &CallClaims {
        &self.claims
    }

    /// A verified call without a token, for other crates' tests.
    #[cfg(feature = "test-support")]
    pub fn for_tests(claims: CallClaims, route: Route) -> Self {
        VerifiedCall { claims, route }
    }
}

/// A token whose signature, claims, origin and route checked out, but whose id is not spent
/// yet; only [`TokenVerifier::verify`] turns it into a [`VerifiedCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedToken {
    claims: CallClaims,
    route: Route,
}

impl CheckedToken {
    /// The claims (checked, not yet spent).
    pub fn claims(&self) -> &CallClaims {
        &self.claims
    }
}

/// Checks call tokens against our keys, audience, issuer, time, origin and the used-id ledger.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: SharedKeys,
    issuer: String,
    ledger: Arc<dyn TokenLedger>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier accepting tokens from `issuer` signed by keys in `keys`, spending ids in
    /// `ledger`.
    pub fn new(
        keys: impl Into<SharedKeys>,
        issuer: impl Into<String>,
        ledger: Arc<dyn TokenLedger>,
    ) -> Self {
        TokenVerifier {
            keys: keys.into(),
            issuer: issuer.into(),
            ledger,
        }
    }

    /// Verifies `token` presented on a WebSocket whose `Origin` was `origin`, at Unix time
    /// `now`. On success the token's id is spent: the same token never verifies again.
    pub async fn verify(
        &self,
        token: &str,
        origin: Option<&str>,
        now: i64,
    ) -> Result<VerifiedCall, TokenError> {
        let checked = self.check(token, origin, now)?;
        // Spend the id last, so a token refused for another reason does not burn it.
        let CheckedToken { claims, route } = checked;
        if !self.ledger.claim(&claims.jti, claims.exp, now).await? {
            return Err(TokenError::Replayed);
        }
        Ok(VerifiedCall { claims, route })
    }

    /// Every check but spending the id: signature with the pinned algorithm, key by `kid`,
    /// audience, issuer, time, origin and the sealed route.
    pub fn check(
        &self,
        token: &str,
        origin: Option<&str>,
        now: i64,
    ) -> Result<CheckedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLarge);
        }
        let header = decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != PINNED_ALG {
            return Err(TokenError::Algorithm);
        }
        if header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.x5t.is_some()
            || header.x5t_s256.is_some()
        {
            return Err(TokenError::EmbeddedKey);
        }
        let keys = self.keys.get();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| keys.accepted.get(kid))
            .ok_or(TokenError::UnknownKey)?;

        let mut validation = Validation::new(PINNED_ALG);
        // Time, audience and issuer are checked below against `now`, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims =
            decode::<CallClaims>(token, &DecodingKey::from_ec_der(key.public()), &validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey => {
                        TokenError::Signature
                    }
                    ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                    _ => TokenError::Malformed(e.to_string()),
                })?
                .claims;

        if claims.aud != AUDIENCE || claims.iss != self.issuer {
            return Err(TokenError::Audience);
        }
        // Saturating and checked: `exp` and `iat` are any i64 the signer chose, and an
        // overflow here was a panic (found by the `call_token` fuzz target).
        if now > claims.exp.saturating_add(CLOCK_SKEW_S) {
            return Err(TokenError::Expired);
        }
        if now + CLOCK_SKEW_S < claims.nbf || now + CLOCK_SKEW_S < claims.iat {
            return Err(TokenError::NotYetValid);
        }
        let lifetime = claims.exp.checked_sub(claims.iat);
        if !lifetime.is_some_and(|l| (0..=MAX_LIFETIME_S).contains(&l)) {
            return Err(TokenError::Lifetime);
        }
        if origin != Some(claims.ori.as_str()) {
            return Err(TokenError::Origin);
        }
        let route = keys.route_key.open(&claims.rte, &claims.jti)?;
        Ok(CheckedToken { claims, route })
    }
}
