//! Web sessions: the visitor context behind each call token (page, referrer, UTM, user agent).

use std::collections::HashMap;
use std::sync::Mutex;

use c2c_wire::Utm;

/// What we know about the visitor who asked for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Session id (the token's `sub`).
    pub id: String,
    /// Campaign public id.
    pub campaign: String,
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
    /// The session number lent to it.
    pub number: String,
    /// Unix seconds after which the session may be forgotten.
    pub expires_at: i64,
}

/// Recent web sessions by id. In memory, single node, until storage lands.
#[derive(Debug, Default)]
pub struct WebSessions {
    by_id: Mutex<HashMap<String, WebSession>>,
}

impl WebSessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a session, forgetting expired ones.
    pub fn insert(&self, session: WebSession, now: i64) {
        let mut map = match self.by_id.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.retain(|_, s| s.expires_at > now);
        map.insert(session.id.clone(), session);
    }

    /// The session with this id, if still known.
    pub fn get(&self, id: &str) -> Option<WebSession> {
        let map = match self.by_id.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.get(id).cloned()
    }
}
