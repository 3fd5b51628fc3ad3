//! Agents: the organisation's agents with their presence and registered phones (updated
//! over server-sent events), create one with a SIP password shown exactly once, edit name,
//! skills and max calls, set away or back, and give a new SIP password (which signs its
//! phones out).

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use futures_util::Stream;

use super::auth::Admin;
use super::overview::duration;
use super::{AdminError, Nav};
use crate::agents::{
    agent_state, check_sip_username, new_sip_password, parse_skill_lines, sip_account,
};
use crate::AppState;
use c2c_store::{
    AgentCallTimes, AgentContact, AgentCredentialRow, AgentLive, ContactKind, NewAgent, Role,
};
use c2c_token::clock::{unix_ms, unix_now};

/// How often the agents' live state is looked at for changes.
const AGENTS_EVERY: Duration = Duration::from_secs(1);
/// Most characters of a display name.
const MAX_NAME: usize = 100;
/// The range of calls one agent carries at once.
const MAX_CALLS: std::ops::RangeInclusive<i64> = 1..=20;

/// A registered phone, as the page and the event stream show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Device {
    /// Its Contact URI (from the phone: shown as text only).
    contact: String,
    /// Where it is reached, `ip:port`.
    source: String,
    /// `udp`, `tcp` or `tls`.
    transport: String,
    /// Unix seconds when it lapses unless refreshed.
    expires_at: i64,
}

/// An agent's live state: what the event stream sends when it changes. Times are absolute
/// so that the page counts them on without more events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct LiveView {
    id: String,
    /// `offline`, `available`, `ringing`, `on_call`, `wrap_up` or `away`.
    presence: &'static str,
    away: bool,
    ringing: u32,
    on_call: u32,
    /// Unix ms the presence began (ringing, on call, idle), when known.
    since_ms: Option<i64>,
    /// Unix ms the presence ends (wrap-up).
    until_ms: Option<i64>,
    answered_today: u32,
    devices: Vec<Device>,
}

fn live_view(a: &AgentLive, times: Option<&AgentCallTimes>, now_ms: i64) -> LiveView {
    let presence = agent_state(a).presence(now_ms);
    let times = times.copied().unwrap_or_default();
    let (since_ms, until_ms) = match presence {
        c2c_routing::Presence::OnCall => (times.on_call_since_ms, None),
        c2c_routing::Presence::Ringing => (times.ringing_since_ms, None),
        c2c_routing::Presence::Available => {
            ((a.idle_since_ms > 0).then_some(a.idle_since_ms), None)
        }
        c2c_routing::Presence::WrapUp => (None, Some(a.wrap_up_until_ms)),
        c2c_routing::Presence::Away | c2c_routing::Presence::Offline => (None, None),
    };
    LiveView {
        id: a.agent.id.clone(),
        presence: presence.as_str(),
        away: a.agent.away,
        ringing: a.ringing,
        on_call: a.on_call,
        since_ms,
        until_ms,
        answered_today: a.answered_today,
        devices: a
            .registrations
            .iter()
            .map(|r| Device {
                contact: r.contact.clone(),
                source: r.source.clone(),
                transport: r.transport.clone(),
                expires_at: r.expires_at,
            })
            .collect(),
    }
}

/// `1:23` of a span in ms (0 when negative); the page's script writes the same.
fn clock(ms: i64) -> String {
    duration(ms.max(0) / 1000)
}

/// The presence with its time, e.g. `on call · 1:23`, `wrap-up · 0:20 left`; the page's
/// script writes the same as the time runs on.
fn state_text(v: &LiveView, now_ms: i64) -> String {
    let since = |label: String| match v.since_ms {
        Some(t) => format!("{label} · {}", clock(now_ms - t)),
        None => label,
    };
    match v.presence {
        "available" => match v.since_ms {
            Some(t) => format!("available · idle {}", clock(now_ms - t)),
            None => "available".into(),
        },
        "ringing" => since("ringing".into()),
        "on_call" if v.on_call > 1 => since(format!("on {} calls", v.on_call)),
        "on_call" => since("on call".into()),
        "wrap_up" => format!(
            "wrap-up · {} left",
            clock(v.until_ms.unwrap_or(now_ms) - now_ms)
        ),
        other => other.into(),
    }
}

/// A registered phone as the page shows it.
pub(crate) struct DeviceRow {
    contact: String,
    source: String,
    transport: String,
    expires: String,
}

/// One agent as the list and its page show it.
pub(crate) struct Row {
    id: String,
    name: String,
    skills: String,
    max_calls: i64,
    username: String,
    presence: &'static str,
    state: String,
    away: bool,
    answered_today: u32,
    devices: Vec<DeviceRow>,
}

fn row(a: &AgentLive, v: &LiveView, username: Option<&String>, now_ms: i64) -> Row {
    Row {
        id: a.agent.id.clone(),
        name: a.agent.display_name.clone(),
        skills: a
            .agent
            .skills
            .iter()
            .map(|(tag, level)| format!("{tag}={level}"))
            .collect::<Vec<_>>()
            .join(", "),
        max_calls: a.agent.max_calls,
        username: username.cloned().unwrap_or_default(),
        presence: v.presence,
        state: state_text(v, now_ms),
        away: v.away,
        answered_today: v.answered_today,
        devices: v
            .devices
            .iter()
            .map(|d| DeviceRow {
                contact: d.contact.clone(),
                source: d.source.clone(),
                transport: d.transport.clone(),
                expires: clock(d.expires_at.saturating_mul(1000) - now_ms),
            })
            .collect(),
    }
}

/// The organisation's agents now, with their live state.
async fn live(
    state: &AppState,
    org: &str,
    now_ms: i64,
) -> Result<Vec<(AgentLive, LiveView)>, AdminError> {
    let agents = state.store.org_agent_states(org, now_ms).await?;
    let times = state.store.org_agent_call_times(org, now_ms).await?;
    Ok(agents
        .into_iter()
        .map(|a| {
            let v = live_view(&a, times.get(&a.agent.id), now_ms);
            (a, v)
        })
        .collect())
}

/// `/admin/agents`.
#[derive(Template, WebTemplate)]
#[template(path = "agents.html")]
pub(crate) struct AgentsPage {
    nav: Nav,
    rows: Vec<Row>,
    can_edit: bool,
    registrar_on: bool,
}

/// `GET /admin/agents`.
pub(crate) async fn list(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<AgentsPage, AdminError> {
    let now_ms = unix_ms();
    let usernames = state.store.org_agent_usernames(admin.org()).await?;
    let rows = live(&state, admin.org(), now_ms)
        .await?
        .iter()
        .map(|(a, v)| row(a, v, usernames.get(&a.agent.id), now_ms))
        .collect();
    Ok(AgentsPage {
        nav: Nav::new(&admin, "agents"),
        rows,
        can_edit: admin.require(Role::Admin).is_ok(),
        registrar_on: state.admin.registrar.enabled,
    })
}

/// `GET /admin/agents/events`: an `agents` event with every agent first, then one with the
/// agents whose state changed (looked at every second), each `{"now_ms", "agents": [...]}`.
pub(crate) async fn events(
    State(state): State<AppState>,
    admin: Admin,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let org = admin.org().to_owned();
    let stream =
        futures_util::stream::unfold(None, move |last: Option<HashMap<String, LiveView>>| {
            let state = state.clone();
            let org = org.clone();
            async move {
                let mut last = last;
                loop {
                    if last.is_some() {
                        tokio::time::sleep(AGENTS_EVERY).await;
                    }
                    let now_ms = unix_ms();
                    let views = match live(&state, &org, now_ms).await {
                        Ok(views) => views,
                        Err(e) => {
                            tracing::warn!(error = %e, "agents' live state query failed");
                            let keep = last.unwrap_or_default();
                            return Some((Ok(Event::default().comment("retrying")), Some(keep)));
                        }
                    };
                    let first = last.is_none();
                    let prev = last.unwrap_or_default();
                    let changed: Vec<&LiveView> = views
                        .iter()
                        .map(|(_, v)| v)
                        .filter(|v| prev.get(&v.id) != Some(*v))
                        .collect();
                    let data = (first || !changed.is_empty()).then(|| {
                        serde_json::json!({ "now_ms": now_ms, "agents": changed }).to_string()
                    });
                    let next: HashMap<String, LiveView> =
                        views.into_iter().map(|(_, v)| (v.id.clone(), v)).collect();
                    match data {
                        Some(data) => {
                            return Some((
                                Ok(Event::default().event("agents").data(data)),
                                Some(next),
                            ))
                        }
                        None => last = Some(next),
                    }
                }
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The agent form's fields, as posted and as shown.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub(crate) struct AgentForm {
    #[serde(default)]
    name: String,
    /// Only when creating: the account's username is fixed afterwards.
    #[serde(default)]
    username: String,
    /// One `TAG=LEVEL` per line.
    #[serde(default)]
    skills: String,
    #[serde(default)]
    max_calls: String,
}

/// What a valid form says: the name, max calls and skills.
type Checked = (String, i64, Vec<(String, i64)>);

impl AgentForm {
    fn of(a: &AgentLive) -> AgentForm {
        AgentForm {
            name: a.agent.display_name.clone(),
            username: String::new(),
            skills: a
                .agent
                .skills
                .iter()
                .map(|(tag, level)| format!("{tag}={level}"))
                .collect::<Vec<_>>()
                .join("\n"),
            max_calls: a.agent.max_calls.to_string(),
        }
    }

    /// The name, max calls and skills; the field and the message (naming the fix) when not.
    fn check(&self, creating: bool) -> Result<Checked, (&'static str, String)> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control)
        {
            return Err((
                "name",
                format!("name: give 1 to {MAX_NAME} characters, on one line"),
            ));
        }
        if creating {
            check_sip_username(self.username.trim()).map_err(|e| ("username", e))?;
        }
        let skills = parse_skill_lines(&self.skills).map_err(|e| ("skills", e))?;
        let max_calls = self
            .max_calls
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| MAX_CALLS.contains(n))
            .ok_or_else(|| {
                (
                    "max_calls",
                    format!(
                        "max calls: use a whole number from {} to {}",
                        MAX_CALLS.start(),
                        MAX_CALLS.end()
                    ),
                )
            })?;
        let skills = skills
            .into_iter()
            .map(|(tag, level)| (tag, i64::from(level)))
            .collect();
        Ok((name.to_owned(), max_calls, skills))
    }
}

/// `/admin/agents/new` and `/admin/agents/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "agent.html")]
pub(crate) struct AgentPage {
    nav: Nav,
    /// The agent (None when creating), with its live state.
    agent: Option<Row>,
    f: AgentForm,
    error_field: &'static str,
    error: String,
    saved: bool,
    can_edit: bool,
    /// A SIP password just set: the only time it is shown.
    password: String,
    /// The username it belongs to.
    password_user: String,
    /// `[registrar] realm`.
    realm: String,
    /// Where phones register, `host:port`.
    registrar: String,
    /// The host in the agent's SIP address.
    sip_host: String,
    registrar_on: bool,
}

impl AgentPage {
    fn new(state: &AppState, admin: &Admin, agent: Option<Row>, f: AgentForm) -> AgentPage {
        let info = &state.admin.registrar;
        let sip_host = url::Url::parse(&state.config.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "this-server".into());
        AgentPage {
            nav: Nav::new(admin, "agents"),
            agent,
            f,
            error_field: "",
            error: String::new(),
            saved: false,
            can_edit: admin.require(Role::Admin).is_ok(),
            password: String::new(),
            password_user: String::new(),
            realm: info.realm.clone(),
            registrar: format!("{sip_host}:{}", info.sip_port),
            sip_host,
            registrar_on: info.enabled,
        }
    }
}

/// The page of the organisation's agent `id` with its live state, or 404.
async fn agent_page(state: &AppState, admin: &Admin, id: &str) -> Result<AgentPage, AdminError> {
    let now_ms = unix_ms();
    let usernames = state.store.org_agent_usernames(admin.org()).await?;
    let (a, v) = live(state, admin.org(), now_ms)
        .await?
        .into_iter()
        .find(|(a, _)| a.agent.id == id)
        .ok_or(AdminError::NotFound)?;
    let f = AgentForm::of(&a);
    let r = row(&a, &v, usernames.get(&a.agent.id), now_ms);
    Ok(AgentPage::new(state, admin, Some(r), f))
}

/// That the organisation has agent `id`, or 404 (asked before the role, as elsewhere).
async fn owned(state: &AppState, admin: &Admin, id: &str) -> Result<(), AdminError> {
    match state.store.agent(admin.org(), id).await? {
        Some(_) => Ok(()),
        None => Err(AdminError::NotFound),
    }
}

fn invalid(mut page: AgentPage, field: &'static str, why: String) -> Response {
    page.error_field = field;
    page.error = why;
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// `GET /admin/agents/new`.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<AgentPage, AdminError> {
    admin.require(Role::Admin)?;
    let f = AgentForm {
        max_calls: "1".into(),
        ..AgentForm::default()
    };
    Ok(AgentPage::new(&state, &admin, None, f))
}

/// `POST /admin/agents`: creates the agent with its SIP account and shows the generated
/// password once.
pub(crate) async fn create(
    State(state): State<AppState>,
    admin: Admin,
    Form(mut f): Form<AgentForm>,
) -> Result<Response, AdminError> {
    admin.require(Role::Admin)?;
    f.username = f.username.trim().to_owned();
    let (name, max_calls, skills) = match f.check(true) {
        Ok(ok) => ok,
        Err((field, why)) => {
            return Ok(invalid(AgentPage::new(&state, &admin, None, f), field, why))
        }
    };
    let password = new_sip_password();
    let realm = state.admin.registrar.realm.clone();
    let agent = NewAgent {
        org: admin.org().to_owned(),
        display_name: name,
        max_calls,
        skills,
        contacts: vec![AgentContact {
            kind: ContactKind::Sip,
            target: f.username.clone(),
            trunk: String::new(),
            confirm_digit: String::new(),
        }],
        account: Some(sip_account(&f.username, &realm, &password)),
    };
    let now = unix_now();
    let Some(id) = state.store.create_agent(&agent, now).await? else {
        let why = format!(
            "username {:?}: another agent has it (usernames are unique on the registrar); choose another",
            f.username
        );
        return Ok(invalid(
            AgentPage::new(&state, &admin, None, f),
            "username",
            why,
        ));
    };
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "agent.create", &id, now)
        .await?;
    let mut page = agent_page(&state, &admin, &id).await?;
    page.password = password;
    page.password_user = f.username;
    Ok((StatusCode::CREATED, page).into_response())
}

/// `?saved=1` after a successful save.
#[derive(serde::Deserialize)]
pub(crate) struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/agents/{id}`.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Result<AgentPage, AdminError> {
    let mut page = agent_page(&state, &admin, &id).await?;
    page.saved = q.saved.is_some();
    Ok(page)
}

/// `POST /admin/agents/{id}`: name, skills and max calls.
pub(crate) async fn update(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(f): Form<AgentForm>,
) -> Result<Response, AdminError> {
    owned(&state, &admin, &id).await?;
    admin.require(Role::Admin)?;
    let (name, max_calls, skills) = match f.check(false) {
        Ok(ok) => ok,
        Err((field, why)) => {
            let mut page = agent_page(&state, &admin, &id).await?;
            page.f = f;
            return Ok(invalid(page, field, why));
        }
    };
    let now = unix_now();
    if !state
        .store
        .update_agent(admin.org(), &id, &name, max_calls, &skills, now)
        .await?
    {
        return Err(AdminError::NotFound);
    }
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "agent.update", &id, now)
        .await?;
    Ok(Redirect::to(&format!("/admin/agents/{id}?saved=1")).into_response())
}

/// The away form: the state to set (`1` away, `0` available; absent: the other one) and
/// the page to go back to (`list`, else the agent's page).
#[derive(serde::Deserialize)]
pub(crate) struct AwayForm {
    #[serde(default)]
    away: Option<String>,
    #[serde(default)]
    back: String,
}

/// `POST /admin/agents/{id}/away`: sets the agent away, or available again.
pub(crate) async fn away(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    Form(f): Form<AwayForm>,
) -> Result<Response, AdminError> {
    let agent = state
        .store
        .agent(admin.org(), &id)
        .await?
        .ok_or(AdminError::NotFound)?;
    admin.require(Role::Admin)?;
    let away = match f.away.as_deref() {
        Some("1") => true,
        Some("0") => false,
        None | Some("") => !agent.away,
        Some(_) => return Err(AdminError::BadRequest("away: send 1 or 0.")),
    };
    let now = unix_now();
    if !state
        .store
        .set_agent_away(admin.org(), &id, away, now)
        .await?
    {
        return Err(AdminError::NotFound);
    }
    let what = if away {
        "agent.away"
    } else {
        "agent.available"
    };
    state
        .store
        .audit(admin.org(), &admin.0.user.id, what, &id, now)
        .await?;
    let to = if f.back == "list" {
        "/admin/agents".to_owned()
    } else {
        format!("/admin/agents/{id}")
    };
    Ok(Redirect::to(&to).into_response())
}

/// `POST /admin/agents/{id}/password`: a new generated SIP password, shown once; the old
/// one stops working, so the registrar signs the agent's phones out.
pub(crate) async fn password(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    owned(&state, &admin, &id).await?;
    admin.require(Role::Admin)?;
    let username = state
        .store
        .org_agent_usernames(admin.org())
        .await?
        .remove(&id)
        .ok_or(AdminError::BadRequest(
            "This agent has no SIP account to set a password for.",
        ))?;
    let password = new_sip_password();
    let realm = state.admin.registrar.realm.clone();
    let account = sip_account(&username, &realm, &password);
    let now = unix_now();
    let row = AgentCredentialRow {
        username: account.username,
        agent: id.clone(),
        org: admin.org().to_owned(),
        realm: account.realm,
        ha1_md5: account.ha1_md5,
        ha1_sha256: account.ha1_sha256,
    };
    if !state.store.set_agent_credential(&row, now).await? {
        return Err(AdminError::BadRequest(
            "The agent's SIP username is held by another agent.",
        ));
    }
    state
        .store
        .audit(admin.org(), &admin.0.user.id, "agent.password", &id, now)
        .await?;
    let mut page = agent_page(&state, &admin, &id).await?;
    page.password = password;
    page.password_user = username;
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(presence: &'static str) -> LiveView {
        LiveView {
            id: "ag_1".into(),
            presence,
            away: false,
            ringing: 0,
            on_call: 1,
            since_ms: None,
            until_ms: None,
            answered_today: 0,
            devices: vec![],
        }
    }

    #[test]
    fn the_state_says_how_long() {
        let now = 1_000_000;
        let mut v = view("on_call");
        v.since_ms = Some(now - 83_500);
        assert_eq!(state_text(&v, now), "on call · 1:23");
        v.on_call = 2;
        assert_eq!(state_text(&v, now), "on 2 calls · 1:23");
        let mut v = view("wrap_up");
        v.until_ms = Some(now + 20_000);
        assert_eq!(state_text(&v, now), "wrap-up · 0:20 left");
        let mut v = view("available");
        assert_eq!(state_text(&v, now), "available");
        v.since_ms = Some(now - 3_723_000);
        assert_eq!(state_text(&v, now), "available · idle 1:02:03");
        let mut v = view("ringing");
        v.since_ms = Some(now + 5); // the clock read earlier: never negative
        assert_eq!(state_text(&v, now), "ringing · 0:00");
        assert_eq!(state_text(&view("away"), now), "away");
        assert_eq!(state_text(&view("offline"), now), "offline");
    }

    #[test]
    fn the_form_names_the_field_and_the_fix() {
        let ok = AgentForm {
            name: " Ann ".into(),
            username: "ann".into(),
            skills: "lang:de=5".into(),
            max_calls: "2".into(),
        };
        assert_eq!(
            ok.check(true),
            Ok(("Ann".into(), 2, vec![("lang:de".into(), 5)]))
        );
        for (f, field, says) in [
            (
                AgentForm {
                    name: String::new(),
                    ..ok.clone()
                },
                "name",
                "name: give 1 to 100",
            ),
            (
                AgentForm {
                    username: "an n".into(),
                    ..ok.clone()
                },
                "username",
                "letters, digits",
            ),
            (
                AgentForm {
                    skills: "lang:en=1\nlang:de".into(),
                    ..ok.clone()
                },
                "skills",
                "skills: line 2 \"lang:de\": write TAG=LEVEL",
            ),
            (
                AgentForm {
                    max_calls: "21".into(),
                    ..ok.clone()
                },
                "max_calls",
                "max calls: use a whole number from 1 to 20",
            ),
        ] {
            let (got_field, why) = f.check(true).expect_err(says);
            assert_eq!(got_field, field);
            assert!(why.contains(says), "{why}");
        }
        // Editing keeps the username: it is not checked.
        let edit = AgentForm {
            username: String::new(),
            ..ok
        };
        assert!(edit.check(false).is_ok());
    }
}
