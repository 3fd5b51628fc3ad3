//! Lending caller-ID numbers to web sessions: unique while lent, least recently used first.

use super::{Store, StoreError};

/// How many of the least recently used free numbers one attempt looks at, in LRU order. A
/// request that loses a number to a concurrent one moves on to the next, so the window must be
/// wider than the requests that may be in flight at once.
const CANDIDATES: i64 = 128;
/// Rounds before giving up under contention; a round only repeats when every candidate it saw
/// was taken by someone else in the meantime.
const ATTEMPTS: usize = 20;

impl Store {
    /// Makes sure every number of `campaign`'s pool has a row (a number never lent has
    /// `expires_at = 0`, so it comes first).
    pub async fn seed_pool(&self, campaign: &str, numbers: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for n in numbers {
            sqlx::query(
                "INSERT INTO number_leases (number, campaign, session_id, leased_at, expires_at) \
                 VALUES ($1, $2, NULL, 0, 0) ON CONFLICT DO NOTHING",
            )
            .bind(n.as_str())
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lends the least recently used free number of `campaign` to `session_id` until
    /// `until`; None when every number is lent.
    pub async fn lease_number(
        &self,
        campaign: &str,
        session_id: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<String>, StoreError> {
        for _ in 0..ATTEMPTS {
            let candidates: Vec<(String,)> = sqlx::query_as(
                "SELECT number FROM number_leases WHERE campaign = $1 AND expires_at <= $2 \
                 ORDER BY expires_at, number LIMIT $3",
            )
            .bind(campaign)
            .bind(now)
            .bind(CANDIDATES)
            .fetch_all(self.pool())
            .await?;
            if candidates.is_empty() {
                return Ok(None);
            }
            for (number,) in candidates {
                // Compare-and-set: only one concurrent request can move a free number.
                let won = sqlx::query(
                    "UPDATE number_leases SET session_id = $1, leased_at = $2, expires_at = $3, campaign = $4 \
                     WHERE number = $5 AND expires_at <= $2",
                )
                .bind(session_id)
                .bind(now)
                .bind(until)
                .bind(campaign)
                .bind(number.as_str())
                .execute(self.pool())
                .await?
                .rows_affected();
                if won == 1 {
                    return Ok(Some(number));
                }
            }
        }
        Ok(None)
    }

    /// Keeps `number` with `session_id` until at least `until` (the call ended: the linger
    /// starts now, so an agent can still look the caller up or call back).
    pub async fn extend_lease(
        &self,
        number: &str,
        session_id: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE number_leases SET expires_at = $1 WHERE number = $2 AND session_id = $3 AND expires_at < $1",
        )
        .bind(until)
        .bind(number)
        .bind(session_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
