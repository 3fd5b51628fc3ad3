//! Campaign settings as stored: one JSON document per campaign, scoped by organisation.

use super::{Store, StoreError};

/// A stored campaign: its id, organisation and settings (JSON of `CampaignConfig`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CampaignRow {
    /// Public id.
    pub public_id: String,
    /// Owning organisation.
    pub org: String,
    /// Settings as JSON.
    pub config: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

impl Store {
    /// Stores a campaign from the config file unless it exists (the dashboard owns it then).
    pub async fn seed_campaign(
        &self,
        public_id: &str,
        org: &str,
        config: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO campaigns (public_id, org, config, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(public_id)
        .bind(org)
        .bind(config)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Creates a campaign for `org`; false when the public id is taken (by any organisation).
    pub async fn create_campaign(
        &self,
        public_id: &str,
        org: &str,
        config: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.seed_campaign(public_id, org, config, now).await
    }

    /// Replaces the settings of `org`'s campaign; false when it has no such campaign.
    pub async fn update_campaign(
        &self,
        public_id: &str,
        org: &str,
        config: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE campaigns SET config = $1, updated_at = $2 WHERE public_id = $3 AND org = $4",
        )
        .bind(config)
        .bind(now)
        .bind(public_id)
        .bind(org)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every stored campaign.
    pub async fn campaign_rows(&self) -> Result<Vec<CampaignRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT public_id, org, config, updated_at FROM campaigns ORDER BY public_id",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
