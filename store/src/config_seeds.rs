//! Which config-file entries were copied into the database once (then the dashboard owns them).

use super::{Store, StoreError};

/// What a config-file entry seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    /// A `[[trunks]]` entry.
    Trunk,
    /// A `[[campaigns]]` entry.
    Campaign,
}

impl SeedKind {
    fn as_str(self) -> &'static str {
        match self {
            SeedKind::Trunk => "trunk",
            SeedKind::Campaign => "campaign",
        }
    }
}

impl Store {
    /// Whether `org`'s entry `name` was seeded before (it may have been deleted since).
    pub async fn was_seeded(
        &self,
        kind: SeedKind,
        org: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT seeded_at FROM config_seeds WHERE kind = $1 AND org = $2 AND name = $3",
        )
        .bind(kind.as_str())
        .bind(org)
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Remembers that `org`'s entry `name` has been seeded.
    pub async fn mark_seeded(
        &self,
        kind: SeedKind,
        org: &str,
        name: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config_seeds (kind, org, name, seeded_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(org)
        .bind(name)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
