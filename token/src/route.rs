//! The routing portion of a token: where the call goes, sealed so the browser can neither read
//! nor change it.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::TokenError;

/// Where a call is routed; comes only from server-side campaign data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Trunk name from the configuration.
    pub trunk: String,
    /// Callees in the order to try them: E.164 numbers, SIP user parts or `sip:` URIs.
    pub destinations: Vec<String>,
    /// Withhold the caller ID from the callee (`Privacy: id`); absent in older tokens.
    #[serde(default)]
    pub privacy: bool,
    /// The campaign's agents take the call, picked by its routing when the call starts,
    /// rather than `destinations`; absent in older tokens.
    #[serde(default)]
    pub agents: bool,
}

/// The AES-256-GCM key that seals [`Route`]s; shared by the nodes that mint and verify, never
/// given to a browser.
pub struct RouteKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteKey(..)")
    }
}

impl RouteKey {
    /// Length of the raw key, bytes.
    pub const LEN: usize = 32;

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| TokenError::KeyStore("route key must be 32 bytes".into()))?;
        Ok(RouteKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A fresh random key and its raw bytes (to store).
    pub fn generate() -> Result<(Self, [u8; 32]), TokenError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| TokenError::KeyStore("no randomness".into()))?;
        Ok((Self::from_bytes(&bytes)?, bytes))
    }

    /// Seals a route, binding it to the token's `jti` as associated data.
    pub fn seal(&self, route: &Route, jti: &str) -> Result<String, TokenError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| TokenError::KeyStore("no randomness".into()))?;
        let mut buf = serde_json::to_vec(route).map_err(|e| TokenError::KeyStore(e.to_string()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(jti.as_bytes()),
                &mut buf,
            )
            .map_err(|_| TokenError::KeyStore("seal failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a sealed route; fails unless it was sealed by this key for this `jti`.
    pub fn open(&self, sealed: &str, jti: &str) -> Result<Route, TokenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| TokenError::Route)?;
        if raw.len() < NONCE_LEN {
            return Err(TokenError::Route);
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TokenError::Route)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(jti.as_bytes()), &mut buf)
            .map_err(|_| TokenError::Route)?;
        let route: Route = serde_json::from_slice(plain).map_err(|_| TokenError::Route)?;
        // Sealed by us, but a route that names nobody can only be a bug: refuse it here.
        match route.destinations.is_empty() && !route.agents {
            true => Err(TokenError::Route),
            false => Ok(route),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> Route {
        Route {
            trunk: "main".into(),
            destinations: vec!["+15551234567".into(), "sip:agent@pbx.example".into()],
            privacy: false,
            agents: false,
        }
    }

    #[test]
    fn a_sealed_route_opens_with_the_same_jti() {
        let (key, _) = RouteKey::generate().expect("key");
        let sealed = key.seal(&route(), "j1").expect("seal");
        assert_eq!(key.open(&sealed, "j1").expect("open"), route());
    }

    #[test]
    fn a_route_names_destinations_or_the_agents() {
        let (key, _) = RouteKey::generate().expect("key");
        let nobody = Route {
            destinations: Vec::new(),
            ..route()
        };
        let sealed = key.seal(&nobody, "j1").expect("seal");
        assert_eq!(key.open(&sealed, "j1"), Err(TokenError::Route));
        let agents = Route {
            agents: true,
            ..nobody
        };
        let sealed = key.seal(&agents, "j1").expect("seal");
        assert_eq!(key.open(&sealed, "j1").expect("open"), agents);
    }

    #[test]
    fn a_route_moved_to_another_token_does_not_open() {
        let (key, _) = RouteKey::generate().expect("key");
        let sealed = key.seal(&route(), "j1").expect("seal");
        assert_eq!(key.open(&sealed, "j2"), Err(TokenError::Route));
    }

    #[test]
    fn a_flipped_bit_or_foreign_key_does_not_open() {
        let (key, _) = RouteKey::generate().expect("key");
        let (other, _) = RouteKey::generate().expect("key");
        let sealed = key.seal(&route(), "j1").expect("seal");
        assert_eq!(other.open(&sealed, "j1"), Err(TokenError::Route));
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).expect("b64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            key.open(&URL_SAFE_NO_PAD.encode(raw), "j1"),
            Err(TokenError::Route)
        );
        assert_eq!(key.open("!!", "j1"), Err(TokenError::Route));
        assert_eq!(key.open("", "j1"), Err(TokenError::Route));
    }
}
