//! `GET /v1/sessions/by-number/{e164}`: who is behind a caller ID (screen-pop), for API keys.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::Json;

use c2c_store::WebSession;

use crate::{ApiError, AppState};
use c2c_token::clock::unix_now;

/// The web session currently holding `number`, if it belongs to the key's organisation.
pub(crate) async fn by_number(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Json<WebSession>, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let org = state
        .store
        .api_key_org(token.trim())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or(ApiError::Unauthorized)?;
    let session = state
        .store
        .session_by_number(&number, unix_now())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        // Another organisation's session is as invisible as a missing one.
        .filter(|s| s.org == org)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(session))
}
