//! Agents for end-to-end tests: added with the real `c2c agent add`, and the wait for the
//! gateway to load their accounts.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::gateway::{c2c_binary, Gateway};

/// An agent `c2c agent add` made.
#[derive(Debug, Clone)]
pub struct AddedAgent {
    /// Its id (`ag_…`).
    pub id: String,
    /// The SIP password it printed once.
    pub password: String,
}

/// `c2c agent add --config config --org org --username username` with `skills`
/// (`TAG=LEVEL`), named "Agent <username>".
pub async fn add(config: &Path, org: &str, username: &str, skills: &[&str]) -> AddedAgent {
    let mut cmd = Command::new(c2c_binary());
    cmd.args(["agent", "add", "--config"])
        .arg(config)
        .args(["--org", org, "--name", &format!("Agent {username}")])
        .args(["--username", username]);
    for skill in skills {
        cmd.args(["--skill", skill]);
    }
    let out = cmd
        .env_remove("C2C_DATABASE_URL")
        .output()
        .await
        .expect("c2c agent add runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "agent add failed: {said}");
    let id = said
        .split_whitespace()
        .find(|w| w.starts_with("ag_"))
        .expect("the agent's id is printed")
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .to_owned();
    let password = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(password.len() >= 12, "a generated password is printed once");
    AddedAgent { id, password }
}

/// Waits up to `limit` until `text` is in the gateway's log (its log on failure).
pub async fn logged(gw: &Gateway, text: &str, limit: Duration) {
    let start = Instant::now();
    while !gw.log_text().contains(text) {
        assert!(
            start.elapsed() < limit,
            "{text:?} not logged within {limit:?}:\n{}",
            gw.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
