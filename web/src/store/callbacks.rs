//! Callback requests left by visitors when a campaign could not take a call.

use super::{random_id, Store, StoreError};

/// A visitor's request to be called back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct CallbackRequest {
    /// Request id.
    pub id: String,
    /// Campaign public id.
    pub campaign: String,
    /// E.164 number to call back.
    pub phone: String,
    /// Name the visitor gave (may be empty).
    pub name: String,
    /// The visitor agreed to be called (1) — never stored without it.
    pub consent: i64,
    /// The visitor's IP address.
    pub ip: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl Store {
    /// Stores a callback request; returns its id.
    pub async fn insert_callback(
        &self,
        campaign: &str,
        phone: &str,
        name: &str,
        ip: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let id = random_id("cb_");
        sqlx::query(
            "INSERT INTO callback_requests (id, campaign, phone, name, consent, ip, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $6)",
        )
        .bind(id.as_str())
        .bind(campaign)
        .bind(phone)
        .bind(name)
        .bind(ip)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The callback requests of a campaign, newest first.
    pub async fn callbacks(&self, campaign: &str) -> Result<Vec<CallbackRequest>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, campaign, phone, name, consent, ip, created_at FROM callback_requests \
             WHERE campaign = $1 ORDER BY created_at DESC",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await?)
    }
}
