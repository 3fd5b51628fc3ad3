//! Live calls: the calls of the organisation in progress, updated over server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::auth::Admin;
use super::overview::duration;
use super::{AdminError, Nav};
use crate::AppState;
use c2c_store::CallRecord;
use c2c_token::clock::unix_now;

/// How often the live list is sent again.
const LIVE_EVERY: Duration = Duration::from_secs(2);

/// One call in progress, as the page and the event stream show it.
#[derive(serde::Serialize)]
pub(crate) struct LiveRow {
    campaign: String,
    number: String,
    destination: String,
    state: &'static str,
    duration: String,
}

fn rows(calls: &[CallRecord], now: i64) -> Vec<LiveRow> {
    calls
        .iter()
        .map(|c| LiveRow {
            campaign: c.campaign.clone(),
            number: c.number.clone(),
            destination: c.destination.clone(),
            state: if c.answered_at.is_some() {
                "answered"
            } else {
                "connecting"
            },
            duration: duration(now - c.started_at),
        })
        .collect()
}

/// `/admin/live`.
#[derive(Template, WebTemplate)]
#[template(path = "live.html")]
pub(crate) struct LivePage {
    nav: Nav,
    rows: Vec<LiveRow>,
}

/// `GET /admin/live`.
pub(crate) async fn page(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<LivePage, AdminError> {
    let calls = state.store.live_calls(admin.org()).await?;
    Ok(LivePage {
        nav: Nav::new(&admin, "live"),
        rows: rows(&calls, unix_now()),
    })
}

/// `GET /admin/live/events`: a `calls` event with the whole list every two seconds.
pub(crate) async fn events(
    State(state): State<AppState>,
    admin: Admin,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let org = admin.org().to_owned();
    let stream = futures_util::stream::unfold(true, move |first| {
        let state = state.clone();
        let org = org.clone();
        async move {
            if !first {
                tokio::time::sleep(LIVE_EVERY).await;
            }
            let data = match state.store.live_calls(&org).await {
                Ok(calls) => {
                    serde_json::to_string(&rows(&calls, unix_now())).unwrap_or_else(|_| "[]".into())
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live calls query failed");
                    return Some((Ok(Event::default().comment("retrying")), false));
                }
            };
            Some((Ok(Event::default().event("calls").data(data)), false))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
