//! `GET /v1/campaigns/{id}/availability`: may the widget offer a call right now?

use axum::extract::{Path, State};
use axum::Json;

use c2c_wire::Availability;

use crate::{ApiError, AppState};
use c2c_token::clock::unix_now;

/// Whether the campaign can take a call, and how the widget should look.
pub(crate) async fn availability(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Json<Availability>, ApiError> {
    let c = state.campaign(&public_id)?;
    let now = unix_now();
    let open = c.hours.is_open(now);
    let active = state.active_calls.count(&c.config.public_id);
    // One destination per campaign today: free while under the concurrency limit.
    let agents_available = if open && active < c.config.max_concurrent_calls {
        1
    } else {
        0
    };
    Ok(Json(Availability {
        open,
        agents_available,
        estimated_wait_s: 0,
        fallback: c.fallback(),
        theme: c.config.theme.clone(),
        opens_at: if open { None } else { c.hours.next_open(now) },
    }))
}
