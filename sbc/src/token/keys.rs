//! Signing keys: generation, the on-disk key file, and the public JWKS.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{RouteKey, TokenError};

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

    /// Loads the key file at `path`, or creates it (mode 0600) with fresh keys.
    pub fn load_or_create(path: &Path) -> Result<Self, TokenError> {
        match std::fs::read(path) {
            Ok(bytes) => Self::from_file(&bytes)
                .map_err(|e| TokenError::KeyStore(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let current = SigningKey::generate()?;
                let (route_key, raw) = RouteKey::generate()?;
                let file = KeyFile {
                    current: current.kid.clone(),
                    signing: vec![StoredKey {
                        kid: current.kid.clone(),
                        pkcs8: STANDARD.encode(current.pkcs8()),
                    }],
                    route_key: STANDARD.encode(raw),
                };
                write_private(path, &file)?;
                let accepted = BTreeMap::from([(current.kid.clone(), current.clone())]);
                Ok(KeyRing {
                    current,
                    accepted,
                    route_key,
                })
            }
            Err(e) => Err(TokenError::KeyStore(format!("{}: {e}", path.display()))),
        }
    }

    fn from_file(bytes: &[u8]) -> Result<Self, TokenError> {
        let file: KeyFile =
            serde_json::from_slice(bytes).map_err(|e| TokenError::KeyStore(e.to_string()))?;
        let mut accepted = BTreeMap::new();
        for k in file.signing {
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
        let a = KeyRing::load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = KeyRing::load_or_create(&path).expect("reload");
        assert_eq!(a.current.kid, b.current.kid);
        assert_eq!(a.jwks(), b.jwks());
        let jwk = &a.jwks().keys[0];
        assert_eq!(URL_SAFE_NO_PAD.decode(&jwk.x).expect("x").len(), 32);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
