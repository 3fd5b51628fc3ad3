//! The agents' live state, in the database so that every node sees the same: the calls each
//! agent is ringing for or on (one of its `max_calls` numbered slots each, taken atomically:
//! the primary key decides, not a count), when its last call ended, its wrap-up and the calls
//! it answered today.

use std::collections::HashMap;

use super::{Agent, AgentRegistration, Store, StoreError};

/// Milliseconds in a counting day (UTC).
const DAY_MS: i64 = 86_400_000;

/// An agent's `agent_calls` row while it rings.
const RINGING: &str = "ringing";
/// An agent's `agent_calls` row once answered.
const ON_CALL: &str = "on_call";

/// Everything the router weighs about one agent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLive {
    /// The agent, with its skills and contacts.
    pub agent: Agent,
    /// Its devices registered and not lapsed.
    pub registrations: Vec<AgentRegistration>,
    /// Calls ringing it now.
    pub ringing: u32,
    /// Calls it is on now.
    pub on_call: u32,
    /// Unix ms when its last answered call ended (0 when never).
    pub idle_since_ms: i64,
    /// Unix ms before which it is in wrap-up (0 when never).
    pub wrap_up_until_ms: i64,
    /// Calls it answered on the current day.
    pub answered_today: u32,
}

/// Unix seconds of a Unix ms time.
fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// A stored count as u32 (never negative; capped rather than wrapped).
fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Takes a free slot of `agent` (one of `0..max_calls`) for `call_id` ringing from `node`
    /// until `until_s` (Unix s); None when all are taken. Rows past their `expires_at` are
    /// free again; a call that already holds a slot of this agent gets that slot back.
    pub async fn claim_agent(
        &self,
        agent: &str,
        call_id: &str,
        node: &str,
        max_calls: u32,
        now_ms: i64,
        until_s: i64,
    ) -> Result<Option<u32>, StoreError> {
        sqlx::query("DELETE FROM agent_calls WHERE agent = $1 AND expires_at <= $2")
            .bind(agent)
            .bind(seconds(now_ms))
            .execute(self.pool())
            .await?;
        let held: Vec<(i64, String)> =
            sqlx::query_as("SELECT slot, call_id FROM agent_calls WHERE agent = $1")
                .bind(agent)
                .fetch_all(self.pool())
                .await?;
        if let Some((slot, _)) = held.iter().find(|(_, c)| c == call_id) {
            return Ok(u32::try_from(*slot).ok());
        }
        let taken: std::collections::HashSet<i64> = held.iter().map(|(s, _)| *s).collect();
        for slot in (0..i64::from(max_calls)).filter(|s| !taken.contains(s)) {
            // Another node may take the same slot between the read and here: the key decides.
            let won = sqlx::query(
                "INSERT INTO agent_calls (agent, slot, call_id, node, state, since, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (agent, slot) DO NOTHING",
            )
            .bind(agent)
            .bind(slot)
            .bind(call_id)
            .bind(node)
            .bind(RINGING)
            .bind(now_ms)
            .bind(until_s)
            .execute(self.pool())
            .await?
            .rows_affected();
            if won == 1 {
                return Ok(u32::try_from(slot).ok());
            }
        }
        Ok(None)
    }

    /// `agent` answered `call_id`: its slot turns `on_call` from `now_ms`, and the call counts
    /// once towards what it answered today (the first answer of a new day restarts at 1). A
    /// repeated answer, or one for a call holding no slot of this agent, counts nothing.
    pub async fn agent_answered(
        &self,
        agent: &str,
        call_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let turned = sqlx::query(
            "UPDATE agent_calls SET state = $1, since = $2 \
             WHERE agent = $3 AND call_id = $4 AND state = $5",
        )
        .bind(ON_CALL)
        .bind(now_ms)
        .bind(agent)
        .bind(call_id)
        .bind(RINGING)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if turned > 0 {
            sqlx::query(
                "INSERT INTO agent_activity (agent, idle_since, wrap_up_until, answered, \
                 answered_day) VALUES ($1, 0, 0, 1, $2) \
                 ON CONFLICT (agent) DO UPDATE SET answered = CASE \
                 WHEN agent_activity.answered_day = excluded.answered_day \
                 THEN agent_activity.answered + 1 ELSE 1 END, \
                 answered_day = excluded.answered_day",
            )
            .bind(agent)
            .bind(now_ms.div_euclid(DAY_MS))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `call_id` no longer rings or holds `agent` (harmless when it has no slot). After an
    /// answered call the agent is idle from `now_ms` and in wrap-up for `wrap_up_ms`; a ringing
    /// attempt it did not answer changes none of that.
    pub async fn release_agent(
        &self,
        agent: &str,
        call_id: &str,
        answered: bool,
        now_ms: i64,
        wrap_up_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM agent_calls WHERE agent = $1 AND call_id = $2")
            .bind(agent)
            .bind(call_id)
            .execute(&mut *tx)
            .await?;
        if answered {
            sqlx::query(
                "INSERT INTO agent_activity (agent, idle_since, wrap_up_until, answered, \
                 answered_day) VALUES ($1, $2, $3, 0, 0) \
                 ON CONFLICT (agent) DO UPDATE SET idle_since = excluded.idle_since, \
                 wrap_up_until = excluded.wrap_up_until",
            )
            .bind(agent)
            .bind(now_ms)
            .bind(now_ms.saturating_add(wrap_up_ms.max(0)))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Frees every agent slot `node` held: at its start, none of its calls is up any more.
    pub async fn release_node_agent_calls(&self, node: &str) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM agent_calls WHERE node = $1")
            .bind(node)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Sets `org`'s agent `agent` away (or back); false when the org has no such agent.
    pub async fn set_agent_away(
        &self,
        org: &str,
        agent: &str,
        away: bool,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let n =
            sqlx::query("UPDATE agents SET away = $1, updated_at = $2 WHERE org = $3 AND id = $4")
                .bind(i64::from(away))
                .bind(now_s)
                .bind(org)
                .bind(agent)
                .execute(self.pool())
                .await?
                .rows_affected();
        Ok(n > 0)
    }

    /// Every agent of `org` by display name with what the router needs of it at `now_ms`: six
    /// queries however many agents, joined here.
    pub async fn org_agent_states(
        &self,
        org: &str,
        now_ms: i64,
    ) -> Result<Vec<AgentLive>, StoreError> {
        let now_s = seconds(now_ms);
        let agents = self.load_agents(org, None).await?;
        let registrations: Vec<AgentRegistration> = sqlx::query_as(
            "SELECT r.username, r.contact, r.agent, r.org, r.source, r.transport, r.node, \
             r.expires_at FROM agent_registrations r JOIN agents a ON a.id = r.agent \
             WHERE a.org = $1 AND r.org = a.org AND r.expires_at > $2 \
             ORDER BY r.agent, r.username, r.contact",
        )
        .bind(org)
        .bind(now_s)
        .fetch_all(self.pool())
        .await?;
        let calls: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT c.agent, c.state, COUNT(*) FROM agent_calls c JOIN agents a ON a.id = c.agent \
             WHERE a.org = $1 AND c.expires_at > $2 GROUP BY c.agent, c.state",
        )
        .bind(org)
        .bind(now_s)
        .fetch_all(self.pool())
        .await?;
        let activity: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT v.agent, v.idle_since, v.wrap_up_until, v.answered, v.answered_day \
             FROM agent_activity v JOIN agents a ON a.id = v.agent WHERE a.org = $1",
        )
        .bind(org)
        .fetch_all(self.pool())
        .await?;

        let today = now_ms.div_euclid(DAY_MS);
        let index: HashMap<String, usize> = agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let mut out: Vec<AgentLive> = agents
            .into_iter()
            .map(|agent| AgentLive {
                agent,
                registrations: Vec::new(),
                ringing: 0,
                on_call: 0,
                idle_since_ms: 0,
                wrap_up_until_ms: 0,
                answered_today: 0,
            })
            .collect();
        // Rows of an agent made between the queries are skipped: it comes with the next load.
        for reg in registrations {
            if let Some(&i) = index.get(&reg.agent) {
                out[i].registrations.push(reg);
            }
        }
        for (agent, state, n) in calls {
            let Some(&i) = index.get(&agent) else {
                continue;
            };
            match state.as_str() {
                RINGING => out[i].ringing = count(n),
                ON_CALL => out[i].on_call = count(n),
                _ => {
                    return Err(StoreError::Corrupt {
                        table: "agent_calls",
                        key: agent,
                        problem: format!("unknown state {state:?}"),
                    })
                }
            }
        }
        for (agent, idle_since, wrap_up_until, answered, answered_day) in activity {
            if let Some(&i) = index.get(&agent) {
                let live = &mut out[i];
                live.idle_since_ms = idle_since;
                live.wrap_up_until_ms = wrap_up_until;
                live.answered_today = if answered_day == today {
                    count(answered)
                } else {
                    0
                };
            }
        }
        Ok(out)
    }
}
