//! The public JSON API under `/v1` and the well-known JWKS.

mod availability;
mod callbacks;
mod cors;
mod sessions;
mod token;

use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;

use crate::{ApiError, AppState, Campaign};

#[doc(hidden)]
pub use callbacks::normalise_e164;

/// Routes under `/v1`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/campaigns/{public_id}/availability",
            get(availability::availability),
        )
        .route("/calls/token", post(token::issue))
        .route("/callbacks", post(callbacks::request))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        // Server-to-server: no CORS at all.
        .route("/sessions/by-number/{number}", get(sessions::by_number))
}

/// `/.well-known/jwks.json`.
pub(crate) fn well_known() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(token::jwks))
}

/// The request's Origin in canonical form, if the campaign allows it.
fn allowed_origin(headers: &HeaderMap, campaign: &Campaign) -> Result<String, ApiError> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| campaign.allows_origin(o))
        .and_then(crate::campaign::canonical_origin)
        .ok_or(ApiError::OriginNotAllowed)
}
