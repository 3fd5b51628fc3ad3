//! Signing keys: generation, the on-disk key file, and the public JWKS.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::{RouteKey, TokenError};

/// An ES256 (P-256) signing key with its id.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, published in the JWS header and the JWKS.
    pub kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

impl SigningKey {
    /// A fresh random P-256 key.
    pub fn generate() -> Result<Self, TokenError> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| TokenError::KeyStore("key generation failed".into()))?;
        let mut kid = [0u8; 9];
        aws_lc_rs::rand::fill(&mut kid)
            .map_err(|_| TokenError::KeyStore("no randomness".into()))?;
        Self::from_pkcs8(URL_SAFE_NO_PAD.encode(kid), doc.as_ref())
    }

    /// A key from its PKCS#8 DER.
    pub fn from_pkcs8(kid: String, pkcs8: &[u8]) -> Result<Self, TokenError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| TokenError::KeyStore(format!("key {kid} is not a P-256 PKCS#8 key")))?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(SigningKey {
            kid,
            pkcs8: pkcs8.to_vec(),
            public,
        })
    }

    /// PKCS#8 DER of the private key (for the signer).
    pub(crate) fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The uncompressed public point (for the verifier).
    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        let (x, y) = if self.public.len() == 65 {
            (&self.public[1..33], &self.public[33..65])
        } else {
            (&[][..], &[][..])
        };
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            alg: "ES256".into(),
            use_: "sig".into(),
            kid: self.kid.clone(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
        }
    }
}

/// One public key as published at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub kid: String,
    pub x: String,
    pub y: String,
}

/// The JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// How long a replaced signing key still verifies tokens (and stays in the JWKS): well beyond a
/// token's 60 s lifetime, so no token minted before a rotation is refused after it.
pub const KEY_OVERLAP_S: i64 = 10 * 60;

/// All keys of a node: the signing key in use, older keys still accepted, and the route key.
#[derive(Debug)]
pub struct KeyRing {
    /// Signs new tokens.
    pub current: SigningKey,
    /// Verify tokens by `kid`; includes `current`.
    pub accepted: BTreeMap<String, SigningKey>,
    /// Seals and opens routing portions.
    pub route_key: RouteKey,
}

/// The key ring in use, replaceable while the server runs (after `c2c keys rotate`).
#[derive(Debug, Clone)]
pub struct SharedKeys(Arc<RwLock<Arc<KeyRing>>>);

impl SharedKeys {
    /// The ring in use now.
    pub fn get(&self) -> Arc<KeyRing> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts a reloaded ring in use.
    pub fn set(&self, ring: KeyRing) {
        let ring = Arc::new(ring);
        match self.0.write() {
            Ok(mut g) => *g = ring,
            Err(p) => *p.into_inner() = ring,
        }
    }
}

impl From<Arc<KeyRing>> for SharedKeys {
    fn from(ring: Arc<KeyRing>) -> Self {
        SharedKeys(Arc::new(RwLock::new(ring)))
    }
}

impl From<KeyRing> for SharedKeys {
    fn from(ring: KeyRing) -> Self {
        Arc::new(ring).into()
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    current: String,
    signing: Vec<StoredKey>,
    route_key: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    pkcs8: String,
    /// Unix seconds when it stopped signing; absent for the current key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<i64>,
}

impl KeyRing {
    /// A ring with fresh keys, not stored anywhere (tests, benchmarks).
    pub fn generate() -> Result<Self, TokenError> {
        let current = SigningKey::generate()?;
        let (route_key, _) = RouteKey::generate()?;
        let accepted = BTreeMap::from([(current.kid.clone(), current.clone())]);
        Ok(KeyRing {
            current,
            accepted,
            route_key,
        })
    }

    /// Loads the key file at `path` as of Unix time `now`, or creates it (mode 0600) with
    /// fresh keys.
    pub fn load_or_create(path: &Path, now: i64) -> Result<Self, TokenError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::from_file(&bytes, now)
                .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let current = SigningKey::generate()?;
                let (_, raw) = RouteKey::generate()?;
                let file = KeyFile {
                    current: current.kid.clone(),
                    signing: vec![StoredKey {
                        kid: current.kid.clone(),
                        pkcs8: STANDARD.encode(current.pkcs8()),
                        retired_at: None,
                    }],
                    route_key: STANDARD.encode(raw),
                };
                write_private(path, &file)?;
                Self::load_or_create(path, now)
            }
            Err(e) => Err(TokenError::KeyStore(format!("{}: {e}", path.display()))),
        }
    }

    /// Replaces the signing key in the key file at `path`: the old key keeps verifying for
    /// [`KEY_OVERLAP_S`], keys retired longer ago are dropped. Returns the new key id.
    pub fn rotate(path: &Path, now: i64) -> Result<String, TokenError> {
        let bytes = std::fs::read(path)
            .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display())))?;
        let mut file: KeyFile =
            serde_json::from_slice(&bytes).map_err(|e| TokenError::KeyStore(e.to_string()))?;
        for k in &mut file.signing {
            if k.kid == file.current {
                k.retired_at.get_or_insert(now);
            }
        }
        file.signing
            .retain(|k| k.retired_at.is_none_or(|r| r + KEY_OVERLAP_S > now));
        let next = SigningKey::generate()?;
        file.signing.push(StoredKey {
            kid: next.kid.clone(),
            pkcs8: STANDARD.encode(next.pkcs8()),
            retired_at: None,
        });
        file.current = next.kid.clone();
        // Write beside, then rename: a crash never leaves a half-written key file.
        let tmp = path.with_extension("json.new");
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &file)?;
        std::fs::rename(&tmp, path)
            .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display())))?;
        Ok(next.kid)
    }

    fn from_file(bytes: &[u8], now: i64) -> Result<Self, TokenError> {
        let file: KeyFile =
            serde_json::from_slice(bytes).map_err(|e| TokenError::KeyStore(e.to_string()))?;
        let mut accepted = BTreeMap::new();
        for k in file.signing {
            if k.retired_at.is_some_and(|r| r + KEY_OVERLAP_S <= now) {
                continue;
            }
            let der = STANDARD
                .decode(&k.pkcs8)
                .map_err(|_| TokenError::KeyStore(format!("key {} is not base64", k.kid)))?;
            let key = SigningKey::from_pkcs8(k.kid.clone(), &der)?;
            accepted.insert(k.kid, key);
        }
        let current = accepted
            .get(&file.current)
            .cloned()
            .ok_or_else(|| TokenError::KeyStore("current key missing from file".into()))?;
        let raw = STANDARD
            .decode(&file.route_key)
            .map_err(|_| TokenError::KeyStore("route_key is not base64".into()))?;
        let route_key = RouteKey::from_bytes(&raw)?;
        Ok(KeyRing {
            current,
            accepted,
            route_key,
        })
    }

    /// The public keys to publish.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.accepted.values().map(SigningKey::jwk).collect(),
        }
    }
}

fn write_private(path: &Path, file: &KeyFile) -> Result<(), TokenError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let json = serde_json::to_vec_pretty(file).map_err(|e| TokenError::KeyStore(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| TokenError::KeyStore(format!("{}: {e}", dir.display())))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display())))?;
    f.write_all(&json)
        .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_private_and_reloads_to_the_same_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("c2c-keys-{}", std::process::id()));
        let path = dir.join("keys.json");
        let _ = std::fs::remove_file(&path);
        let a = KeyRing::load_or_create(&path, 1000).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = KeyRing::load_or_create(&path, 1000).expect("reload");
        assert_eq!(a.current.kid, b.current.kid);
        assert_eq!(a.jwks(), b.jwks());
        let jwk = &a.jwks().keys[0];
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.x).expect("x").len(), 32);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_rotated_key_keeps_verifying_through_the_overlap_then_leaves() {
        let dir = std::env::temp_dir().join(format!("c2c-rotate-{}", std::process::id()));
        let path = dir.join("keys.json");
        let _ = std::fs::remove_dir_all(&dir);
        let old = KeyRing::load_or_create(&path, 1000)
            .expect("create")
            .current
            .kid;
        let new = KeyRing::rotate(&path, 2000).expect("rotate");
        assert_ne!(old, new);
        let during = KeyRing::load_or_create(&path, 2000 + KEY_OVERLAP_S - 1).expect("load");
        assert_eq!(during.current.kid, new);
        assert!(during.accepted.contains_key(&old), "old key still verifies");
        assert_eq!(during.jwks().keys.len(), 2);
        let after = KeyRing::load_or_create(&path, 2000 + KEY_OVERLAP_S).expect("load");
        assert!(!after.accepted.contains_key(&old), "old key retired");
        // A second rotation drops the long-retired key from the file.
        KeyRing::rotate(&path, 2000 + KEY_OVERLAP_S + 1).expect("rotate again");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains(&old));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
