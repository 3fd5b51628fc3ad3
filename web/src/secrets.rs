//! Secrets at rest (trunk passwords): AES-256-GCM with a key kept in a file of the data dir
//! (mode 0600), so a database dump alone reveals no password. Every node sharing the
//! database needs the same key file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Prefix of a sealed value: format version, so the scheme can change later.
const PREFIX: &str = "v1:";

/// Why a secret could not be sealed, opened, or the key loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key file could not be read or written, or holds no valid key.
    #[error("secret key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The sealed value was not sealed by this key for this owner, or is damaged.
    #[error("a stored secret does not open with this key (wrong key file, or damaged)")]
    Open,
    /// No randomness or the cipher failed.
    #[error("sealing a secret failed")]
    Seal,
}

/// The key that seals secrets; cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box with a fresh random key that is not stored anywhere (tests, tools).
    pub fn ephemeral() -> Result<SecretBox, SecretError> {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| SecretError::Seal)?;
        Self::from_bytes(&raw).ok_or(SecretError::Seal)
    }

    /// Reads the key at `path`, creating it (32 random bytes, base64, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, SecretError> {
        let err = |reason: String| SecretError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let raw = STANDARD
                    .decode(text.trim())
                    .map_err(|_| err("not base64".into()))?;
                Self::from_bytes(&raw).ok_or_else(|| err("not a 32-byte key".into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut raw = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut raw)
                    .map_err(|_| SecretError::Seal)?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
                }
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| err(e.to_string()))?;
                f.write_all(STANDARD.encode(raw).as_bytes())
                    .map_err(|e| err(e.to_string()))?;
                Self::from_bytes(&raw).ok_or(SecretError::Seal)
            }
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn from_bytes(raw: &[u8]) -> Option<SecretBox> {
        let unbound = UnboundKey::new(&AES_256_GCM, raw).ok()?;
        Some(SecretBox {
            key: Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// Seals `plain` for `owner` (associated data: a sealed value moved to another row
    /// does not open).
    pub fn seal(&self, owner: &str, plain: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Seal)?;
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Opens what [`SecretBox::seal`] made for `owner`.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<String, SecretError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|r| r.len() >= NONCE_LEN)
            .ok_or(SecretError::Open)?;
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_for_their_owner_and_key() {
        let b = SecretBox::ephemeral().expect("box");
        let sealed = b.seal("org/main", "hunter2").expect("seal");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(b.open("org/main", &sealed).expect("open"), "hunter2");
        assert!(b.open("org/other", &sealed).is_err());
        let other = SecretBox::ephemeral().expect("box");
        assert!(other.open("org/main", &sealed).is_err());
        assert!(b.open("org/main", "v1:AAAA").is_err());
    }

    #[test]
    fn the_key_file_is_private_and_reloads() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secrets.key");
        let b = SecretBox::load_or_create(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = b.seal("o/t", "pw").expect("seal");
        let again = SecretBox::load_or_create(&path).expect("load");
        assert_eq!(again.open("o/t", &sealed).expect("open"), "pw");
    }
}
