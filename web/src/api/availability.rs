//! `GET /v1/campaigns/{id}/availability`: may the widget offer a call right now?

use axum::extract::{Path, State};
use axum::Json;

use c2c_wire::Availability;

use crate::{ApiError, AppState};

/// Whether the campaign can take a call, and how the widget should look.
pub(crate) async fn availability(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Json<Availability>, ApiError> {
    let c = state
        .campaigns
        .get(&public_id)
        .filter(|c| c.config.active)
        .ok_or(ApiError::CampaignNotFound)?;
    Ok(Json(Availability {
        open: true,
        agents_available: 1,
        estimated_wait_s: 0,
        fallback: c.fallback(),
        theme: c.config.theme.clone(),
    }))
}
