//! `GET /metrics`: Prometheus text for scrapers on this host, or anywhere with the bearer
//! token of `[http] metrics_token`. Counters are recorded through the `metrics` facade by
//! whichever part sees the event (tokens here, calls in the gateway).

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use crate::AppState;

/// Tokens issued, by campaign.
pub const TOKENS_ISSUED: &str = "c2c_tokens_issued_total";
/// Token requests refused, by reason (the JSON `error` code).
pub const TOKENS_REFUSED: &str = "c2c_tokens_refused_total";
/// Calls ended, by the reason the browser was given.
pub const CALLS_ENDED: &str = "c2c_calls_ended_total";
/// Calls refused on the signalling socket before any SIP, by reason.
pub const CALLS_REFUSED: &str = "c2c_calls_refused_total";
/// Calls in progress (set from the screening count at each scrape).
pub const CALLS_ACTIVE: &str = "c2c_calls_active";
/// Seconds from the first INVITE to the answer.
pub const CALL_SETUP_SECONDS: &str = "c2c_call_setup_seconds";
/// Destinations tried after the first one (hunting).
pub const DESTINATIONS_HUNTED: &str = "c2c_destinations_hunted_total";
/// Call-record writes the database did not take in time, kept in the node's spool.
pub const CALL_WRITES_SPOOLED: &str = "c2c_call_record_writes_spooled_total";

/// The process-wide recorder's handle, installed on first use. Should another recorder be
/// installed already (a test harness), this one still renders, just without global events.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(CALL_SETUP_SECONDS.into()),
                &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0],
            )
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only its own");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!(TOKENS_ISSUED, "Call tokens issued, by campaign.");
    metrics::describe_counter!(TOKENS_REFUSED, "Token requests refused, by reason.");
    metrics::describe_counter!(CALLS_ENDED, "Calls ended, by reason.");
    metrics::describe_counter!(CALLS_REFUSED, "Calls refused before any SIP, by reason.");
    metrics::describe_gauge!(CALLS_ACTIVE, "Calls in progress.");
    metrics::describe_histogram!(CALL_SETUP_SECONDS, "First INVITE to answer, seconds.");
    metrics::describe_counter!(DESTINATIONS_HUNTED, "Destinations called after the first.");
    metrics::describe_counter!(
        CALL_WRITES_SPOOLED,
        "Call-record writes spooled to disk while the database was away."
    );
    metrics::describe_counter!(
        c2c_guard::supervise::PANICS,
        "Panics contained (the input dropped, the task going on), by task."
    );
}

/// `GET /metrics`.
pub(crate) async fn render(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token_ok = state.config.metrics_token.as_deref().is_some_and(|want| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|got| bool::from(got.as_bytes().ct_eq(want.as_bytes())))
    });
    // Campaign names and call volumes are business data: not for the open internet. Behind
    // a trusted proxy every request may come from loopback, so then only the token counts.
    let local = peer.ip().is_loopback() && state.config.trusted_proxies.is_none();
    if !(local || token_ok) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Read from the count screening keeps, rather than counted a second time.
    metrics::gauge!(CALLS_ACTIVE).set(f64::from(state.active_calls.total()));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
}
