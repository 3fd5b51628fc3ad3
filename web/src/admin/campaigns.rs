//! Campaigns: list, create and edit (stored in the database; the change applies to the next
//! call), with the embed snippet and a live preview of the widget.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use c2c_wire::Theme;

use super::auth::Admin;
use super::{AdminError, Nav};
use crate::{AppState, Campaign, CampaignConfig, FallbackKind, NumberPool};
use c2c_store::Role;
use c2c_token::clock::unix_now;

/// One row of the list.
pub(crate) struct CampaignRow {
    id: String,
    name: String,
    active: bool,
    origins: String,
    /// The destinations in the order they are tried.
    destinations: String,
}

/// `/admin/campaigns`.
#[derive(Template, WebTemplate)]
#[template(path = "campaigns.html")]
pub(crate) struct CampaignsPage {
    nav: Nav,
    rows: Vec<CampaignRow>,
    can_edit: bool,
}

/// `GET /admin/campaigns`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<CampaignsPage, AdminError> {
    let rows = state
        .campaigns
        .all()
        .iter()
        .filter(|c| c.config.org == admin.org())
        .map(|c| CampaignRow {
            id: c.config.public_id.clone(),
            name: c.config.name.clone(),
            active: c.config.active,
            origins: c.origins.join(" "),
            destinations: c.config.destinations.join(" → "),
        })
        .collect();
    Ok(CampaignsPage {
        nav: Nav::new(&admin, "campaigns"),
        rows,
        can_edit: admin.require(Role::Admin).is_ok(),
    })
}

/// The campaign form's fields, as posted and as shown.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct CampaignForm {
    #[serde(default)]
    public_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    hours: String,
    #[serde(default)]
    trunk: String,
    /// One destination per line, in the order they are tried.
    #[serde(default)]
    destinations: String,
    #[serde(default)]
    ring_timeout_s: String,
    #[serde(default)]
    pool_first: String,
    #[serde(default)]
    pool_count: String,
    #[serde(default)]
    pool_list: String,
    #[serde(default)]
    max_concurrent_calls: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    fallback: String,
    #[serde(default)]
    fallback_message: String,
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl CampaignForm {
    fn from_config(c: &CampaignConfig) -> CampaignForm {
        CampaignForm {
            public_id: c.public_id.clone(),
            name: c.name.clone(),
            active: c.active.then(|| "on".into()),
            allowed_origins: c.allowed_origins.join("\n"),
            timezone: c.timezone.clone(),
            hours: c.hours.join("\n"),
            trunk: c.trunk.clone(),
            destinations: c.destinations.join("\n"),
            ring_timeout_s: c.ring_timeout_s.to_string(),
            pool_first: c.number_pool.first.clone(),
            pool_count: c.number_pool.count.to_string(),
            pool_list: c.number_pool.list.join("\n"),
            max_concurrent_calls: c.max_concurrent_calls.to_string(),
            label: c.theme.label.clone(),
            color: c.theme.color.clone(),
            position: c.theme.position.clone(),
            fallback: match c.fallback {
                FallbackKind::Callback => "callback".into(),
                FallbackKind::Message => "message".into(),
            },
            fallback_message: c.fallback_message.clone(),
        }
    }

    /// The settings this form describes on top of `base` (which keeps what the form does
    /// not show: rate limits, daily cap, bot check); the field and message when invalid.
    fn to_config(
        &self,
        mut base: CampaignConfig,
        trunks: &[String],
    ) -> Result<Campaign, (&'static str, String)> {
        let number = |field, s: &str| -> Result<u32, (&'static str, String)> {
            s.trim()
                .parse()
                .map_err(|_| (field, "Enter a whole number.".to_string()))
        };
        if !trunks.contains(&self.trunk) {
            return Err(("trunk", "Pick one of your organisation's trunks.".into()));
        }
        if !is_hex_colour(self.color.trim()) {
            return Err(("color", "Use a colour like #0b6bcb.".into()));
        }
        if !matches!(
            self.position.as_str(),
            "bottom-right" | "bottom-left" | "top-right" | "top-left"
        ) {
            return Err(("position", "Pick a position.".into()));
        }
        if self.name.chars().count() > 200 || self.fallback_message.chars().count() > 500 {
            return Err((
                "name",
                "Keep the name under 200 and the message under 500 characters.".into(),
            ));
        }
        base.public_id = self.public_id.trim().to_owned();
        base.name = self.name.trim().to_owned();
        base.active = self.active.is_some();
        base.allowed_origins = lines(&self.allowed_origins);
        base.timezone = self.timezone.trim().to_owned();
        base.hours = lines(&self.hours);
        base.trunk = self.trunk.clone();
        base.destinations = lines(&self.destinations);
        base.ring_timeout_s = number("ring_timeout_s", &self.ring_timeout_s)?;
        base.number_pool = NumberPool {
            first: self.pool_first.trim().to_owned(),
            count: if self.pool_count.trim().is_empty() {
                0
            } else {
                number("pool_count", &self.pool_count)?
            },
            list: lines(&self.pool_list),
        };
        base.max_concurrent_calls = number("max_concurrent_calls", &self.max_concurrent_calls)?;
        base.theme = Theme {
            label: self.label.trim().chars().take(60).collect(),
            color: self.color.trim().to_owned(),
            position: self.position.clone(),
            text_color: base.theme.text_color.clone(),
        };
        base.fallback = if self.fallback == "callback" {
            FallbackKind::Callback
        } else {
            FallbackKind::Message
        };
        base.fallback_message = self.fallback_message.trim().to_owned();
        if jiff::tz::TimeZone::get(&base.timezone).is_err() {
            return Err((
                "timezone",
                "Use an IANA time zone like Europe/Berlin.".into(),
            ));
        }
        Campaign::new(base).map_err(|e| (form_field(e.key), e.problem))
    }
}

/// The form field a validation key belongs to.
fn form_field(key: &'static str) -> &'static str {
    match key {
        "number_pool" => "pool_first",
        other => other,
    }
}

fn is_hex_colour(c: &str) -> bool {
    c.strip_prefix('#')
        .is_some_and(|h| matches!(h.len(), 3 | 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `/admin/campaigns/new` and `/admin/campaigns/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "campaign.html")]
pub(crate) struct CampaignPage {
    nav: Nav,
    creating: bool,
    f: CampaignForm,
    trunks: Vec<String>,
    error_field: &'static str,
    error: String,
    saved: bool,
    can_edit: bool,
    snippet: String,
    public_url: String,
}

impl CampaignPage {
    fn new(state: &AppState, admin: &Admin, creating: bool, f: CampaignForm) -> CampaignPage {
        let snippet = format!(
            "<script src=\"{}/widget.js\" data-campaign=\"{}\" async></script>",
            state.config.public_url, f.public_id
        );
        CampaignPage {
            nav: Nav::new(admin, "campaigns"),
            creating,
            trunks: state.trunks.names(admin.org()),
            error_field: "",
            error: String::new(),
            saved: false,
            can_edit: admin.require(Role::Admin).is_ok(),
            snippet,
            public_url: state.config.public_url.clone(),
            f,
        }
    }
}

/// A new campaign's defaults.
fn blank(org: &str, trunks: &[String]) -> CampaignConfig {
    CampaignConfig {
        public_id: String::new(),
        org: org.to_owned(),
        name: String::new(),
        active: true,
        allowed_origins: Vec::new(),
        trunk: trunks.first().cloned().unwrap_or_default(),
        destinations: Vec::new(),
        ring_timeout_s: 20,
        number_pool: NumberPool {
            first: String::new(),
            count: 100,
            list: Vec::new(),
        },
        theme: Theme::default(),
        fallback_message: "We can't take calls right now. Please try again later.".into(),
        fallback: FallbackKind::Message,
        timezone: "UTC".into(),
        hours: Vec::new(),
        max_concurrent_calls: 10,
        daily_cap: 0,
        rate_per_ip_per_minute: 10,
        rate_per_campaign_per_minute: 600,
        bot_check: None,
        privacy_id: false,
        unused_tokens_per_client: 3,
        routing: Default::default(),
    }
}

/// `GET /admin/campaigns/new`.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<CampaignPage, AdminError> {
    admin.require(Role::Admin)?;
    let f = CampaignForm::from_config(&blank(admin.org(), &state.trunks.names(admin.org())));
    Ok(CampaignPage::new(&state, &admin, true, f))
}

/// `POST /admin/campaigns/new`.
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(f): Form<CampaignForm>,
) -> Result<Response, AdminError> {
    admin.require(Role::Admin)?;
    let trunks = state.trunks.names(admin.org());
    let campaign = match f.to_config(blank(admin.org(), &trunks), &trunks) {
        Ok(c) => c,
        Err((field, why)) => return Ok(invalid(&state, &admin, true, f, field, why)),
    };
    let id = campaign.config.public_id.clone();
    let json = serde_json::to_string(&campaign.config)
        .map_err(|_| AdminError::BadRequest("The campaign could not be stored."))?;
    let now = unix_now();
    if !state
        .store
        .create_campaign(&id, admin.org(), &json, now)
        .await?
    {
        let why = "This id is taken; pick another.".to_string();
        return Ok(invalid(&state, &admin, true, f, "public_id", why));
    }
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "campaign.create", &id, now)
        .await?;
    refresh(&state).await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{id}?saved=1")).into_response())
}

/// The org's campaign with this id, or 404.
fn owned(
    state: &AppState,
    admin: &Admin,
    id: &str,
) -> Result<std::sync::Arc<Campaign>, AdminError> {
    state
        .campaigns
        .get(id)
        .filter(|c| c.config.org == admin.org())
        .ok_or(AdminError::NotFound)
}

/// `?saved=1` after a successful save.
#[derive(serde::Deserialize)]
pub(crate) struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/campaigns/{id}`.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> Result<CampaignPage, AdminError> {
    let c = owned(&state, &admin, &id)?;
    let mut page = CampaignPage::new(&state, &admin, false, CampaignForm::from_config(&c.config));
    page.saved = q.saved.is_some();
    Ok(page)
}

/// `POST /admin/campaigns/{id}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(mut f): Form<CampaignForm>,
) -> Result<Response, AdminError> {
    let current = owned(&state, &admin, &id)?;
    admin.require(Role::Admin)?;
    f.public_id = id.clone();
    let trunks = state.trunks.names(admin.org());
    let campaign = match f.to_config(current.config.clone(), &trunks) {
        Ok(c) => c,
        Err((field, why)) => return Ok(invalid(&state, &admin, false, f, field, why)),
    };
    let json = serde_json::to_string(&campaign.config)
        .map_err(|_| AdminError::BadRequest("The campaign could not be stored."))?;
    let now = unix_now();
    if !state
        .store
        .update_campaign(&id, admin.org(), &json, now)
        .await?
    {
        return Err(AdminError::NotFound);
    }
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "campaign.update", &id, now)
        .await?;
    refresh(&state).await?;
    Ok(Redirect::to(&format!("/admin/campaigns/{id}?saved=1")).into_response())
}

/// Reloads the campaign cache so the change applies to the next call.
async fn refresh(state: &AppState) -> Result<(), AdminError> {
    state.campaigns.refresh(&state.store).await.map_err(|e| {
        tracing::error!(error = %e, "campaign reload failed");
        AdminError::BadRequest("Saved, but the campaigns could not be reloaded.")
    })
}

fn invalid(
    state: &AppState,
    admin: &Admin,
    creating: bool,
    f: CampaignForm,
    field: &'static str,
    why: String,
) -> Response {
    let mut page = CampaignPage::new(state, admin, creating, f);
    page.error_field = field;
    page.error = why;
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}
