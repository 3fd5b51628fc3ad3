//! `POST /v1/calls/token`: screen the visitor, lend a session number, mint a call token.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;

use c2c_token::{CallGrant, Jwks, Route};
use c2c_wire::{TokenRequest, TokenResponse};

use crate::metrics as m;
use crate::screening::ClientIp;
use c2c_store::WebSession;

use crate::{ApiError, AppState, Campaign};
use c2c_token::clock::unix_now;

/// Issues a call token to a page the campaign allows, when the campaign can take a call.
pub(crate) async fn issue(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let result = match body {
        Ok(Json(req)) => screen_and_mint(&state, client_ip, &headers, req).await,
        Err(e) => Err(ApiError::BadRequest(e.body_text())),
    };
    match &result {
        // Only a campaign that exists gets a label: unknown ids are the caller's choice.
        Ok((campaign, _)) => {
            metrics::counter!(m::TOKENS_ISSUED, "campaign" => campaign.clone()).increment(1)
        }
        Err(e) => metrics::counter!(m::TOKENS_REFUSED, "reason" => e.code()).increment(1),
    }
    result.map(|(_, response)| response)
}

/// The screening and minting behind [`issue`]; the campaign id with the response.
async fn screen_and_mint(
    state: &AppState,
    client_ip: IpAddr,
    headers: &HeaderMap,
    req: TokenRequest,
) -> Result<(String, Json<TokenResponse>), ApiError> {
    if state.readiness.is_draining() {
        return Err(ApiError::Draining);
    }
    let campaign = state.campaign(&req.campaign)?;
    // Only a trunk of the campaign's own organisation can carry its calls.
    if state
        .trunks
        .get(&campaign.config.org, &campaign.config.trunk)
        .is_none()
    {
        tracing::warn!(campaign = %campaign.config.public_id, trunk = %campaign.config.trunk,
            "campaign's trunk does not exist in its organisation");
        return Err(ApiError::Unavailable(
            "unavailable",
            "This campaign cannot take calls right now.",
        ));
    }
    let origin = super::allowed_origin(headers, &campaign)?;
    let now = unix_now();
    let client = crate::screening::client_key(client_ip);
    screen(state, &campaign, &client, now).await?;
    if let Some(check) = &campaign.config.bot_check {
        let ip = client_ip.to_string();
        crate::screening::verify_bot_check(&state.http, check, req.bot_token.as_deref(), &ip)
            .await
            .map_err(ApiError::BotCheck)?;
    }

    let session_id = random_session_id();
    // Only for the token's life: the gateway keeps the number when the call starts, and a
    // token never used gives it back within seconds.
    let lease_until = now + state.issuer.lifetime_s() + PENDING_LEASE_GRACE_S;
    let number = state
        .store
        .lease_number(
            &campaign.config.public_id,
            &session_id,
            &client,
            now,
            lease_until,
        )
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::PoolExhausted)?;
    let grant = CallGrant {
        session_id: session_id.clone(),
        org: campaign.config.org.clone(),
        campaign: campaign.config.public_id.clone(),
        number: number.clone(),
        origin,
        route: Route {
            trunk: campaign.config.trunk.clone(),
            destinations: campaign.config.destinations.clone(),
            privacy: campaign.config.privacy_id,
            agents: campaign.config.routing.to_agents(),
        },
    };
    let (token, claims) = state
        .issuer
        .mint(&grant, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let header_text = |name| -> String {
        let v = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        v.chars().take(512).collect()
    };
    let session = WebSession {
        id: session_id.clone(),
        org: grant.org.clone(),
        campaign: grant.campaign.clone(),
        number: number.to_string(),
        page_url: req.page_url.chars().take(2048).collect(),
        referrer: req.referrer.chars().take(2048).collect(),
        utm: req.utm.clone(),
        user_agent: header_text(header::USER_AGENT),
        ip: client_ip.to_string(),
        created_at: now,
        expires_at: now + state.config.number_lease_s,
    };
    state
        .store
        .insert_session(&session)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(session = %session_id, campaign = %grant.campaign, %number, "call token issued");
    let response = TokenResponse {
        token,
        expires_at: claims.exp,
        session_number: number.into(),
        ws_url: state.ws_url(),
        ice_servers: Vec::new(),
    };
    Ok((grant.campaign, Json(response)))
}

/// How long after its token expires an unused number lease ends: time for a call started
/// at the token's last second to reach the gateway and keep its number.
const PENDING_LEASE_GRACE_S: i64 = 30;
/// Unused tokens a campaign may have out, per call it may carry at once...
const PENDING_PER_CALL_SLOT: i64 = 2;
/// ...and at least this many, for campaigns of one or two lines.
const MIN_PENDING_PER_CAMPAIGN: i64 = 4;

/// Rate limits, business hours, a free agent, capacity, unused tokens and the daily cap,
/// cheapest first.
async fn screen(
    state: &AppState,
    c: &Arc<Campaign>,
    client: &str,
    now: i64,
) -> Result<(), ApiError> {
    let t = Instant::now();
    c.ip_limiter
        .check(client, t)
        .map_err(|wait| ApiError::RateLimited(wait.as_secs()))?;
    c.campaign_limiter
        .check("", t)
        .map_err(|wait| ApiError::RateLimited(wait.as_secs()))?;
    if !c.hours.is_open(now) {
        return Err(ApiError::Unavailable(
            "closed",
            "The campaign is closed right now.",
        ));
    }
    // Nobody to ring and no queue to wait in: refused before a number is lent (the counts
    // are cached ≤ 1 s). A campaign that queues takes the call and lets it wait.
    if c.config.routing.to_agents() && !c.config.routing.queue {
        let counts = crate::availability_cache::agent_counts(&state.store, c)
            .await
            .map_err(ApiError::Internal)?;
        if counts.free_for_newcomer() == 0 {
            return Err(ApiError::NoAgent);
        }
    }
    // This node's count, and every node's (the slots calls take when they start).
    let here = i64::from(state.active_calls.count(&c.config.public_id));
    let everywhere = state
        .store
        .calls_in_progress(&c.config.public_id, now)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if here.max(everywhere) >= i64::from(c.config.max_concurrent_calls) {
        return Err(ApiError::Unavailable(
            "busy",
            "Every line is busy; please try again shortly.",
        ));
    }
    let id = &c.config.public_id;
    let internal = |e: c2c_store::StoreError| ApiError::Internal(e.to_string());
    let mine = state
        .store
        .pending_leases(id, Some(client), now)
        .await
        .map_err(internal)?;
    if mine >= i64::from(c.config.unused_tokens_per_client) {
        tracing::warn!(campaign = %id, %client, pending = mine, "unused tokens capped for a client");
        return Err(ApiError::RateLimited(PENDING_LEASE_GRACE_S as u64));
    }
    let cap = (i64::from(c.config.max_concurrent_calls) * PENDING_PER_CALL_SLOT)
        .max(MIN_PENDING_PER_CAMPAIGN);
    let all = state
        .store
        .pending_leases(id, None, now)
        .await
        .map_err(internal)?;
    if all >= cap {
        tracing::warn!(campaign = %id, pending = all, cap, "unused tokens capped for a campaign");
        return Err(ApiError::Unavailable(
            "busy",
            "Every line is busy; please try again shortly.",
        ));
    }
    if c.config.daily_cap > 0 {
        let today = state
            .store
            .sessions_since(&c.config.public_id, c.day_start(now))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if today >= i64::from(c.config.daily_cap) {
            return Err(ApiError::Unavailable(
                "daily_cap",
                "No more calls can be taken today.",
            ));
        }
    }
    Ok(())
}

/// The public keys that verify our call tokens.
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.keys.get().jwks())
}

fn random_session_id() -> String {
    let n: u128 = rand::random();
    format!("ws_{n:032x}")
}
