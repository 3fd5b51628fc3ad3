//! Call detail records and their event timelines (incl. the SIP messages of the ladder).

use super::{Store, StoreError};

/// What is known when a call starts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewCall {
    /// Call id.
    pub id: String,
    /// Organisation of the campaign.
    pub org: String,
    /// Campaign public id.
    pub campaign: String,
    /// The web session (token `sub`).
    pub session_id: String,
    /// The session number presented as caller ID.
    pub number: String,
    /// The callee.
    pub destination: String,
    /// Trunk name.
    pub trunk: String,
    /// SIP Call-ID of the trunk leg (may be empty until known).
    pub sip_call_id: String,
    /// Unix seconds.
    pub started_at: i64,
    /// The gateway node carrying the call (see [`Store::close_interrupted_calls`]).
    pub node: String,
}

/// A call detail record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallRecord {
    /// Call id.
    pub id: String,
    /// Organisation.
    pub org: String,
    /// Campaign public id.
    pub campaign: String,
    /// Web session id.
    pub session_id: String,
    /// Session number (caller ID).
    pub number: String,
    /// Callee.
    pub destination: String,
    /// Trunk name.
    pub trunk: String,
    /// SIP Call-ID of the trunk leg.
    pub sip_call_id: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, when answered.
    pub answered_at: Option<i64>,
    /// Unix seconds, when ended.
    pub ended_at: Option<i64>,
    /// Why it ended (the signalling `ended` reason); None while in progress.
    pub disposition: Option<String>,
    /// Final SIP status from the trunk, if any.
    pub sip_status: Option<i64>,
}

impl CallRecord {
    /// Seconds from answer to end, for answered calls that ended.
    pub fn talk_seconds(&self) -> Option<i64> {
        Some(self.ended_at? - self.answered_at?)
    }
}

/// One entry of a call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallEvent {
    /// Order within the call.
    pub seq: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `state`, `sip_out` (sent to the trunk), `sip_in` (received from it), `sip_truncated`,
    /// `error`, `end`...
    pub kind: String,
    /// Free text: the state, the whole SIP message, the reason.
    pub detail: String,
    /// For SIP messages, the trunk address (`ip:port`) it went to or came from; else empty.
    pub peer: String,
}

/// Which calls a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Started at or after (Unix seconds).
    pub from: Option<i64>,
    /// Started before (Unix seconds).
    pub until: Option<i64>,
    /// Campaign public id.
    pub campaign: Option<String>,
    /// Disposition; `in_progress` for calls that have not ended.
    pub disposition: Option<String>,
}

/// Figures for the overview page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls started in the period.
    pub calls: i64,
    /// Of which answered.
    pub answered: i64,
    /// Total seconds of answered calls that ended.
    pub talk_seconds: i64,
}

const COLUMNS: &str = "id, org, campaign, session_id, number, destination, trunk, sip_call_id, \
                       started_at, answered_at, ended_at, disposition, sip_status";

impl Store {
    /// One call of an organisation.
    pub async fn call(&self, org: &str, id: &str) -> Result<Option<CallRecord>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM calls WHERE org = $1 AND id = $2"
        )))
        .bind(org)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A call's timeline in order.
    pub async fn call_events(&self, call_id: &str) -> Result<Vec<CallEvent>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, at_ms, kind, detail, peer FROM call_events WHERE call_id = $1 \
             ORDER BY seq",
        )
        .bind(call_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// An organisation's calls matching `filter`, newest first, `limit` from `offset`.
    pub async fn calls(
        &self,
        org: &str,
        filter: &CallFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<CallRecord>, StoreError> {
        // Unset filters bind values that match everything, so the statement stays fixed.
        let in_progress = filter.disposition.as_deref() == Some("in_progress");
        let disposition = if in_progress {
            None
        } else {
            filter.disposition.clone()
        };
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM calls WHERE org = $1 AND started_at >= $2 AND started_at < $3 \
             AND ($4 = '' OR campaign = $4) AND ($5 = '' OR disposition = $5) \
             AND ($6 = 0 OR ended_at IS NULL) \
             ORDER BY started_at DESC, id LIMIT $7 OFFSET $8"
        )))
        .bind(org)
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.until.unwrap_or(i64::MAX))
        .bind(filter.campaign.clone().unwrap_or_default())
        .bind(disposition.unwrap_or_default())
        .bind(i64::from(in_progress))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?)
    }

    /// Calls of an organisation that have not ended, oldest first.
    pub async fn live_calls(&self, org: &str) -> Result<Vec<CallRecord>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM calls WHERE org = $1 AND ended_at IS NULL \
             ORDER BY started_at, id"
        )))
        .bind(org)
        .fetch_all(self.pool())
        .await?)
    }

    /// Counts and talk time of the calls an organisation started in `[from, until)`.
    pub async fn call_stats(
        &self,
        org: &str,
        from: i64,
        until: i64,
    ) -> Result<CallStats, StoreError> {
        let (calls, answered, talk): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), \
             CAST(SUM(CASE WHEN answered_at IS NULL THEN 0 ELSE 1 END) AS BIGINT), \
             CAST(SUM(CASE WHEN answered_at IS NULL OR ended_at IS NULL THEN 0 \
                 ELSE ended_at - answered_at END) AS BIGINT) \
             FROM calls WHERE org = $1 AND started_at >= $2 AND started_at < $3",
        )
        .bind(org)
        .bind(from)
        .bind(until)
        .fetch_one(self.pool())
        .await?;
        Ok(CallStats {
            calls,
            answered: answered.unwrap_or(0),
            talk_seconds: talk.unwrap_or(0),
        })
    }

    /// Calls started per UTC day `[from, from + days * 86400)`: one count per day.
    pub async fn calls_per_day(
        &self,
        org: &str,
        from: i64,
        days: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let until = from + 86_400 * days as i64;
        let starts: Vec<(i64,)> = sqlx::query_as(
            "SELECT started_at FROM calls WHERE org = $1 AND started_at >= $2 AND started_at < $3",
        )
        .bind(org)
        .bind(from)
        .bind(until)
        .fetch_all(self.pool())
        .await?;
        let mut per_day = vec![0i64; days];
        for (t,) in starts {
            if let Some(n) = usize::try_from((t - from) / 86_400)
                .ok()
                .and_then(|d| per_day.get_mut(d))
            {
                *n += 1;
            }
        }
        Ok(per_day)
    }
}
