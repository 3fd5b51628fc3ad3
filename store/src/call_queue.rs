//! The calls waiting for an agent, across every node: one row per waiting call; a call's
//! place is computed from the rows, so every node sees the same line.

use super::{Store, StoreError};

impl Store {
    /// Puts `call_id` in `campaign`'s queue (a call already in it keeps its place and
    /// priority), waiting from `since_ms` until `until_s` at the latest.
    pub async fn enqueue_call(
        &self,
        campaign: &str,
        call_id: &str,
        node: &str,
        priority: i64,
        since_ms: i64,
        until_s: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO call_queue (call_id, campaign, node, priority, since, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(call_id)
        .bind(campaign)
        .bind(node)
        .bind(priority)
        .bind(since_ms)
        .bind(until_s)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// `call_id`'s place in its queue (1 is next), counting only calls still waiting at
    /// `now_s`; None when it is not queued.
    pub async fn queue_position(
        &self,
        call_id: &str,
        now_s: i64,
    ) -> Result<Option<u32>, StoreError> {
        let ahead: Option<(i64,)> = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM call_queue o WHERE o.campaign = me.campaign \
               AND o.expires_at > $2 AND (o.priority > me.priority \
               OR (o.priority = me.priority AND (o.since < me.since \
               OR (o.since = me.since AND o.call_id < me.call_id))))) \
             FROM call_queue me WHERE me.call_id = $1",
        )
        .bind(call_id)
        .bind(now_s)
        .fetch_optional(self.pool())
        .await?;
        Ok(ahead.map(|(n,)| u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1)))
    }

    /// Calls waiting in `campaign`'s queue at `now_s`.
    pub async fn queue_length(&self, campaign: &str, now_s: i64) -> Result<u32, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM call_queue WHERE campaign = $1 AND expires_at > $2",
        )
        .bind(campaign)
        .bind(now_s)
        .fetch_one(self.pool())
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Takes `call_id` out of its queue (harmless when it is not in one).
    pub async fn dequeue_call(&self, call_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM call_queue WHERE call_id = $1")
            .bind(call_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes every call of `node` out of the queues: at its start, none of them waits on.
    pub async fn release_node_queue(&self, node: &str) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM call_queue WHERE node = $1")
            .bind(node)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
