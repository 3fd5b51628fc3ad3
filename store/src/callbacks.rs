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

/// A stored callback request and when it was done.
type CallbackRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

impl Store {
    /// The callback requests of a campaign with their done time, newest first (dashboard).
    pub async fn callbacks_with_state(
        &self,
        campaign: &str,
    ) -> Result<Vec<(CallbackRequest, Option<i64>)>, StoreError> {
        let rows: Vec<CallbackRow> = sqlx::query_as(
            "SELECT id, campaign, phone, name, consent, ip, created_at, done_at \
                 FROM callback_requests WHERE campaign = $1 ORDER BY created_at DESC",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let req = CallbackRequest {
                    id: r.0,
                    campaign: r.1,
                    phone: r.2,
                    name: r.3,
                    consent: r.4,
                    ip: r.5,
                    created_at: r.6,
                };
                (req, r.7)
            })
            .collect())
    }

    /// Marks a callback request of `campaign` done; false when there is no such request.
    pub async fn mark_callback_done(
        &self,
        id: &str,
        campaign: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE callback_requests SET done_at = $1 WHERE id = $2 AND campaign = $3 \
             AND done_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(campaign)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The campaign a callback request belongs to.
    pub async fn callback_campaign(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT campaign FROM callback_requests WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}
