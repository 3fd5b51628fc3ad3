//! Dashboard users of the organisation: list; owners add users.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::auth::Admin;
use super::calls::time;
use super::{AdminError, Nav};
use crate::AppState;
use c2c_store::Role;
use c2c_token::clock::unix_now;

/// Shortest password accepted.
const MIN_PASSWORD: usize = 12;

/// One user in the list.
pub(crate) struct Row {
    email: String,
    role: &'static str,
    created: String,
}

/// `/admin/users`.
#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
pub(crate) struct UsersPage {
    nav: Nav,
    rows: Vec<Row>,
    can_edit: bool,
    email: String,
    role: String,
    error_field: &'static str,
    error: &'static str,
    added: String,
}

async fn page(state: &AppState, admin: &Admin) -> Result<UsersPage, AdminError> {
    let rows = state
        .store
        .users(admin.org())
        .await?
        .into_iter()
        .map(|u| Row {
            email: u.email,
            role: u.role.as_str(),
            created: time(u.created_at),
        })
        .collect();
    Ok(UsersPage {
        nav: Nav::new(admin, "users"),
        rows,
        can_edit: admin.require(Role::Owner).is_ok(),
        email: String::new(),
        role: "viewer".into(),
        error_field: "",
        error: "",
        added: String::new(),
    })
}

/// `GET /admin/users`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<UsersPage, AdminError> {
    page(&state, &admin).await
}

/// The new-user form.
#[derive(serde::Deserialize)]
pub(crate) struct NewUser {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users` (owners only).
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(f): Form<NewUser>,
) -> Result<Response, AdminError> {
    admin.require(Role::Owner)?;
    let email = f.email.trim();
    let problem =
        if !email.contains('@') || email.len() > 254 || email.contains(char::is_whitespace) {
            Some(("email", "Enter an email address."))
        } else if f.password.chars().count() < MIN_PASSWORD {
            Some(("password", "Use at least 12 characters."))
        } else if Role::parse(&f.role).is_none() {
            Some(("role", "Pick a role."))
        } else {
            None
        };
    let now = unix_now();
    let problem = match (problem, Role::parse(&f.role)) {
        (None, Some(role)) => {
            match state
                .store
                .create_user(admin.org(), email, &f.password, role, now)
                .await?
            {
                Some(u) => {
                    state
                        .store
                        .audit(admin.org(), &admin.0.user.id, "user.create", &u.id, now)
                        .await?;
                    let mut p = page(&state, &admin).await?;
                    p.added = u.email;
                    return Ok(p.into_response());
                }
                None => ("email", "A user with this email exists already."),
            }
        }
        (Some(p), _) => p,
        (None, None) => ("role", "Pick a role."),
    };
    let mut p = page(&state, &admin).await?;
    p.email = email.to_owned();
    p.role = f.role;
    p.error_field = problem.0;
    p.error = problem.1;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response())
}
