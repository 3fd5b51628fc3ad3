//! API keys for server-to-server lookups: list, create (secret shown once), revoke.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::auth::Admin;
use super::calls::time;
use super::{AdminError, Nav};
use crate::AppState;
use c2c_store::Role;
use c2c_token::clock::unix_now;

/// One key in the list.
pub(crate) struct Row {
    id: String,
    label: String,
    created: String,
    revoked: bool,
}

/// `/admin/keys`.
#[derive(Template, WebTemplate)]
#[template(path = "keys.html")]
pub(crate) struct KeysPage {
    nav: Nav,
    rows: Vec<Row>,
    /// A key just created: the only time its token is shown.
    new_token: String,
    error: String,
    can_edit: bool,
}

async fn page(
    state: &AppState,
    admin: &Admin,
    new_token: String,
    error: String,
) -> Result<KeysPage, AdminError> {
    let rows = state
        .store
        .api_keys(admin.org())
        .await?
        .into_iter()
        .map(|k| Row {
            id: k.id,
            label: k.label,
            created: time(k.created_at),
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    Ok(KeysPage {
        nav: Nav::new(admin, "keys"),
        rows,
        new_token,
        error,
        can_edit: admin.require(Role::Admin).is_ok(),
    })
}

/// `GET /admin/keys`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<KeysPage, AdminError> {
    page(&state, &admin, String::new(), String::new()).await
}

/// The new-key form.
#[derive(serde::Deserialize)]
pub(crate) struct NewKey {
    #[serde(default)]
    label: String,
}

/// `POST /admin/keys`: creates a key and shows its token once.
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(f): Form<NewKey>,
) -> Result<Response, AdminError> {
    admin.require(Role::Admin)?;
    let label = f.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        let why = "Say what the key is for (up to 100 characters).".to_string();
        let p = page(&state, &admin, String::new(), why).await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
    }
    let now = unix_now();
    let key = state.store.create_api_key(admin.org(), label, now).await?;
    state
        .store
        .audit(
            admin.org(),
            &admin.0.user.id,
            "api_key.create",
            &key.id,
            now,
        )
        .await?;
    Ok(page(&state, &admin, key.token, String::new())
        .await?
        .into_response())
}

/// `POST /admin/keys/{id}/revoke`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let now = unix_now();
    if !state
        .store
        .api_keys(admin.org())
        .await?
        .iter()
        .any(|k| k.id == id)
    {
        return Err(AdminError::NotFound);
    }
    admin.require(Role::Admin)?;
    state.store.revoke_api_key(admin.org(), &id, now).await?;
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "api_key.revoke", &id, now)
        .await?;
    Ok(Redirect::to("/admin/keys").into_response())
}
