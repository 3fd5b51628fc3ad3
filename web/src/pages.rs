//! The demo page, the widget loader and static files, and health probes.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

/// `/`, `/widget.js`, `/static/...`, `/healthz`, `/readyz`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(demo_page))
        .route("/widget.js", get(widget_loader))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(crate::metrics::render))
        // Customer pages import the widget cross-origin, so static files are public to all.
        .nest_service(
            "/static",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ))
                .service(ServeDir::new(&state.config.static_dir)),
        )
}

/// `GET /readyz`: ready when no core task has stopped, the node is not draining and the
/// database answers (a load balancer stops sending otherwise).
async fn ready(State(state): State<AppState>) -> Response {
    if let Some(task) = state.readiness.stopped_task() {
        tracing::error!(%task, "not ready: a core task has stopped");
        return (StatusCode::SERVICE_UNAVAILABLE, "a core task has stopped").into_response();
    }
    if state.readiness.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// A page that embeds the widget exactly as a site owner would.
async fn demo_page(State(state): State<AppState>) -> Html<String> {
    let body = match &state.config.demo_campaign {
        Some(id) => format!(
            "<p>Click the call button (bottom right). The demo trunk answers and echoes your \
             voice back, so you should hear yourself with a short delay.</p>\n\
             <script src=\"{base}/widget.js\" data-campaign=\"{id}\" async></script>",
            base = html_escape(&state.config.public_url),
            id = html_escape(id),
        ),
        None => "<p>No demo campaign is configured. Start with <code>c2c serve --demo</code>.</p>"
            .to_string(),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>c2c demo</title></head>\n<body>\n<h1>c2c click-to-call demo</h1>\n{body}\n</body></html>\n"
    ))
}

/// `widget.js`: the loader site owners include; short cache so fixes reach sites quickly.
async fn widget_loader(State(state): State<AppState>) -> Response {
    match tokio::fs::read(state.config.static_dir.join("widget.js")).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, dir = %state.config.static_dir.display(), "widget.js missing");
            (
                StatusCode::NOT_FOUND,
                "widget.js not built: run `make widget`",
            )
                .into_response()
        }
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
