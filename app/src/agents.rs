//! Agents: adding one with its SIP account (CLI, and the dashboard to come), and keeping the
//! registrar and the database in step: agents' SIP accounts are reloaded every few
//! seconds (another node's edit, the CLI) and pushed into the SBC when they changed; what the
//! registrar binds and drops is written to `agent_registrations` for every node and the
//! dashboard to see.
//!
//! Registration rows are soft state: each carries its lapse time, a device refreshes it
//! within that time, and a node clears its own rows when it starts. A write the database
//! refuses is logged and skipped; the device's next refresh writes it again.

use std::time::Duration;

use c2c_sbc::digest::{self, Algorithm};
use c2c_sbc::registrar::{AgentCredential, AgentRef, Change};
use c2c_sbc::shell::Sbc;
use c2c_store::{
    AgentContact, AgentCredentialRow, AgentRegistration, ContactKind, NewAgent, SipAccount, Store,
};
use c2c_web::parse_skill;
use c2c_web::readiness::Readiness;
use tokio::sync::mpsc;

use c2c_token::clock::unix_now;

/// How often agents' accounts are reloaded from the database.
pub const ACCOUNT_RELOAD: Duration = Duration::from_secs(5);

/// Clears this node's old registrations, then runs the account sync and the registration
/// writer, both watched by readiness.
pub async fn start(
    store: &Store,
    sbc: &std::sync::Arc<Sbc>,
    realm: &str,
    node: &str,
    changes: mpsc::Receiver<Change>,
    readiness: &Readiness,
) {
    match store.clear_registrations(node, unix_now()).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "registrations of a previous run cleared"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "clearing old registrations failed"),
    }
    // Nor is any agent still ringing for, or on, a call of this node's previous run.
    match store.release_node_agent_calls(node).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "agents' calls of a previous run released"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "releasing agents' old calls failed"),
    }
    match store.release_node_queue(node).await {
        Ok(n) if n > 0 => tracing::info!(rows = n, "queued calls of a previous run removed"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "removing old queued calls failed"),
    }
    let sync = tokio::spawn(sync_accounts(store.clone(), sbc.clone(), realm.to_owned()));
    readiness.watch("agent sync", move || !sync.is_finished());
    let writer = tokio::spawn(write_registrations(store.clone(), node.to_owned(), changes));
    readiness.watch("registration writer", move || !writer.is_finished());
}

/// Runs forever: reload the accounts, push them when they changed.
pub async fn sync_accounts(store: Store, sbc: std::sync::Arc<Sbc>, realm: String) {
    let mut interval = tokio::time::interval(ACCOUNT_RELOAD);
    let mut pushed: Option<Vec<AgentCredentialRow>> = None;
    loop {
        interval.tick().await;
        let rows = match store.all_agent_credentials().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reloading agents' SIP accounts failed; keeping the old ones");
                continue;
            }
        };
        if pushed.as_ref() == Some(&rows) {
            continue;
        }
        let usable = credentials(&rows, &realm);
        tracing::info!(
            accounts = usable.len(),
            "agents' SIP accounts loaded into the registrar"
        );
        if sbc.set_agent_credentials(usable).is_err() {
            return; // the SBC stopped; readiness reports it
        }
        pushed = Some(rows);
    }
}

/// The accounts hashed for `realm`; the others are logged and left out (their agents need
/// a new password since the realm changed).
fn credentials(rows: &[AgentCredentialRow], realm: &str) -> Vec<AgentCredential> {
    rows.iter()
        .filter(|row| {
            let usable = row.realm == realm;
            if !usable {
                tracing::warn!(username = %row.username, realm = %row.realm,
                    "SIP account hashed for another realm: set the agent's password again");
            }
            usable
        })
        .map(|row| AgentCredential {
            agent: AgentRef {
                org: row.org.clone(),
                agent: row.agent.clone(),
                username: row.username.clone(),
            },
            ha1_md5: row.ha1_md5.clone(),
            ha1_sha256: row.ha1_sha256.clone(),
        })
        .collect()
}

/// Runs until the SBC is gone: writes each registration change.
pub async fn write_registrations(store: Store, node: String, mut changes: mpsc::Receiver<Change>) {
    while let Some(change) = changes.recv().await {
        let result = match &change {
            Change::Bound { agent, binding } => {
                let left = binding
                    .expires_at
                    .saturating_duration_since(std::time::Instant::now());
                let row = AgentRegistration {
                    username: agent.username.clone(),
                    contact: binding.contact.clone(),
                    agent: agent.agent.clone(),
                    org: agent.org.clone(),
                    source: binding.source.to_string(),
                    transport: binding.transport.as_str().to_owned(),
                    node: node.clone(),
                    expires_at: unix_now() + i64::try_from(left.as_secs()).unwrap_or(i64::MAX / 2),
                };
                store.put_registration(&row).await
            }
            Change::Unbound {
                agent,
                contact,
                why,
            } => {
                tracing::info!(username = %agent.username, ?why, "device unregistered");
                store.delete_registration(&agent.username, contact).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "registration not recorded; the device's next refresh writes it");
        }
    }
}

/// Most characters of a SIP username.
pub use c2c_web::MAX_SIP_USERNAME as MAX_USERNAME;

/// An agent reached at its SIP account's devices, from CLI or form input; the error names
/// the field and the fix.
pub fn new_agent(
    org: &str,
    name: &str,
    username: &str,
    skills: &[String],
    max_calls: i64,
) -> Result<NewAgent, String> {
    c2c_web::check_sip_username(username)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name: give 1 to 100 characters".into());
    }
    if !(1..=20).contains(&max_calls) {
        return Err(format!("max calls {max_calls}: use 1 to 20"));
    }
    let parsed = skills
        .iter()
        .map(|s| parse_skill(s).map(|(tag, level)| (tag, i64::from(level))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NewAgent {
        org: org.to_owned(),
        display_name: name.to_owned(),
        max_calls,
        skills: parsed,
        contacts: vec![AgentContact {
            kind: ContactKind::Sip,
            target: username.to_owned(),
            trunk: String::new(),
            confirm_digit: String::new(),
        }],
        account: None,
    })
}

/// Stores `agent` with the SIP account `username` (HA1 for `realm` of `password`, in both
/// hashes), in one transaction; returns the agent's id.
pub async fn add_agent(
    store: &Store,
    agent: &NewAgent,
    username: &str,
    realm: &str,
    password: &str,
    now: i64,
) -> Result<String, StoreOrTaken> {
    let agent = NewAgent {
        account: Some(SipAccount {
            username: username.to_owned(),
            realm: realm.to_owned(),
            ha1_md5: digest::ha1(Algorithm::Md5, username, realm, password),
            ha1_sha256: digest::ha1(Algorithm::Sha256, username, realm, password),
        }),
        ..agent.clone()
    };
    store
        .create_agent(&agent, now)
        .await?
        .ok_or_else(|| StoreOrTaken::Taken(username.to_owned()))
}

/// Why an agent could not be added.
#[derive(Debug, thiserror::Error)]
pub enum StoreOrTaken {
    /// The database refused.
    #[error("database: {0}")]
    Store(#[from] c2c_store::StoreError),
    /// Another agent has the username.
    #[error("the SIP username {0:?} is taken; choose another")]
    Taken(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_of_another_realm_are_left_out() {
        let row = |user: &str, realm: &str| AgentCredentialRow {
            username: user.into(),
            agent: format!("ag_{user}"),
            org: "acme".into(),
            realm: realm.into(),
            ha1_md5: "m".into(),
            ha1_sha256: "s".into(),
        };
        let got = credentials(&[row("alice", "c2c"), row("bob", "old")], "c2c");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].agent.username, "alice");
    }

    #[test]
    fn agent_input_is_checked_with_a_fix_named() {
        let ok = new_agent("acme", " Alice ", "alice.1", &["Lang:DE=5".into()], 2).expect("ok");
        assert_eq!(ok.display_name, "Alice");
        assert_eq!(ok.skills, vec![("lang:de".into(), 5)]);
        assert_eq!(ok.contacts[0].kind, ContactKind::Sip);
        for (user, skills, calls, says) in [
            ("al ice", vec![], 1, "username"),
            ("al\u{e9}", vec![], 1, "username"),
            ("alice", vec!["lang:de".to_owned()], 1, "TAG=LEVEL"),
            ("alice", vec!["lang:de=9".to_owned()], 1, "1 to 5"),
            ("alice", vec![], 0, "max calls"),
        ] {
            let err = new_agent("acme", "A", user, &skills, calls).expect_err(user);
            assert!(err.contains(says), "{err}");
        }
    }
}
