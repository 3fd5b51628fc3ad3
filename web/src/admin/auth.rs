//! Dashboard access: login and logout, the session cookie, CSRF on every state-changing
//! request, roles, and the login rate limit.

use std::time::Instant;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use subtle::ConstantTimeEq;

use super::AdminError;
use crate::screening::{ClientIp, RequestLimiter};
use crate::AppState;
use c2c_store::{Login, Role};
use c2c_token::clock::unix_now;

/// Name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "c2c_admin";
/// Name of the double-submit cookie that protects the login form itself.
const LOGIN_CSRF_COOKIE: &str = "c2c_login_csrf";
/// How long a login lasts, seconds.
const LOGIN_TTL_S: i64 = 12 * 3600;
/// Largest form body the CSRF check buffers.
const MAX_FORM_BYTES: usize = 256 * 1024;
/// Login attempts per minute per client IP (burst 5).
const LOGINS_PER_IP_PER_MINUTE: u32 = 10;
/// Failed logins per minute per email address (burst 5): only failures count, so a user who
/// types the password right is never held back by the tries before.
const FAILURES_PER_EMAIL_PER_MINUTE: u32 = 5;
/// The cookie that marks a browser where a user logged in before: a guesser cannot lock the
/// owner out of it by failing logins with the owner's email elsewhere.
const DEVICE_COOKIE: &str = "c2c_device";
/// Associated data of a sealed device cookie.
const DEVICE_OWNER: &str = "login-device";
/// How long a browser stays known, seconds.
const DEVICE_TTL_S: i64 = 365 * 24 * 3600;

/// The dashboard's own shared state: the login limiters and the key of device cookies.
#[derive(Debug, Clone)]
pub struct AdminState {
    by_ip: std::sync::Arc<RequestLimiter>,
    by_email: std::sync::Arc<RequestLimiter>,
    /// Seals device cookies; None when no randomness was to be had.
    devices: Option<crate::SecretBox>,
    /// The registrar agents' phones use (realm for new SIP passwords, the hint shown).
    pub(crate) registrar: std::sync::Arc<crate::RegistrarInfo>,
}

impl AdminState {
    /// Device cookies sealed with `secrets` (the node's `secrets.key`, the same on every node
    /// that shares it), so they outlive a restart.
    pub fn new(secrets: crate::SecretBox) -> Self {
        AdminState {
            devices: Some(secrets),
            ..Self::default()
        }
    }

    /// The same, telling the Agents pages about the registrar (its realm hashes new SIP
    /// passwords).
    pub fn with_registrar(mut self, registrar: crate::RegistrarInfo) -> Self {
        self.registrar = std::sync::Arc::new(registrar);
        self
    }

    /// Whether the request comes from a browser where `email` logged in before.
    fn known_device(&self, headers: &HeaderMap, email: &str) -> bool {
        let (Some(devices), Some(sealed)) = (&self.devices, cookie(headers, DEVICE_COOKIE)) else {
            return false;
        };
        devices
            .open(DEVICE_OWNER, sealed)
            .is_ok_and(|known| known == email)
    }

    /// The `Set-Cookie` that marks this browser as `email`'s.
    fn device_cookie(&self, email: &str) -> Option<HeaderValue> {
        let sealed = self.devices.as_ref()?.seal(DEVICE_OWNER, email).ok()?;
        HeaderValue::from_str(&format!(
            "{DEVICE_COOKIE}={sealed}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={DEVICE_TTL_S}"
        ))
        .ok()
    }
}

impl Default for AdminState {
    /// Device cookies sealed with a key of this process only.
    fn default() -> Self {
        AdminState {
            by_ip: std::sync::Arc::new(RequestLimiter::new(LOGINS_PER_IP_PER_MINUTE, 5)),
            by_email: std::sync::Arc::new(RequestLimiter::new(FAILURES_PER_EMAIL_PER_MINUTE, 5)),
            devices: crate::SecretBox::ephemeral().ok(),
            registrar: Default::default(),
        }
    }
}

/// A logged-in dashboard user: the extractor every dashboard handler takes.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub Login);

impl Admin {
    /// The user's organisation: every query is scoped to it.
    pub fn org(&self) -> &str {
        &self.0.user.org
    }

    /// Refuses users below `role`.
    pub fn require(&self, role: Role) -> Result<(), AdminError> {
        if self.0.user.role >= role {
            Ok(())
        } else {
            Err(AdminError::Forbidden("Your role may not do this."))
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        if let Some(a) = parts.extensions.get::<Admin>() {
            return Ok(a.clone());
        }
        login_of(state, &parts.headers)
            .await?
            .map(Admin)
            .ok_or(AdminError::LoginRequired)
    }
}

/// The login behind the request's session cookie.
async fn login_of(state: &AppState, headers: &HeaderMap) -> Result<Option<Login>, AdminError> {
    let Some(cookie) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.store.login(cookie, unix_now()).await?)
}

/// A cookie's value from the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Refuses every state-changing dashboard request without a login (303 to the login page) or
/// without the login's CSRF token (403), taken from the `csrf` form field or `X-CSRF-Token`.
pub(crate) async fn guard(
    State(state): State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Result<Response, AdminError> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(next.run(req).await);
    }
    let login = login_of(&state, req.headers())
        .await?
        .ok_or(AdminError::LoginRequired)?;
    let (mut parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| AdminError::BadRequest("The form is too large."))?;
    let from_header = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let token = from_header.or_else(|| {
        url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
    });
    if !token.is_some_and(|t| same_secret(&t, &login.csrf)) {
        tracing::warn!(user = %login.user.id, "dashboard request without a valid CSRF token");
        return Err(AdminError::Forbidden(
            "The form expired or did not come from this dashboard; reload the page and try again.",
        ));
    }
    parts.extensions.insert(Admin(login));
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The login page.
#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    email: String,
    error: String,
    csrf: String,
}

fn login_page(status: StatusCode, email: &str, error: &str, csrf: String) -> Response {
    let set = format!("{LOGIN_CSRF_COOKIE}={csrf}; Path=/admin; HttpOnly; SameSite=Lax");
    let page = LoginPage {
        email: email.to_owned(),
        error: error.to_owned(),
        csrf,
    };
    let mut resp = (status, page).into_response();
    if let Ok(v) = HeaderValue::from_str(&set) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /admin/login`.
pub(crate) async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = login_of(&state, &headers).await {
        return Redirect::to("/admin").into_response();
    }
    with_secure(&state, login_page(StatusCode::OK, "", "", fresh_secret()))
}

/// The login form's fields.
#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/login`.
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AdminError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same_secret(&form.csrf, expected) {
        return Err(AdminError::Forbidden(
            "The login form expired; reload the page and try again.",
        ));
    }
    let now = Instant::now();
    let email = form.email.trim().to_lowercase();
    let known = state.admin.known_device(&headers, &email);
    // A browser this user logged in from before skips the limits: guessers elsewhere cannot
    // lock its owner out, and the cookie opens only for this email.
    if !known
        && (state
            .admin
            .by_ip
            .check(&crate::screening::client_key(client_ip), now)
            .is_err()
            || state.admin.by_email.peek(&email, now).is_err())
    {
        tracing::warn!(ip = %client_ip, "login rate limited");
        let page = login_page(
            StatusCode::TOO_MANY_REQUESTS,
            &form.email,
            "Too many login attempts; wait a minute and try again.",
            fresh_secret(),
        );
        return Ok(with_secure(&state, page));
    }
    let Some(user) = state.store.check_password(&email, &form.password).await? else {
        tracing::info!(ip = %client_ip, known_device = known, "login refused");
        if !known {
            let _ = state.admin.by_email.check(&email, now);
        }
        let page = login_page(
            StatusCode::UNAUTHORIZED,
            &form.email,
            "Wrong email or password.",
            fresh_secret(),
        );
        return Ok(with_secure(&state, page));
    };
    let unix = unix_now();
    let login = state
        .store
        .create_login(&user.id, unix, unix + LOGIN_TTL_S)
        .await?;
    state
        .store
        .audit(&user.org, &user.id, "login", &client_ip.to_string(), unix)
        .await?;
    let set = format!(
        "{SESSION_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={LOGIN_TTL_S}",
        login.cookie
    );
    let mut resp = Redirect::to("/admin").into_response();
    if let Ok(v) = HeaderValue::from_str(&set) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.admin.device_cookie(&email) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(with_secure(&state, resp))
}

/// `POST /admin/logout` (CSRF-checked by the guard).
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    if let Some(c) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_login(c, unix_now()).await?;
    }
    let mut resp = Redirect::to("/admin/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("c2c_admin=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(resp)
}

fn fresh_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Marks the cookies of a response Secure when browsers reach us over TLS.
fn with_secure(state: &AppState, mut resp: Response) -> Response {
    if !state.config.public_url.starts_with("https://") {
        return resp;
    }
    let cookies: Vec<HeaderValue> = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| HeaderValue::from_str(&format!("{v}; Secure")).ok())
        .collect();
    resp.headers_mut().remove(header::SET_COOKIE);
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
