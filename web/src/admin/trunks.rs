//! Trunks: the SIP trunks calls leave through (from the configuration file today), with a
//! "test" button that pings one with SIP OPTIONS. Credentials are never shown.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};

use super::auth::Admin;
use super::{sip_ping, AdminError, Nav};
use crate::store::Role;
use crate::{AppState, TrunkInfo};

/// `/admin/trunks`.
#[derive(Template, WebTemplate)]
#[template(path = "trunks.html")]
pub(crate) struct TrunksPage {
    nav: Nav,
    trunks: Vec<TrunkInfo>,
    can_edit: bool,
    /// The trunk just tested, and the outcome.
    tested: String,
    ok: bool,
    result: String,
}

/// `GET /admin/trunks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<TrunksPage, AdminError> {
    Ok(TrunksPage {
        nav: Nav::new(&admin, "trunks"),
        trunks: state.config.trunks.clone(),
        can_edit: admin.require(Role::Admin).is_ok(),
        tested: String::new(),
        ok: false,
        result: String::new(),
    })
}

/// `POST /admin/trunks/{name}/test`: sends OPTIONS and shows the answer.
pub(crate) async fn test(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<TrunksPage, AdminError> {
    let trunk = state
        .config
        .trunks
        .iter()
        .find(|t| t.name == name)
        .cloned()
        .ok_or(AdminError::NotFound)?;
    admin.require(Role::Admin)?;
    let outcome = if trunk.transport == "udp" {
        sip_ping::ping(&trunk.host, trunk.port).await
    } else {
        Err(format!(
            "only UDP trunks can be tested from here; {} uses {}",
            trunk.name, trunk.transport
        ))
    };
    let (ok, result) = match outcome {
        Ok(r) => (true, r),
        Err(r) => (false, r),
    };
    let mut page = list(State(state), admin).await?;
    page.tested = trunk.name;
    page.ok = ok;
    page.result = result;
    Ok(page)
}
