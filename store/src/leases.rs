//! Lending caller-ID numbers to web sessions: unique while lent, least recently used first.

use c2c_token::SessionNumber;

use super::{Store, StoreError};

/// How many of the least recently used free numbers one attempt looks at, in LRU order. A
/// request that loses a number to a concurrent one moves on to the next, so the window must be
/// wider than the requests that may be in flight at once.
const CANDIDATES: i64 = 128;
/// Rounds before giving up under contention; a round only repeats when every candidate it saw
/// was taken by someone else in the meantime.
const ATTEMPTS: usize = 20;
/// The campaign of a number no pool holds any more: no campaign lends it, while the lease of
/// the session that has it runs out (public ids are never empty).
const RETIRED: &str = "";

impl Store {
    /// Makes the lendable numbers of `campaign` exactly `numbers`: new ones get a row (a
    /// number never lent has `expires_at = 0`, so it comes first), numbers dropped from the
    /// pool are retired (a session holding one keeps it until its lease ends, but it is never
    /// lent again), and a retired number put back returns. Only the difference is written, so
    /// reloading an unchanged pool costs one read.
    pub async fn seed_pool(
        &self,
        campaign: &str,
        numbers: &[SessionNumber],
    ) -> Result<(), StoreError> {
        let held: std::collections::HashSet<String> =
            sqlx::query_as::<_, (String,)>("SELECT number FROM number_leases WHERE campaign = $1")
                .bind(campaign)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|(n,)| n)
                .collect();
        let wanted: std::collections::HashSet<&str> =
            numbers.iter().map(SessionNumber::as_str).collect();
        let mut tx = self.pool().begin().await?;
        for n in numbers.iter().filter(|n| !held.contains(n.as_str())) {
            // A number another campaign holds stays with it; a retired one is taken back.
            sqlx::query(
                "INSERT INTO number_leases (number, campaign, session_id, leased_at, expires_at) \
                 VALUES ($1, $2, NULL, 0, 0) \
                 ON CONFLICT (number) DO UPDATE SET campaign = excluded.campaign \
                 WHERE number_leases.campaign = $3",
            )
            .bind(n.as_str())
            .bind(campaign)
            .bind(RETIRED)
            .execute(&mut *tx)
            .await?;
        }
        for n in held.iter().filter(|n| !wanted.contains(n.as_str())) {
            sqlx::query(
                "UPDATE number_leases SET campaign = $1 WHERE number = $2 AND campaign = $3",
            )
            .bind(RETIRED)
            .bind(n.as_str())
            .bind(campaign)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Lends the least recently used free number of `campaign` to `session_id` until
    /// `until`, as a pending lease of `client` (a token not used yet); None when every number
    /// is lent.
    pub async fn lease_number(
        &self,
        campaign: &str,
        session_id: &str,
        client: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<SessionNumber>, StoreError> {
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
                    "UPDATE number_leases SET session_id = $1, leased_at = $2, expires_at = $3, \
                     campaign = $4, pending_client = $5 WHERE number = $6 AND expires_at <= $2",
                )
                .bind(session_id)
                .bind(now)
                .bind(until)
                .bind(campaign)
                .bind(client)
                .bind(number.as_str())
                .execute(self.pool())
                .await?
                .rows_affected();
                if won == 1 {
                    return SessionNumber::parse(&number).map(Some).map_err(|e| {
                        StoreError::Corrupt {
                            table: "number_leases",
                            key: number,
                            problem: e.to_string(),
                        }
                    });
                }
            }
        }
        Ok(None)
    }

    /// Unexpired pending leases (tokens whose call has not started) of `campaign`, all of
    /// them or only those of `client`.
    pub async fn pending_leases(
        &self,
        campaign: &str,
        client: Option<&str>,
        now: i64,
    ) -> Result<i64, StoreError> {
        const ALL: &str = "SELECT COUNT(*) FROM number_leases WHERE campaign = $1 \
             AND expires_at > $2 AND pending_client IS NOT NULL";
        const ONE: &str = "SELECT COUNT(*) FROM number_leases WHERE campaign = $1 \
             AND expires_at > $2 AND pending_client = $3";
        let query = sqlx::query_as(if client.is_some() { ONE } else { ALL })
            .bind(campaign)
            .bind(now);
        let query = match client {
            Some(c) => query.bind(c),
            None => query,
        };
        let (n,): (i64,) = query.fetch_one(self.pool()).await?;
        Ok(n)
    }

    /// The call of `session_id` has started: its number is no longer pending and stays with
    /// it until `until` (the longest a call may last plus the linger). False when the lease
    /// had already ended.
    pub async fn start_lease(
        &self,
        number: &SessionNumber,
        session_id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE number_leases SET expires_at = $1, pending_client = NULL \
             WHERE number = $2 AND session_id = $3 AND expires_at > $4",
        )
        .bind(until)
        .bind(number.as_str())
        .bind(session_id)
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The call ended: `number` stays with `session_id` until exactly `until` (the linger, so
    /// an agent can still look the caller up or call back), then it is free.
    pub async fn linger_lease(
        &self,
        number: &SessionNumber,
        session_id: &str,
        until: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE number_leases SET expires_at = $1, pending_client = NULL \
             WHERE number = $2 AND session_id = $3",
        )
        .bind(until)
        .bind(number.as_str())
        .bind(session_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
