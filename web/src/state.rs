//! Shared state of the HTTP handlers.

use std::path::PathBuf;
use std::sync::Arc;

use c2c_token::{SharedKeys, TokenIssuer};

use crate::screening::ActiveCalls;
use c2c_store::Store;

use crate::{Campaign, Campaigns, Trunks};

/// Settings of the web role.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where browsers reach us, e.g. `http://127.0.0.1:8080` (no trailing slash).
    pub public_url: String,
    /// Folder holding `widget.js` and `pkg/`.
    pub static_dir: PathBuf,
    /// How long a session number stays with its session after the token, seconds.
    pub number_lease_s: i64,
    /// The campaign the page at `/` embeds, if any.
    pub demo_campaign: Option<String>,
    /// Bearer token that lets a scraper off this host read `/metrics`; loopback only when None
    /// (and not even loopback when proxies are trusted: the proxy may be on this host).
    pub metrics_token: Option<String>,
    /// `[http] trusted_proxies`: the hops whose forwarding headers name the client; None when
    /// there are none, and the headers are ignored.
    pub trusted_proxies: Option<c2c_sbc::networks::Networks>,
    /// Networks trunks may be in (`[sip] trunk_networks`): the dashboard refuses and never
    /// pings a trunk outside them.
    pub trunk_networks: c2c_sbc::networks::Networks,
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Settings.
    pub config: Arc<WebConfig>,
    /// Campaigns by public id (from the database, refreshed on change).
    pub campaigns: Campaigns,
    /// Every organisation's trunks (from the database, refreshed on change).
    pub trunks: Trunks,
    /// Signs call tokens.
    pub issuer: TokenIssuer,
    /// Public keys for the JWKS.
    pub keys: SharedKeys,
    /// The database.
    pub store: Store,
    /// Calls in progress per campaign (the gateway counts them).
    pub active_calls: ActiveCalls,
    /// Outbound HTTP (the bot-check provider).
    pub http: reqwest::Client,
    /// The dashboard's login limiters.
    pub admin: crate::AdminState,
    /// Whether the node should get traffic (core tasks running, not draining).
    pub readiness: crate::readiness::Readiness,
}

impl AppState {
    /// The WebSocket URL browsers open for signalling.
    pub fn ws_url(&self) -> String {
        let base = &self.config.public_url;
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.clone()
        };
        format!("{ws}/v1/calls/ws")
    }

    /// The active campaign with this public id.
    pub fn campaign(&self, public_id: &str) -> Result<Arc<Campaign>, crate::ApiError> {
        self.campaigns
            .get(public_id)
            .filter(|c| c.config.active)
            .ok_or(crate::ApiError::CampaignNotFound)
    }

    /// Whether any active campaign allows this origin (for CORS preflights, which carry no
    /// campaign id).
    pub fn any_campaign_allows(&self, origin: &str) -> bool {
        self.campaigns
            .all()
            .iter()
            .any(|c| c.config.active && c.allows_origin(origin))
    }
}
