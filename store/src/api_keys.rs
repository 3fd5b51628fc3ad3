//! API keys for server-to-server calls (`Authorization: Bearer c2c_<id>_<secret>`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{random_id, Store, StoreError};

/// A freshly created key: the only time its secret is seen.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Key id (public).
    pub id: String,
    /// The whole bearer token to hand out.
    pub token: String,
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Creates an API key for `org`; the secret is shown once and only its hash is stored.
    pub async fn create_api_key(
        &self,
        org: &str,
        label: &str,
        now: i64,
    ) -> Result<NewApiKey, StoreError> {
        let id = random_id("");
        let secret = random_id("");
        sqlx::query(
            "INSERT INTO api_keys (id, org, label, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(org)
        .bind(label)
        .bind(sha256_hex(&secret))
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(NewApiKey {
            token: format!("c2c_{id}_{secret}"),
            id,
        })
    }

    /// The organisation of a valid, unrevoked bearer token.
    pub async fn api_key_org(&self, token: &str) -> Result<Option<String>, StoreError> {
        let Some((id, secret)) = token.strip_prefix("c2c_").and_then(|t| t.split_once('_')) else {
            return Ok(None);
        };
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT org, secret_sha256 FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|(org, hash)| {
            bool::from(hash.as_bytes().ct_eq(sha256_hex(secret).as_bytes())).then_some(org)
        }))
    }
}

/// An API key as the dashboard lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyInfo {
    /// Key id.
    pub id: String,
    /// What it is for.
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

impl Store {
    /// The API keys of an organisation, newest first.
    pub async fn api_keys(&self, org: &str) -> Result<Vec<ApiKeyInfo>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, label, created_at, revoked_at FROM api_keys WHERE org = $1 \
             ORDER BY created_at DESC, id",
        )
        .bind(org)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes an API key of `org`; false when it has no such (unrevoked) key.
    pub async fn revoke_api_key(&self, org: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND org = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(org)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
