//! Agents as stored: who they are, their skills, how they are reached, their SIP account
//! (HA1 only) and the devices registered with it now.

use std::collections::HashMap;

use super::{random_id, Store, StoreError};

/// How an agent is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// The devices registered with the agent's SIP account.
    Sip,
    /// The agent console in a browser.
    Browser,
    /// A phone number dialled through a trunk.
    Phone,
}

impl ContactKind {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sip => "sip",
            Self::Browser => "browser",
            Self::Phone => "phone",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sip" => Some(Self::Sip),
            "browser" => Some(Self::Browser),
            "phone" => Some(Self::Phone),
            _ => None,
        }
    }
}

/// One way of reaching an agent, in ring order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentContact {
    /// What kind.
    pub kind: ContactKind,
    /// The SIP username, the console user, or the E.164 number.
    pub target: String,
    /// The trunk a phone contact is dialled through ('' otherwise).
    pub trunk: String,
    /// The digit the answerer must press to take the call ('' for none).
    pub confirm_digit: String,
}

/// An agent to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    /// Owning organisation.
    pub org: String,
    /// The name admins see in the dashboard.
    pub display_name: String,
    /// Calls carried at once.
    pub max_calls: i64,
    /// Skill tags with a level of 1 to 5.
    pub skills: Vec<(String, i64)>,
    /// Ring order.
    pub contacts: Vec<AgentContact>,
    /// The SIP account its devices register with, if it has one.
    pub account: Option<SipAccount>,
}

/// An agent's SIP account to store: never the password, its HA1 values for one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipAccount {
    /// The SIP username (unique on the registrar).
    pub username: String,
    /// The realm the HA1 values are for.
    pub realm: String,
    /// H(username:realm:password) with MD5, hex.
    pub ha1_md5: String,
    /// The same with SHA-256, hex.
    pub ha1_sha256: String,
}

/// A stored agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its id.
    pub id: String,
    /// Owning organisation.
    pub org: String,
    /// Display name.
    pub display_name: String,
    /// Calls carried at once.
    pub max_calls: i64,
    /// Set away by the agent or an admin.
    pub away: bool,
    /// Skill tags and levels, by tag.
    pub skills: Vec<(String, i64)>,
    /// Ring order.
    pub contacts: Vec<AgentContact>,
}

/// An agent's SIP account as the registrar needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentCredentialRow {
    /// The SIP username (unique on the registrar).
    pub username: String,
    /// Whose.
    pub agent: String,
    /// The agent's organisation.
    pub org: String,
    /// The realm the HA1 values are for.
    pub realm: String,
    /// H(username:realm:password) with MD5, hex.
    pub ha1_md5: String,
    /// The same with SHA-256, hex.
    pub ha1_sha256: String,
}

/// A device registered now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentRegistration {
    /// The SIP username it registered as.
    pub username: String,
    /// Its Contact URI.
    pub contact: String,
    /// Whose.
    pub agent: String,
    /// The agent's organisation.
    pub org: String,
    /// Where it is reached (`ip:port`).
    pub source: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: String,
    /// The node whose registrar holds it.
    pub node: String,
    /// Unix seconds when it lapses unless refreshed.
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct AgentBase {
    id: String,
    org: String,
    display_name: String,
    max_calls: i64,
    away: i64,
}

impl Store {
    /// Creates an agent with its skills, contacts and SIP account, all or nothing; returns
    /// its id, or None when another agent holds the account's username.
    pub async fn create_agent(
        &self,
        agent: &NewAgent,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let id = random_id("ag_");
        let mut tx = self.pool().begin().await?;
        if let Some(account) = &agent.account {
            let holder: Option<(String,)> =
                sqlx::query_as("SELECT agent FROM agent_credentials WHERE username = $1")
                    .bind(&account.username)
                    .fetch_optional(&mut *tx)
                    .await?;
            if holder.is_some() {
                return Ok(None);
            }
        }
        sqlx::query(
            "INSERT INTO agents (id, org, display_name, max_calls, away, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(id.as_str())
        .bind(&agent.org)
        .bind(&agent.display_name)
        .bind(agent.max_calls)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(account) = &agent.account {
            sqlx::query(
                "INSERT INTO agent_credentials (username, agent, org, realm, ha1_md5, \
                 ha1_sha256, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&account.username)
            .bind(id.as_str())
            .bind(&agent.org)
            .bind(&account.realm)
            .bind(&account.ha1_md5)
            .bind(&account.ha1_sha256)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for (skill, level) in &agent.skills {
            sqlx::query("INSERT INTO agent_skills (agent, skill, level) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(skill)
                .bind(*level)
                .execute(&mut *tx)
                .await?;
        }
        for (position, c) in agent.contacts.iter().enumerate() {
            sqlx::query(
                "INSERT INTO agent_contacts (agent, position, kind, target, trunk, confirm_digit) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_str())
            .bind(position as i64)
            .bind(c.kind.as_str())
            .bind(&c.target)
            .bind(&c.trunk)
            .bind(&c.confirm_digit)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }

    /// `org`'s agents by display name, with skills and contacts.
    pub async fn org_agents(&self, org: &str) -> Result<Vec<Agent>, StoreError> {
        self.load_agents(org, None).await
    }

    /// `org`'s agent with this id.
    pub async fn agent(&self, org: &str, id: &str) -> Result<Option<Agent>, StoreError> {
        Ok(self.load_agents(org, Some(id)).await?.into_iter().next())
    }

    /// `org`'s agents (only `id` when given) by display name, with skills and contacts: three
    /// queries however many agents, joined here.
    pub(crate) async fn load_agents(
        &self,
        org: &str,
        id: Option<&str>,
    ) -> Result<Vec<Agent>, StoreError> {
        let (agents_sql, skills_sql, contacts_sql) = match id {
            None => (
                "SELECT id, org, display_name, max_calls, away FROM agents WHERE org = $1 \
                 ORDER BY display_name, id",
                "SELECT s.agent, s.skill, s.level FROM agent_skills s \
                 JOIN agents a ON a.id = s.agent WHERE a.org = $1 ORDER BY s.agent, s.skill",
                "SELECT c.agent, c.kind, c.target, c.trunk, c.confirm_digit FROM agent_contacts c \
                 JOIN agents a ON a.id = c.agent WHERE a.org = $1 ORDER BY c.agent, c.position",
            ),
            Some(_) => (
                "SELECT id, org, display_name, max_calls, away FROM agents \
                 WHERE org = $1 AND id = $2",
                "SELECT s.agent, s.skill, s.level FROM agent_skills s \
                 JOIN agents a ON a.id = s.agent WHERE a.org = $1 AND a.id = $2 \
                 ORDER BY s.agent, s.skill",
                "SELECT c.agent, c.kind, c.target, c.trunk, c.confirm_digit FROM agent_contacts c \
                 JOIN agents a ON a.id = c.agent WHERE a.org = $1 AND a.id = $2 \
                 ORDER BY c.agent, c.position",
            ),
        };
        let mut bases = sqlx::query_as::<_, AgentBase>(agents_sql).bind(org);
        let mut skills = sqlx::query_as::<_, (String, String, i64)>(skills_sql).bind(org);
        let mut contacts =
            sqlx::query_as::<_, (String, String, String, String, String)>(contacts_sql).bind(org);
        if let Some(id) = id {
            bases = bases.bind(id);
            skills = skills.bind(id);
            contacts = contacts.bind(id);
        }
        let bases = bases.fetch_all(self.pool()).await?;
        let skills = skills.fetch_all(self.pool()).await?;
        let contacts = contacts.fetch_all(self.pool()).await?;

        let mut out: Vec<Agent> = bases
            .into_iter()
            .map(|base| Agent {
                id: base.id,
                org: base.org,
                display_name: base.display_name,
                max_calls: base.max_calls,
                away: base.away != 0,
                skills: Vec::new(),
                contacts: Vec::new(),
            })
            .collect();
        let index: HashMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        for (agent, skill, level) in skills {
            if let Some(&i) = index.get(&agent) {
                out[i].skills.push((skill, level));
            }
        }
        for (agent, kind, target, trunk, confirm_digit) in contacts {
            let Some(&i) = index.get(&agent) else {
                continue; // made between the queries: the agent comes with the next load
            };
            let kind = ContactKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                table: "agent_contacts",
                key: agent.clone(),
                problem: format!("unknown contact kind {kind:?}"),
            })?;
            out[i].contacts.push(AgentContact {
                kind,
                target,
                trunk,
                confirm_digit,
            });
        }
        Ok(out)
    }

    /// Gives `agent` (of `org`) the SIP account `username`, replacing any it had; false when
    /// another agent holds that username.
    pub async fn set_agent_credential(
        &self,
        row: &AgentCredentialRow,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let holder: Option<(String,)> =
            sqlx::query_as("SELECT agent FROM agent_credentials WHERE username = $1")
                .bind(&row.username)
                .fetch_optional(&mut *tx)
                .await?;
        if holder.is_some_and(|(agent,)| agent != row.agent) {
            return Ok(false);
        }
        sqlx::query("DELETE FROM agent_credentials WHERE agent = $1")
            .bind(&row.agent)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_credentials (username, agent, org, realm, ha1_md5, ha1_sha256, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&row.username)
        .bind(&row.agent)
        .bind(&row.org)
        .bind(&row.realm)
        .bind(&row.ha1_md5)
        .bind(&row.ha1_sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every SIP account (the registrar's whole set), by username.
    pub async fn all_agent_credentials(&self) -> Result<Vec<AgentCredentialRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT username, agent, org, realm, ha1_md5, ha1_sha256 FROM agent_credentials \
             ORDER BY username",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a device's binding (added or refreshed).
    pub async fn put_registration(&self, reg: &AgentRegistration) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_registrations (username, contact, agent, org, source, transport, \
             node, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (username, contact) DO UPDATE SET agent = excluded.agent, \
             org = excluded.org, source = excluded.source, transport = excluded.transport, \
             node = excluded.node, expires_at = excluded.expires_at",
        )
        .bind(&reg.username)
        .bind(&reg.contact)
        .bind(&reg.agent)
        .bind(&reg.org)
        .bind(&reg.source)
        .bind(&reg.transport)
        .bind(&reg.node)
        .bind(reg.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forgets a device's binding.
    pub async fn delete_registration(
        &self,
        username: &str,
        contact: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM agent_registrations WHERE username = $1 AND contact = $2")
            .bind(username)
            .bind(contact)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets what `node` had registered (it starts with an empty registrar) and what
    /// lapsed before `now` anywhere (its node died); returns how many went.
    pub async fn clear_registrations(&self, node: &str, now: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM agent_registrations WHERE node = $1 OR expires_at <= $2")
                .bind(node)
                .bind(now)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected())
    }

    /// `org`'s devices registered and not lapsed at `now`, by username and contact.
    pub async fn org_registrations(
        &self,
        org: &str,
        now: i64,
    ) -> Result<Vec<AgentRegistration>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT username, contact, agent, org, source, transport, node, expires_at \
             FROM agent_registrations WHERE org = $1 AND expires_at > $2 \
             ORDER BY username, contact",
        )
        .bind(org)
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }
}
