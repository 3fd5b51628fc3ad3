//! The calls each campaign carries now, across every node on this database: a call takes one
//! of the campaign's `max_concurrent_calls` numbered slots when it starts, atomically (the
//! primary key decides, not a count), and gives it back when it ends.

use super::{Store, StoreError};

impl Store {
    /// Takes a free slot of `campaign` (one of `0..max`) for `call_id` on `node` until
    /// `until`; None when all `max` are taken. Slots past their `expires_at` are free again.
    pub async fn claim_call_slot(
        &self,
        campaign: &str,
        call_id: &str,
        node: &str,
        max: u32,
        now: i64,
        until: i64,
    ) -> Result<Option<u32>, StoreError> {
        sqlx::query("DELETE FROM call_slots WHERE campaign = $1 AND expires_at <= $2")
            .bind(campaign)
            .bind(now)
            .execute(self.pool())
            .await?;
        let taken: std::collections::HashSet<i64> =
            sqlx::query_as::<_, (i64,)>("SELECT slot FROM call_slots WHERE campaign = $1")
                .bind(campaign)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|(s,)| s)
                .collect();
        for slot in (0..i64::from(max)).filter(|s| !taken.contains(s)) {
            // Another node may take the same slot between the read and here: the key decides.
            let won = sqlx::query(
                "INSERT INTO call_slots (campaign, slot, call_id, node, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (campaign, slot) DO NOTHING",
            )
            .bind(campaign)
            .bind(slot)
            .bind(call_id)
            .bind(node)
            .bind(until)
            .execute(self.pool())
            .await?
            .rows_affected();
            if won == 1 {
                return Ok(u32::try_from(slot).ok());
            }
        }
        Ok(None)
    }

    /// Gives back the slot of `call_id` (harmless when it has none).
    pub async fn release_call_slot(&self, campaign: &str, call_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM call_slots WHERE campaign = $1 AND call_id = $2")
            .bind(campaign)
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives back every slot `node` held: at its start, none of its calls is up any more.
    pub async fn release_node_call_slots(&self, node: &str) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM call_slots WHERE node = $1")
            .bind(node)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Calls `campaign` carries now, on every node.
    pub async fn calls_in_progress(&self, campaign: &str, now: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM call_slots WHERE campaign = $1 AND expires_at > $2",
        )
        .bind(campaign)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }
}
