//! Minting call tokens (used by the web side after it screened a visitor).

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

use crate::{CallClaims, Route, SessionNumber, SharedKeys, TokenError, AUDIENCE, MAX_LIFETIME_S};

/// What the web side grants one visitor: one call, from this session, routed here.
#[derive(Debug, Clone)]
pub struct CallGrant {
    /// Web session id.
    pub session_id: String,
    /// Organisation id.
    pub org: String,
    /// Campaign public id.
    pub campaign: String,
    /// The session number (caller ID).
    pub number: SessionNumber,
    /// The origin of the page that asked.
    pub origin: String,
    /// Where the call goes (sealed into `rte`).
    pub route: Route,
}

/// Signs call tokens with the ring's current key.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    keys: SharedKeys,
    issuer: String,
    lifetime_s: i64,
}

impl TokenIssuer {
    /// How long its tokens live, seconds.
    pub fn lifetime_s(&self) -> i64 {
        self.lifetime_s
    }

    /// An issuer named `issuer` whose tokens live `lifetime_s` seconds (capped at 60).
    pub fn new(keys: impl Into<SharedKeys>, issuer: impl Into<String>, lifetime_s: i64) -> Self {
        TokenIssuer {
            keys: keys.into(),
            issuer: issuer.into(),
            lifetime_s: lifetime_s.clamp(1, MAX_LIFETIME_S),
        }
    }

    /// Mints a token for `grant` at Unix time `now`; returns the JWS and its claims.
    pub fn mint(&self, grant: &CallGrant, now: i64) -> Result<(String, CallClaims), TokenError> {
        let jti = random_id()?;
        let keys = self.keys.get();
        let rte = keys.route_key.seal(&grant.route, &jti)?;
        let claims = CallClaims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.into(),
            sub: grant.session_id.clone(),
            org: grant.org.clone(),
            cmp: grant.campaign.clone(),
            num: grant.number.clone(),
            ori: grant.origin.clone(),
            iat: now,
            nbf: now,
            exp: now + self.lifetime_s,
            jti,
            rte,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.current.kid.clone());
        let key = EncodingKey::from_ec_der(keys.current.pkcs8());
        let jws =
            encode(&header, &claims, &key).map_err(|e| TokenError::KeyStore(e.to_string()))?;
        Ok((jws, claims))
    }
}

/// 128 random bits, base64url.
fn random_id() -> Result<String, TokenError> {
    use base64::Engine;
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| TokenError::KeyStore("no randomness".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}
