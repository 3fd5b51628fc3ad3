//! What the dashboard changes and reads of agents besides creating them: name, max calls and
//! skills in one go; each agent's SIP username; and when the calls ringing or on an agent
//! began (for "on call for 1:23").

use std::collections::HashMap;

use super::{Store, StoreError};

/// When the calls at an agent began, Unix ms (None when it has none in that state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCallTimes {
    /// The earliest call ringing at it now.
    pub ringing_since_ms: Option<i64>,
    /// The earliest answered call it carries now.
    pub on_call_since_ms: Option<i64>,
}

impl Store {
    /// Renames `org`'s agent `id`, sets its max calls and replaces its skills (tags unique),
    /// all or nothing; false when the organisation has no such agent.
    pub async fn update_agent(
        &self,
        org: &str,
        id: &str,
        display_name: &str,
        max_calls: i64,
        skills: &[(String, i64)],
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let n = sqlx::query(
            "UPDATE agents SET display_name = $1, max_calls = $2, updated_at = $3 \
             WHERE org = $4 AND id = $5",
        )
        .bind(display_name)
        .bind(max_calls)
        .bind(now)
        .bind(org)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false); // dropping the transaction rolls it back
        }
        sqlx::query("DELETE FROM agent_skills WHERE agent = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (skill, level) in skills {
            sqlx::query("INSERT INTO agent_skills (agent, skill, level) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(skill)
                .bind(*level)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The SIP usernames of `org`'s agents that have an account, by agent id.
    pub async fn org_agent_usernames(
        &self,
        org: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.agent, c.username FROM agent_credentials c \
             JOIN agents a ON a.id = c.agent WHERE a.org = $1 AND c.org = a.org",
        )
        .bind(org)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// When the calls ringing at and carried by each of `org`'s agents began, for the slots
    /// not lapsed at `now_ms`; agents with no call are left out.
    pub async fn org_agent_call_times(
        &self,
        org: &str,
        now_ms: i64,
    ) -> Result<HashMap<String, AgentCallTimes>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT c.agent, c.state, MIN(c.since) FROM agent_calls c \
             JOIN agents a ON a.id = c.agent WHERE a.org = $1 AND c.expires_at > $2 \
             GROUP BY c.agent, c.state",
        )
        .bind(org)
        .bind(now_ms.div_euclid(1000))
        .fetch_all(self.pool())
        .await?;
        let mut out: HashMap<String, AgentCallTimes> = HashMap::new();
        for (agent, state, since) in rows {
            let times = out.entry(agent).or_default();
            match state.as_str() {
                "ringing" => times.ringing_since_ms = Some(since),
                "on_call" => times.on_call_since_ms = Some(since),
                _ => {} // org_agent_states reports a state no code of ours writes
            }
        }
        Ok(out)
    }
}
