//! The dashboard test harness: the real router in process (SQLite in a temp dir) with two
//! organisations, their users and fixtures, and helpers to log in and send forms.

#![allow(dead_code)] // each test file uses a part of it

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use c2c_sbc::trunk::TrunkConfig;
use c2c_store::Role;
use c2c_store::{CallMedia, CallWrite, NewCall};
use c2c_store::{Store, WebSession};
use c2c_token::{KeyRing, TokenIssuer};
use c2c_web::screening::ActiveCalls;
use c2c_web::{AppState, CampaignConfig, Campaigns, SecretBox, Trunks, WebConfig};

pub const PASSWORD: &str = "correct horse battery";

/// The media figures every seeded call has.
pub const SEEDED_MEDIA: CallMedia = CallMedia {
    from_browser: 1500,
    to_browser: 1490,
    from_trunk: 1490,
    to_trunk: 1500,
    lost_from_browser: 3,
    lost_from_trunk: 10,
    dropped_foreign: 7,
    trunk_reports: 5,
    trunk_lost: 15,
    trunk_jitter_us: 2_500,
};

/// o1's trunk `main`'s SIP password: must never appear in a response.
pub const TRUNK_PASSWORD: &str = "Tr0nk-s3cret-o1";

/// Strings a hostile browser or SIP peer might send.
pub const XSS_SCRIPT: &str = "<script>alert(1)</script>";
pub const XSS_ATTR: &str = "\"><img src=x onerror=alert(2)>";

/// Every dashboard page, with ids of organisation o1's fixtures.
pub const PAGES: &[&str] = &[
    "/admin",
    "/admin/campaigns",
    "/admin/campaigns/new",
    "/admin/campaigns/sales",
    "/admin/trunks",
    "/admin/trunks/new",
    "/admin/trunks/main",
    "/admin/calls",
    "/admin/calls.csv",
    "/admin/calls/call_o1",
    "/admin/live",
    "/admin/callbacks",
    "/admin/keys",
    "/admin/users",
    "/admin/agents",
    "/admin/agents/new",
];

/// Every state-changing route; `{cb}` and `{key}` stand for o1's callback and API key.
pub const ACTIONS: &[&str] = &[
    "/admin/logout",
    "/admin/campaigns/new",
    "/admin/campaigns/sales",
    "/admin/callbacks/{cb}/done",
    "/admin/keys",
    "/admin/keys/{key}/revoke",
    "/admin/users",
    "/admin/trunks/new",
    "/admin/trunks/main",
    "/admin/trunks/main/delete",
    "/admin/trunks/main/test",
    "/admin/agents",
];

pub struct Dash {
    pub router: Router,
    pub store: Store,
    /// The trunk cache the dashboard edits.
    pub trunks: Trunks,
    /// o1's callback request id.
    pub cb: String,
    /// o1's API key id.
    pub key: String,
    /// The SQLite file's folder, removed when the test ends.
    _dir: tempfile::TempDir,
}

impl Dash {
    pub fn path(&self, p: &str) -> String {
        p.replace("{cb}", &self.cb).replace("{key}", &self.key)
    }
}

pub fn campaign(id: &str, org: &str) -> CampaignConfig {
    let mut c: CampaignConfig = toml::from_str(
        r#"
public_id = "x"
allowed_origins = ["https://shop.example"]
trunk = "main"
destination = "+4930123456"
number_pool = { first = "+4930999000", count = 5 }
"#,
    )
    .expect("campaign");
    c.public_id = id.into();
    c.org = org.into();
    c.trunk = trunk_of(org).into();
    c
}

/// The trunk each organisation's fixtures use: o1 `main`, o2 `o2main` (so o1's `main`
/// is another organisation's object to o2).
pub fn trunk_of(org: &str) -> &'static str {
    if org == "o1" {
        "main"
    } else {
        "o2main"
    }
}

pub async fn dash(public_url: &str) -> Dash {
    dash_with_trunk(public_url, 9).await
}

pub async fn dash_with_trunk(public_url: &str, trunk_port: u16) -> Dash {
    dash_in(public_url, trunk_port, c2c_sbc::networks::Networks::any()).await
}

/// A dashboard whose operator allows trunks only in `networks` (`[sip] trunk_networks`).
pub async fn dash_in(
    public_url: &str,
    trunk_port: u16,
    networks: c2c_sbc::networks::Networks,
) -> Dash {
    let scratch = tempfile::Builder::new()
        .prefix("c2c-admin-")
        .tempdir()
        .expect("temp dir");
    let dir = scratch.path().to_owned();
    let store = Store::open_sqlite_in(&dir).await.expect("store");
    let trunks = Trunks::new(SecretBox::ephemeral().expect("secret key"));
    for org in ["o1", "o2"] {
        let trunk = TrunkConfig {
            name: trunk_of(org).into(),
            host: "127.0.0.1".into(),
            port: trunk_port,
            username: Some(format!("acct-{org}")),
            password: (org == "o1").then(|| TRUNK_PASSWORD.into()),
            ..TrunkConfig::default()
        };
        trunks
            .seed(&store, org, &trunk, false, 1)
            .await
            .expect("seed trunk");
    }
    let campaigns = Campaigns::default();
    for (id, org) in [("sales", "o1"), ("rival", "o2")] {
        campaigns
            .seed(&store, campaign(id, org), false, 1)
            .await
            .expect("seed campaign");
    }
    for (org, email, role) in [
        ("o1", "owner@o1.example", Role::Owner),
        ("o1", "viewer@o1.example", Role::Viewer),
        ("o2", "owner@o2.example", Role::Owner),
    ] {
        store.create_org(org, org, 1).await.expect("org");
        store
            .create_user(org, email, PASSWORD, role, 1)
            .await
            .expect("user")
            .expect("new");
    }
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let state = AppState {
        config: Arc::new(WebConfig {
            public_url: public_url.into(),
            static_dir: dir.clone(),
            number_lease_s: 1800,
            metrics_token: None,
            trusted_proxies: None,
            trunk_networks: networks,
            demo_campaign: None,
        }),
        campaigns,
        trunks: trunks.clone(),
        issuer: TokenIssuer::new(keys.clone(), "c2c", 60),
        keys: keys.into(),
        store: store.clone(),
        active_calls: ActiveCalls::new(),
        http: reqwest::Client::new(),
        admin: Default::default(),
        readiness: Default::default(),
    };
    let (cb, key) = fixtures(&store).await;
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    Dash {
        router: c2c_web::router(state).layer(MockConnectInfo(peer)),
        store,
        trunks,
        cb,
        key,
        _dir: scratch,
    }
}

/// A call in each organisation (o1's carrying hostile strings from the browser and SIP), a
/// callback request and an API key of o1.
pub async fn fixtures(store: &Store) -> (String, String) {
    let now = c2c_token::clock::unix_now();
    for (org, campaign) in [("o1", "sales"), ("o2", "rival")] {
        let session = WebSession {
            id: format!("ws_{org}"),
            org: org.into(),
            campaign: campaign.into(),
            number: "+4930999000".into(),
            page_url: format!("https://shop.example/p?q={XSS_SCRIPT}&r={XSS_ATTR}"),
            referrer: XSS_ATTR.into(),
            utm: None,
            user_agent: format!("Mozilla/5.0 {XSS_SCRIPT} {XSS_ATTR}"),
            ip: "192.0.2.1".into(),
            created_at: now - 70,
            expires_at: now + 1800,
        };
        store.insert_session(&session).await.expect("session");
        let id = format!("call_{org}");
        store
            .insert_call(&NewCall {
                id: id.clone(),
                org: org.into(),
                campaign: campaign.into(),
                session_id: session.id.clone(),
                number: session.number.clone(),
                destination: "+4930123456".into(),
                trunk: "main".into(),
                sip_call_id: "abc@127.0.0.1".into(),
                started_at: now - 60,
                node: "node_test".into(),
            })
            .await
            .expect("call");
        let trunk = "192.0.2.7:5060";
        let invite = "INVITE sip:+4930123456@192.0.2.7 SIP/2.0\r\nCall-ID: abc@127.0.0.1\r\n\r\n";
        store
            .add_sip_event(&id, now * 1000, "sip_out", trunk, invite)
            .await
            .expect("ev");
        // A hostile trunk: markup in the reason phrase (the ladder's first line) and in From.
        let ringing = format!(
            "SIP/2.0 180 Ringing {XSS_ATTR}\r\nFrom: \"{XSS_SCRIPT}\" <sip:agent@pbx>;tag=1\r\n\
             Call-ID: abc@127.0.0.1\r\n\r\n"
        );
        store
            .add_sip_event(&id, now * 1000 + 5, "sip_in", trunk, &ringing)
            .await
            .expect("ev");
        store.call_answered(&id, now - 50).await.expect("answer");
        store
            .apply_call_writes(&id, &[CallWrite::Media(SEEDED_MEDIA)])
            .await
            .expect("media");
    }
    let cb = store
        .insert_callback(
            "sales",
            "+49301234567",
            &format!("Eve {XSS_SCRIPT}{XSS_ATTR}"),
            "192.0.2.1",
            now,
        )
        .await
        .expect("callback");
    let key = store.create_api_key("o1", "crm", now).await.expect("key");
    (cb, key.id)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

pub async fn send(d: &Dash, req: Request<Body>) -> Reply {
    let resp = d.router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 4 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

pub fn post(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(body)).expect("request")
}

/// `name=value` of the cookie `name` set by a reply.
pub fn cookie_pair(r: &Reply, name: &str) -> Option<String> {
    r.cookies().into_iter().find_map(|c| {
        let pair = c.split(';').next()?.trim().to_owned();
        pair.starts_with(&format!("{name}=")).then_some(pair)
    })
}

/// The value of the first hidden `csrf` input of a page.
pub fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {page}"));
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

/// Logs in through the form; returns the session cookie pair and the CSRF token.
pub async fn login(d: &Dash, email: &str) -> (String, String) {
    let form = send(d, get("/admin/login", None)).await;
    assert_eq!(form.status, StatusCode::OK);
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("login csrf cookie");
    let token = csrf_of(&form.body);
    let r = send(
        d,
        post(
            "/admin/login",
            Some(&pre),
            &[("email", email), ("password", PASSWORD), ("csrf", &token)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let session = cookie_pair(&r, "c2c_admin").expect("session cookie");
    let home = send(d, get("/admin", Some(&session))).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    (session, csrf_of(&home.body))
}
