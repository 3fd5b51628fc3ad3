//! The dashboard under `/admin`: server-rendered pages (askama, escaped by default) for site
//! owners. Every page needs a login; every state-changing request also needs the login's CSRF
//! token (the [`auth::guard`] layer); every query is scoped to the user's organisation, so
//! another organisation's objects are simply not found (404).

mod agents;
mod auth;
mod callbacks;
mod calls;
mod campaigns;
mod keys;
mod live;
mod overview;
mod sip_ping;
mod trunk_form;
mod trunks;
mod users;

pub use auth::AdminState;

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;
use c2c_store::StoreError;

/// Only our own script and styles; no frames, no plugins, forms post only to us.
const CSP: &str =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; \
                   base-uri 'none'; object-src 'none'";

/// The little hand-written script of the dashboard (copy button, live updates).
const ADMIN_JS: &str = include_str!("../../templates/admin.js");

/// Routes under `/admin`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/", get(overview::page))
        .route("/logout", post(auth::logout))
        .route("/campaigns", get(campaigns::list))
        .route(
            "/campaigns/new",
            get(campaigns::new_form).post(campaigns::create),
        )
        .route(
            "/campaigns/{id}",
            get(campaigns::edit_form).post(campaigns::update),
        )
        .route("/agents", get(agents::list).post(agents::create))
        .route("/agents/new", get(agents::new_form))
        .route("/agents/events", get(agents::events))
        .route("/agents/{id}", get(agents::edit_form).post(agents::update))
        .route("/agents/{id}/away", post(agents::away))
        .route("/agents/{id}/password", post(agents::password))
        .route("/trunks", get(trunks::list))
        .route("/trunks/new", get(trunks::new_form).post(trunks::create))
        .route(
            "/trunks/{name}",
            get(trunks::edit_form).post(trunks::update),
        )
        .route("/trunks/{name}/delete", post(trunks::delete))
        .route("/trunks/{name}/test", post(trunks::test))
        .route("/callbacks", get(callbacks::list))
        .route("/callbacks/{id}/done", post(callbacks::done))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/users", get(users::list).post(users::create))
        .route("/live", get(live::page))
        .route("/live/events", get(live::events))
        .route("/calls", get(calls::list))
        .route("/calls.csv", get(calls::csv))
        .route("/calls/{id}", get(calls::detail))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ));
    Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/admin.js", get(script))
        .merge(guarded)
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        ADMIN_JS,
    )
}

/// Why a dashboard request was refused; rendered once, as a page or a redirect.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// No valid login: go to the login page.
    #[error("login required")]
    LoginRequired,
    /// Logged in, but not allowed (role or CSRF token).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such object in the user's organisation.
    #[error("not found")]
    NotFound,
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// The page shown for an error.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    message: &'static str,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            AdminError::LoginRequired => return Redirect::to("/admin/login").into_response(),
            AdminError::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", *why),
            AdminError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to another organisation.",
            ),
            AdminError::BadRequest(why) => (StatusCode::BAD_REQUEST, "Bad request", *why),
            AdminError::Store(e) => {
                tracing::error!(error = %e, "dashboard storage error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side; try again.",
                )
            }
        };
        (status, ErrorPage { title, message }).into_response()
    }
}

/// What every page's header shows: who is logged in, and the logout form's CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    /// The user's email.
    pub email: String,
    /// The user's role.
    pub role: &'static str,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    /// Which area is open (for the highlighted link).
    pub area: &'static str,
}

impl Nav {
    /// The header of a page of `area` for this login.
    pub(crate) fn new(admin: &auth::Admin, area: &'static str) -> Nav {
        Nav {
            email: admin.0.user.email.clone(),
            role: admin.0.user.role.as_str(),
            csrf: admin.0.csrf.clone(),
            area,
        }
    }
}

/// The public ids of the organisation's campaigns, sorted.
pub(crate) async fn org_campaign_ids(
    state: &AppState,
    org: &str,
) -> Result<Vec<String>, AdminError> {
    Ok(state
        .campaigns
        .all()
        .iter()
        .filter(|c| c.config.org == org)
        .map(|c| c.config.public_id.clone())
        .collect())
}
