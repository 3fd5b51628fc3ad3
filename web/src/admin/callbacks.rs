//! Callback requests visitors left: list, and mark done.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::auth::Admin;
use super::calls::time;
use super::{AdminError, Nav};
use crate::AppState;
use c2c_store::Role;
use c2c_token::clock::unix_now;

/// One request in the list.
pub(crate) struct Row {
    id: String,
    campaign: String,
    phone: String,
    name: String,
    created: String,
    done: bool,
}

/// `/admin/callbacks`.
#[derive(Template, WebTemplate)]
#[template(path = "callbacks.html")]
pub(crate) struct CallbacksPage {
    nav: Nav,
    rows: Vec<Row>,
    can_edit: bool,
}

/// `GET /admin/callbacks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<CallbacksPage, AdminError> {
    let mut rows = Vec::new();
    for campaign in super::org_campaign_ids(&state, admin.org()).await? {
        for (r, done_at) in state.store.callbacks_with_state(&campaign).await? {
            rows.push((
                r.created_at,
                Row {
                    id: r.id,
                    campaign: r.campaign,
                    phone: r.phone,
                    name: r.name,
                    created: time(r.created_at),
                    done: done_at.is_some(),
                },
            ));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Ok(CallbacksPage {
        nav: Nav::new(&admin, "callbacks"),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        can_edit: admin.require(Role::Admin).is_ok(),
    })
}

/// `POST /admin/callbacks/{id}/done`.
pub(crate) async fn done(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let campaign = state
        .store
        .callback_campaign(&id)
        .await?
        .filter(|c| {
            state
                .campaigns
                .get(c)
                .is_some_and(|c| c.config.org == admin.org())
        })
        .ok_or(AdminError::NotFound)?;
    admin.require(Role::Admin)?;
    let now = unix_now();
    state.store.mark_callback_done(&id, &campaign, now).await?;
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "callback.done", &id, now)
        .await?;
    Ok(Redirect::to("/admin/callbacks").into_response())
}
