//! How long a campaign's answered calls lasted lately: the handle time behind the wait a
//! visitor is told when nobody is free.

use super::{Store, StoreError};

/// A campaign's answered calls that ended in a period, and how long they lasted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HandleStats {
    /// Answered calls that ended in the period.
    pub answered: i64,
    /// Their mean talk time (answer to end), seconds; None without one.
    pub avg_handle_s: Option<f64>,
}

impl Store {
    /// The calls of `campaign` (public id) answered and ended at or after `since_s` (Unix
    /// seconds), and their mean answer-to-end time. A record whose end reads before its
    /// answer (clocks of two nodes) is left out rather than counted as negative.
    ///
    /// No index covers `calls (campaign, ended_at)`: callers should cache the answer (the web
    /// role asks at most every half minute per campaign).
    pub async fn campaign_handle_stats(
        &self,
        campaign: &str,
        since_s: i64,
    ) -> Result<HandleStats, StoreError> {
        let (answered, total): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(ended_at - answered_at) AS BIGINT) FROM calls \
             WHERE campaign = $1 AND answered_at IS NOT NULL AND ended_at IS NOT NULL \
             AND ended_at >= $2 AND ended_at >= answered_at",
        )
        .bind(campaign)
        .bind(since_s)
        .fetch_one(self.pool())
        .await?;
        let avg_handle_s = match (answered, total) {
            (n, Some(total)) if n > 0 => Some(total as f64 / n as f64),
            _ => None,
        };
        Ok(HandleStats {
            answered,
            avg_handle_s,
        })
    }
}
