//! c2c-web: the HTTP side of c2c.
//!
//! The public API a visitor's browser talks to (availability, call tokens, JWKS), the demo page
//! and the widget's static files. Screening happens here: a token is minted only for a request
//! that passed every check. This crate depends on `c2c-sbc` for the token types only; the
//! gateway crate mounts the signalling WebSocket next to these routes.

mod admin;
mod agents;
mod api;
pub mod availability_cache;
mod campaign;
mod catalog;
mod error;
pub mod metrics;
mod pages;
pub mod readiness;
pub mod screening;
mod secrets;
mod state;
mod trunk_catalog;

pub use admin::AdminState;
pub use agents::{
    agent_state, check_sip_username, device, new_sip_password, parse_skill_lines, ringable,
    sip_account, RegistrarInfo, MAX_SIP_USERNAME, MAX_SKILLS,
};
/// The callback form's phone check, for the fuzz targets only (`fuzz/`).
#[doc(hidden)]
pub use api::normalise_e164;
pub use campaign::routing::{parse_skill, RoutingConfig};
pub use campaign::{
    Campaign, CampaignConfig, CampaignError, FallbackKind, NumberPool, DEFAULT_ORG,
};
pub use catalog::{Campaigns, CatalogError};
pub use error::ApiError;
pub use secrets::{SecretBox, SecretError};
pub use state::{AppState, WebConfig};
pub use trunk_catalog::{valid_trunk_name, Trunk, TrunkCatalogError, Trunks, MAX_TRUNK_NAME};

use axum::Router;

/// All HTTP routes of the web role, ready to be merged with the gateway's WebSocket route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes(&state))
        .nest("/v1", api::routes(&state))
        .merge(api::well_known())
        .nest("/admin", admin::routes(&state))
        .with_state(state)
}
