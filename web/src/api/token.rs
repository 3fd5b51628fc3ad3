//! `POST /v1/calls/token`: screen the visitor, lend a session number, mint a call token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::Json;

use c2c_sbc::token::{CallGrant, Jwks, Route};
use c2c_wire::{TokenRequest, TokenResponse};

use crate::{ApiError, AppState, WebSession};

/// Issues a call token to a page the campaign allows.
pub(crate) async fn issue(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let campaign = state
        .campaigns
        .get(&req.campaign)
        .filter(|c| c.config.active)
        .ok_or(ApiError::CampaignNotFound)?;
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| campaign.allows_origin(o))
        .ok_or(ApiError::OriginNotAllowed)?;
    let origin = crate::campaign::canonical_origin(origin).ok_or(ApiError::OriginNotAllowed)?;

    let now = unix_now();
    let session_id = random_session_id();
    let lease = state
        .numbers
        .lease(
            &campaign.config.public_id,
            &campaign.numbers,
            &session_id,
            now,
            state.config.number_lease_s,
        )
        .ok_or(ApiError::PoolExhausted)?;
    let grant = CallGrant {
        session_id: session_id.clone(),
        org: campaign.config.org.clone(),
        campaign: campaign.config.public_id.clone(),
        number: lease.number.clone(),
        origin,
        route: Route {
            trunk: campaign.config.trunk.clone(),
            destination: campaign.config.destination.clone(),
        },
    };
    let (token, claims) = state
        .issuer
        .mint(&grant, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(512)
            .collect()
    };
    state.sessions.insert(
        WebSession {
            id: session_id.clone(),
            campaign: grant.campaign.clone(),
            page_url: req.page_url.chars().take(2048).collect(),
            referrer: req.referrer.chars().take(2048).collect(),
            utm: req.utm.clone(),
            user_agent: header_text(header::USER_AGENT),
            ip: peer.ip().to_string(),
            number: lease.number.clone(),
            expires_at: lease.expires_at,
        },
        now,
    );
    tracing::info!(
        session = %session_id,
        campaign = %grant.campaign,
        number = %lease.number,
        page = %req.page_url.chars().take(256).collect::<String>(),
        "call token issued"
    );
    Ok(Json(TokenResponse {
        token,
        expires_at: claims.exp,
        session_number: lease.number,
        ws_url: state.ws_url(),
        ice_servers: Vec::new(),
    }))
}

/// The public keys that verify our call tokens.
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.keys.jwks())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_session_id() -> String {
    use rand::Rng;
    let n: u128 = rand::rng().random();
    format!("ws_{n:032x}")
}
