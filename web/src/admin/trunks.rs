//! Trunks: the SIP trunks calls leave through (from the configuration file today).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::auth::Admin;
use super::{AdminError, Nav};
use crate::AppState;

/// `/admin/trunks`.
#[derive(Template, WebTemplate)]
#[template(path = "trunks.html")]
pub(crate) struct TrunksPage {
    nav: Nav,
    trunks: Vec<String>,
}

/// `GET /admin/trunks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<TrunksPage, AdminError> {
    Ok(TrunksPage {
        nav: Nav::new(&admin, "trunks"),
        trunks: state.config.trunks.clone(),
    })
}
