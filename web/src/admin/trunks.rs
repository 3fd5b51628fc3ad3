//! Trunks: the organisation's SIP trunks, listed, created, edited and deleted here (stored
//! in the database; the change applies to the next call), with a "test" button that pings
//! one with SIP OPTIONS. Passwords are write-only: never shown after saving.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use c2c_sbc::trunk::{Transport, TrunkConfig};

use super::auth::Admin;
use super::trunk_form::{field_error, PasswordChange, TrunkForm};
use super::{sip_ping, AdminError, Nav};
use crate::{AppState, Trunk};
use c2c_store::{Role, SecretUpdate};
use c2c_token::clock::unix_now;

/// One row of the list.
pub(crate) struct TrunkRowView {
    name: String,
    host: String,
    port: String,
    transport: &'static str,
    group: String,
    priority: u16,
    password_set: bool,
    password_unreadable: bool,
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
    }
}

/// `/admin/trunks`.
#[derive(Template, WebTemplate)]
#[template(path = "trunks.html")]
pub(crate) struct TrunksPage {
    nav: Nav,
    trunks: Vec<TrunkRowView>,
    can_edit: bool,
    /// The trunk just tested (or not deleted), and the outcome.
    tested: String,
    ok: bool,
    result: String,
}

/// `GET /admin/trunks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<TrunksPage, AdminError> {
    let trunks = state
        .trunks
        .for_org(admin.org())
        .iter()
        .map(|t| TrunkRowView {
            name: t.config.name.clone(),
            host: t.config.host.clone(),
            port: match t.config.port {
                0 => "default / SRV".into(),
                p => p.to_string(),
            },
            transport: transport_name(t.config.transport),
            group: t.config.group.clone().unwrap_or_default(),
            priority: t.config.priority,
            password_set: t.config.password.is_some(),
            password_unreadable: t.password_unreadable,
        })
        .collect();
    Ok(TrunksPage {
        nav: Nav::new(&admin, "trunks"),
        trunks,
        can_edit: admin.require(Role::Admin).is_ok(),
        tested: String::new(),
        ok: false,
        result: String::new(),
    })
}

/// The org's trunk of this name, or 404.
fn owned(state: &AppState, admin: &Admin, name: &str) -> Result<Arc<Trunk>, AdminError> {
    state
        .trunks
        .get(admin.org(), name)
        .ok_or(AdminError::NotFound)
}

/// `POST /admin/trunks/{name}/test`: sends OPTIONS and shows the answer.
pub(crate) async fn test(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<TrunksPage, AdminError> {
    let trunk = owned(&state, &admin, &name)?;
    admin.require(Role::Admin)?;
    let c = &trunk.config;
    let outcome = if c.transport == Transport::Udp {
        sip_ping::ping(&c.host, c.port_or_default(), &state.config.trunk_networks).await
    } else {
        Err(format!(
            "only UDP trunks can be tested from here; {} uses {}",
            c.name,
            transport_name(c.transport)
        ))
    };
    let (ok, result) = match outcome {
        Ok(r) => (true, r),
        Err(r) => (false, r),
    };
    let mut page = list(State(state), admin).await?;
    page.tested = c.name.clone();
    page.ok = ok;
    page.result = result;
    Ok(page)
}

/// `/admin/trunks/new` and `/admin/trunks/{name}`.
#[derive(Template, WebTemplate)]
#[template(path = "trunk.html")]
pub(crate) struct TrunkPage {
    nav: Nav,
    creating: bool,
    f: TrunkForm,
    /// A password is stored (the form shows "set — leave blank to keep").
    password_set: bool,
    /// The stored password does not open here: it must be entered again.
    password_unreadable: bool,
    /// The CA file from the configuration file, shown read-only.
    tls_ca_file: String,
    error_field: &'static str,
    error: String,
    saved: bool,
    can_edit: bool,
}

impl TrunkPage {
    fn new(admin: &Admin, creating: bool, current: Option<&Trunk>, f: TrunkForm) -> Self {
        let password_unreadable = current.is_some_and(|t| t.password_unreadable);
        let current = current.map(|t| &t.config);
        TrunkPage {
            nav: Nav::new(admin, "trunks"),
            creating,
            password_unreadable,
            password_set: current.is_some_and(|c| c.password.is_some()),
            tls_ca_file: current
                .and_then(|c| c.tls_ca_file.as_ref())
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            error_field: "",
            error: String::new(),
            saved: false,
            can_edit: admin.require(Role::Admin).is_ok(),
            f: TrunkForm {
                password: String::new(), // write-only: never echoed, not even after an error
                ..f
            },
        }
    }
}

/// `GET /admin/trunks/new`.
pub(crate) async fn new_form(admin: Admin) -> Result<TrunkPage, AdminError> {
    admin.require(Role::Admin)?;
    let f = TrunkForm::from_config(&TrunkConfig::default());
    Ok(TrunkPage::new(&admin, true, None, f))
}

/// Shown next to a host outside `[sip] trunk_networks`.
const OUTSIDE: &str = "This address is outside the networks trunks may use here; ask your operator which ones are allowed.";

/// Whether the trunk's host resolves only to addresses the operator does not allow. A name
/// that does not resolve yet passes: the SBC checks again every time it resolves it.
async fn outside_networks(state: &AppState, c: &TrunkConfig) -> bool {
    let networks = &state.config.trunk_networks;
    if networks.is_open() {
        return false;
    }
    let host = c.host.trim_start_matches('[').trim_end_matches(']');
    match tokio::net::lookup_host((host, c.port_or_default())).await {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| !networks.allows(a.ip()))
        }
        Err(_) => false,
    }
}

/// `POST /admin/trunks/new`.
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(f): Form<TrunkForm>,
) -> Result<Response, AdminError> {
    admin.require(Role::Admin)?;
    let config = match f.to_config(TrunkConfig::default()) {
        Ok(c) => c,
        Err((field, why)) => return Ok(invalid(&admin, true, None, f, field, why)),
    };
    if outside_networks(&state, &config).await {
        return Ok(invalid(&admin, true, None, f, "host", OUTSIDE.into()));
    }
    let now = unix_now();
    let row = match state.trunks.to_row(admin.org(), &config, now) {
        Ok(row) => row,
        Err(e) => return rejected(&admin, true, None, f, &e),
    };
    if !state.store.create_trunk(&row).await? {
        let why = "You have a trunk of this name; pick another.".to_string();
        return Ok(invalid(&admin, true, None, f, "name", why));
    }
    saved(&state, &admin, "trunk.create", &config.name, now).await
}

/// `?saved=1` after a successful save.
#[derive(serde::Deserialize)]
pub(crate) struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/trunks/{name}`.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    Query(q): Query<Saved>,
) -> Result<TrunkPage, AdminError> {
    let t = owned(&state, &admin, &name)?;
    let f = TrunkForm::from_config(&t.config);
    let mut page = TrunkPage::new(&admin, false, Some(&t), f);
    page.saved = q.saved.is_some();
    Ok(page)
}

/// `POST /admin/trunks/{name}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    Form(mut f): Form<TrunkForm>,
) -> Result<Response, AdminError> {
    let current = owned(&state, &admin, &name)?;
    admin.require(Role::Admin)?;
    f.name = name.clone(); // the name is the key campaigns use; it does not change
    let cur = Some(current.as_ref());
    let config = match f.to_config(current.config.clone()) {
        Ok(c) => c,
        Err((field, why)) => return Ok(invalid(&admin, false, cur, f, field, why)),
    };
    if outside_networks(&state, &config).await {
        return Ok(invalid(&admin, false, cur, f, "host", OUTSIDE.into()));
    }
    let now = unix_now();
    let row = match state.trunks.to_row(admin.org(), &config, now) {
        Ok(row) => row,
        Err(e) => return rejected(&admin, false, cur, f, &e),
    };
    // Keep: the stored sealed value stays as it is (to_row sealed the same password anew).
    let secret = match f.password_change() {
        PasswordChange::Keep => SecretUpdate::Keep,
        PasswordChange::Set(_) => SecretUpdate::Set(&row.secret),
    };
    let org = admin.org();
    if !state
        .store
        .update_trunk(org, &name, &row.config, secret, now)
        .await?
    {
        return Err(AdminError::NotFound);
    }
    saved(&state, &admin, "trunk.update", &name, now).await
}

/// `POST /admin/trunks/{name}/delete`: only when no campaign of the organisation uses it.
pub(crate) async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<Response, AdminError> {
    let trunk = owned(&state, &admin, &name)?;
    admin.require(Role::Admin)?;
    let users: Vec<String> = state
        .campaigns
        .all()
        .iter()
        .filter(|c| c.config.org == admin.org() && c.config.trunk == name)
        .map(|c| c.config.public_id.clone())
        .collect();
    if !users.is_empty() {
        let mut page = list(State(state), admin).await?;
        page.tested = trunk.config.name.clone();
        page.result = format!(
            "not deleted: campaign(s) {} use it; move them to another trunk first",
            users.join(", ")
        );
        return Ok((StatusCode::CONFLICT, page).into_response());
    }
    if !state.store.delete_trunk(admin.org(), &name).await? {
        return Err(AdminError::NotFound);
    }
    let now = unix_now();
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "trunk.delete", &name, now)
        .await?;
    refresh(&state).await?;
    Ok(Redirect::to("/admin/trunks").into_response())
}

/// Audits a save, reloads the trunks (the SBC gets them at once) and shows the saved trunk.
async fn saved(
    state: &AppState,
    admin: &Admin,
    action: &str,
    name: &str,
    now: i64,
) -> Result<Response, AdminError> {
    state
        .store
        .audit(admin.org(), &admin.0.user.id, action, name, now)
        .await?;
    refresh(state).await?;
    Ok(Redirect::to(&format!("/admin/trunks/{name}?saved=1")).into_response())
}

/// Reloads the trunk cache, which wakes the gateway's push into the SBC.
async fn refresh(state: &AppState) -> Result<(), AdminError> {
    state.trunks.refresh(&state.store).await.map_err(|e| {
        tracing::error!(error = %e, "trunk reload failed");
        AdminError::BadRequest("Saved, but the trunks could not be reloaded.")
    })
}

/// The form again, with the catalog's complaint next to its field.
fn rejected(
    admin: &Admin,
    creating: bool,
    current: Option<&Trunk>,
    f: TrunkForm,
    e: &crate::TrunkCatalogError,
) -> Result<Response, AdminError> {
    match field_error(e) {
        Some((field, why)) => Ok(invalid(admin, creating, current, f, field, why)),
        None => {
            tracing::error!(error = %e, "trunk could not be stored");
            Err(AdminError::BadRequest("The trunk could not be stored."))
        }
    }
}

fn invalid(
    admin: &Admin,
    creating: bool,
    current: Option<&Trunk>,
    f: TrunkForm,
    field: &'static str,
    why: String,
) -> Response {
    let mut page = TrunkPage::new(admin, creating, current, f);
    page.error_field = field;
    page.error = why;
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}
