//! Trunk settings as stored: one JSON document per trunk (password left out) and the sealed
//! password, keyed by organisation and name.

use super::{Store, StoreError};

/// A stored trunk.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TrunkRow {
    /// Owning organisation.
    pub org: String,
    /// Name, unique within the organisation.
    pub name: String,
    /// Settings as JSON (a `TrunkConfig` without its password).
    pub config: String,
    /// The password sealed by `SecretBox`, or empty.
    pub secret: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// How an update treats the stored password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUpdate<'a> {
    /// Keep the stored one (the form's password field was left blank).
    Keep,
    /// Replace it with this sealed value ('' removes it).
    Set(&'a str),
}

impl Store {
    /// Stores a trunk unless `org` has one of that name; false when it had.
    pub async fn create_trunk(&self, row: &TrunkRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO trunks (org, name, config, secret, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&row.org)
        .bind(&row.name)
        .bind(&row.config)
        .bind(&row.secret)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the settings (and, as told, the password) of `org`'s trunk; false when it
    /// has no such trunk.
    pub async fn update_trunk(
        &self,
        org: &str,
        name: &str,
        config: &str,
        secret: SecretUpdate<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = match secret {
            SecretUpdate::Keep => sqlx::query(
                "UPDATE trunks SET config = $1, updated_at = $2 WHERE org = $3 AND name = $4",
            )
            .bind(config)
            .bind(now)
            .bind(org)
            .bind(name),
            SecretUpdate::Set(sealed) => sqlx::query(
                "UPDATE trunks SET config = $1, updated_at = $2, secret = $5 \
                 WHERE org = $3 AND name = $4",
            )
            .bind(config)
            .bind(now)
            .bind(org)
            .bind(name)
            .bind(sealed),
        }
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes `org`'s trunk; false when it has no such trunk.
    pub async fn delete_trunk(&self, org: &str, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM trunks WHERE org = $1 AND name = $2")
            .bind(org)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `org`'s trunk of this name.
    pub async fn trunk(&self, org: &str, name: &str) -> Result<Option<TrunkRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT org, name, config, secret, updated_at FROM trunks WHERE org = $1 AND name = $2",
        )
        .bind(org)
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// `org`'s trunks by name.
    pub async fn org_trunks(&self, org: &str) -> Result<Vec<TrunkRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT org, name, config, secret, updated_at FROM trunks WHERE org = $1 ORDER BY name",
        )
        .bind(org)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every organisation's trunks (the SBC's whole set), by organisation and name.
    pub async fn all_trunks(&self) -> Result<Vec<TrunkRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT org, name, config, secret, updated_at FROM trunks ORDER BY org, name",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
