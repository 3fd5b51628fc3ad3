//! The public JSON API under `/v1` and the well-known JWKS.

mod availability;
mod cors;
mod token;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Routes under `/v1`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/campaigns/{public_id}/availability",
            get(availability::availability),
        )
        .route("/calls/token", post(token::issue))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
}

/// `/.well-known/jwks.json`.
pub(crate) fn well_known() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(token::jwks))
}
