//! `GET /v1/calls/ws`: the signalling WebSocket (ARCHITECTURE.md, "Signalling").

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::call::{self, Gateway};

/// Largest signalling frame we accept: an SDP offer with room to spare.
const MAX_FRAME: usize = 64 * 1024;
/// Read buffer of a signalling socket (it grows for a larger frame).
const SOCKET_BUFFER: usize = 4 * 1024;

/// The signalling route, with its state applied.
pub fn routes(gateway: Gateway) -> Router {
    Router::new()
        .route("/v1/calls/ws", get(upgrade))
        .with_state(gateway)
}

async fn upgrade(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The token's origin is checked against this before anything else happens.
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Signalling is a few small JSON frames per call: tungstenite's 128 KiB read and write
    // buffers per socket would be most of a call's memory.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(4 * MAX_FRAME)
        .on_upgrade(move |socket| supervised(call::run(gateway, socket, origin)))
}

/// Runs one signalling socket; a panic in it (a bug) ends that socket and its call (the
/// trunk leg hangs up when dropped), is logged and counted, and touches no other call.
async fn supervised(call: impl std::future::Future<Output = ()>) {
    use futures_util::FutureExt;
    if let Err(panic) = std::panic::AssertUnwindSafe(call).catch_unwind().await {
        let text = c2c_guard::supervise::panic_text(panic.as_ref());
        tracing::error!(
            panic = text,
            "signalling socket caught a panic; that call ends"
        );
        metrics::counter!(c2c_guard::supervise::PANICS, "task" => "signalling").increment(1);
    }
}
