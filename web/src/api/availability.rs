//! `GET /v1/campaigns/{id}/availability`: may the widget offer a call right now?

use axum::extract::{Path, State};
use axum::Json;

use c2c_wire::Availability;

use crate::availability_cache::{agent_counts, recent_handle_s};
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
    let lines_free = open && active < c.config.max_concurrent_calls;
    let (agents_available, wait) = if !lines_free {
        // Closed, or every line of the campaign busy: no call now, and no queue to wait in.
        (0, None)
    } else if c.config.routing.to_agents() {
        // The agents who could take a call now (cached ≤ 1 s); the handle times only when
        // nobody is free but someone is logged in.
        let counts = agent_counts(&state.store, &c)
            .await
            .map_err(ApiError::Internal)?;
        let free = counts.free_for_newcomer();
        let handle_s = if free == 0 && counts.staffed > 0 {
            recent_handle_s(&state.store, &c).await
        } else {
            None
        };
        (free, counts.newcomer_wait_s(handle_s))
    } else {
        // Not routed to agents: one list of destinations, free while the campaign is under
        // its concurrency limit (as before agents existed).
        (1, Some(0))
    };
    let routing = &c.config.routing;
    Ok(Json(Availability {
        open,
        agents_available,
        estimated_wait_s: wait,
        queues: lines_free && routing.to_agents() && routing.queue,
        fallback: c.fallback(),
        theme: c.config.theme.clone(),
        opens_at: if open { None } else { c.hours.next_open(now) },
    }))
}
