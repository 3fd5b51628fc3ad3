//! Web sessions: the visitor context behind each call token.

use c2c_wire::Utm;

use super::{Store, StoreError};

/// What we know about the visitor who asked for a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebSession {
    /// Session id (the token's `sub`).
    pub id: String,
    /// Organisation owning the campaign.
    pub org: String,
    /// Campaign public id.
    pub campaign: String,
    /// The session number lent to it.
    pub number: String,
    /// The page the call button was on.
    pub page_url: String,
    /// `document.referrer`.
    pub referrer: String,
    /// UTM parameters.
    pub utm: Option<Utm>,
    /// The browser's User-Agent header.
    pub user_agent: String,
    /// The visitor's IP address.
    pub ip: String,
    /// Unix seconds when it was created.
    pub created_at: i64,
    /// Unix seconds until which its number stays with it.
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org: String,
    campaign: String,
    number: String,
    page_url: String,
    referrer: String,
    utm: String,
    user_agent: String,
    ip: String,
    created_at: i64,
    expires_at: i64,
}

impl From<Row> for WebSession {
    fn from(r: Row) -> Self {
        WebSession {
            id: r.id,
            org: r.org,
            campaign: r.campaign,
            number: r.number,
            page_url: r.page_url,
            referrer: r.referrer,
            utm: serde_json::from_str(&r.utm).ok(),
            user_agent: r.user_agent,
            ip: r.ip,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

impl Store {
    /// Records a web session.
    pub async fn insert_session(&self, s: &WebSession) -> Result<(), StoreError> {
        let utm = serde_json::to_string(&s.utm).unwrap_or_else(|_| "null".into());
        sqlx::query(
            "INSERT INTO web_sessions (id, org, campaign, number, page_url, referrer, utm, \
             user_agent, ip, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(s.id.as_str())
        .bind(s.org.as_str())
        .bind(s.campaign.as_str())
        .bind(s.number.as_str())
        .bind(s.page_url.as_str())
        .bind(s.referrer.as_str())
        .bind(utm)
        .bind(s.user_agent.as_str())
        .bind(s.ip.as_str())
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session with this id.
    pub async fn session(&self, id: &str) -> Result<Option<WebSession>, StoreError> {
        let row: Option<Row> =
            sqlx::query_as("SELECT id, org, campaign, number, page_url, referrer, utm, user_agent, ip, created_at, expires_at FROM web_sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(WebSession::from))
    }

    /// The session currently holding `number` (its lease not expired), for screen-pops.
    pub async fn session_by_number(
        &self,
        number: &str,
        now: i64,
    ) -> Result<Option<WebSession>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT s.id, s.org, s.campaign, s.number, s.page_url, s.referrer, s.utm, s.user_agent, \
             s.ip, s.created_at, s.expires_at FROM web_sessions s WHERE s.id = \
             (SELECT l.session_id FROM number_leases l WHERE l.number = $1 AND l.expires_at > $2)",
        )
        .bind(number)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(WebSession::from))
    }

    /// Tokens issued for `campaign` since `since` (the daily cap).
    pub async fn sessions_since(&self, campaign: &str, since: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM web_sessions WHERE campaign = $1 AND created_at >= $2",
        )
        .bind(campaign)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }
}
