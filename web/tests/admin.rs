//! The dashboard through the real router (in process, SQLite in a temp dir): every route
//! refuses the unauthenticated (303 to the login page), another organisation's objects are
//! not found (404), state-changing requests need the login's CSRF token (403), and strings
//! from SIP or a browser are escaped on every page that shows them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use c2c_sbc::token::{KeyRing, TokenIssuer};
use c2c_web::screening::ActiveCalls;
use c2c_web::store::NewCall;
use c2c_web::store::Role;
use c2c_web::{AppState, CampaignConfig, Campaigns, Store, WebConfig, WebSession};

const PASSWORD: &str = "correct horse battery";

/// Strings a hostile browser or SIP peer might send.
const XSS_SCRIPT: &str = "<script>alert(1)</script>";
const XSS_ATTR: &str = "\"><img src=x onerror=alert(2)>";

/// Every dashboard page, with ids of organisation o1's fixtures.
const PAGES: &[&str] = &[
    "/admin",
    "/admin/campaigns",
    "/admin/campaigns/new",
    "/admin/campaigns/sales",
    "/admin/trunks",
    "/admin/calls",
    "/admin/calls.csv",
    "/admin/calls/call_o1",
    "/admin/live",
    "/admin/callbacks",
    "/admin/keys",
    "/admin/users",
];

/// Every state-changing route; `{cb}` and `{key}` stand for o1's callback and API key.
const ACTIONS: &[&str] = &[
    "/admin/logout",
    "/admin/campaigns/new",
    "/admin/campaigns/sales",
    "/admin/callbacks/{cb}/done",
    "/admin/keys",
    "/admin/keys/{key}/revoke",
    "/admin/users",
];

struct Dash {
    router: Router,
    store: Store,
    /// o1's callback request id.
    cb: String,
    /// o1's API key id.
    key: String,
}

impl Dash {
    fn path(&self, p: &str) -> String {
        p.replace("{cb}", &self.cb).replace("{key}", &self.key)
    }
}

fn campaign(id: &str, org: &str) -> CampaignConfig {
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
    c
}

async fn dash(public_url: &str) -> Dash {
    let dir = std::env::temp_dir().join(format!("c2c-admin-{:016x}", rand::random::<u64>()));
    let store = Store::open_sqlite_in(&dir).await.expect("store");
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
            demo_campaign: None,
            trunks: vec!["main".into()],
        }),
        campaigns,
        issuer: TokenIssuer::new(keys.clone(), "c2c", 60),
        keys: keys.into(),
        store: store.clone(),
        active_calls: ActiveCalls::new(),
        http: reqwest::Client::new(),
        admin: Default::default(),
    };
    let (cb, key) = fixtures(&store).await;
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    Dash {
        router: c2c_web::router(state).layer(MockConnectInfo(peer)),
        store,
        cb,
        key,
    }
}

/// A call in each organisation (o1's carrying hostile strings from the browser and SIP), a
/// callback request and an API key of o1.
async fn fixtures(store: &Store) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
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
            })
            .await
            .expect("call");
        store
            .add_call_event(&id, now * 1000, "sip_out", "INVITE")
            .await
            .expect("ev");
        let from = format!("180 Ringing From: \"{XSS_SCRIPT}{XSS_ATTR}\" <sip:agent@pbx>");
        store
            .add_call_event(&id, now * 1000 + 5, "sip_in", &from)
            .await
            .expect("ev");
        store.call_answered(&id, now - 50).await.expect("answer");
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

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

async fn send(d: &Dash, req: Request<Body>) -> Reply {
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

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).expect("request")
}

fn post(path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
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
fn cookie_pair(r: &Reply, name: &str) -> Option<String> {
    r.cookies().into_iter().find_map(|c| {
        let pair = c.split(';').next()?.trim().to_owned();
        pair.starts_with(&format!("{name}=")).then_some(pair)
    })
}

/// The value of the first hidden `csrf` input of a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in {page}"));
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

/// Logs in through the form; returns the session cookie pair and the CSRF token.
async fn login(d: &Dash, email: &str) -> (String, String) {
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

#[tokio::test]
async fn every_route_sends_the_unauthenticated_to_the_login_page() {
    let d = dash("http://127.0.0.1:8080").await;
    for path in PAGES {
        let r = send(&d, get(path, None)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(r.location(), "/admin/login", "GET {path}");
        let r = send(&d, get(path, Some("c2c_admin=forged"))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "GET {path} forged cookie");
    }
    for path in ACTIONS {
        let path = &d.path(path);
        let r = send(&d, post(path, None, &[("csrf", "x")])).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(r.location(), "/admin/login", "POST {path}");
    }
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_logout_ends_the_session() {
    let d = dash("https://calls.example").await;
    let form = send(&d, get("/admin/login", None)).await;
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("pre cookie");
    let token = csrf_of(&form.body);
    let r = send(
        &d,
        post(
            "/admin/login",
            Some(&pre),
            &[
                ("email", "OWNER@o1.example"),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/admin");
    let set = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("c2c_admin="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/admin"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    let session = set.split(';').next().expect("pair").to_owned();
    let home = send(&d, get("/admin", Some(&session))).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("owner@o1.example"), "{}", home.body);
    assert!(home
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .is_some_and(|v| v.to_str().unwrap_or_default().contains("script-src 'self'")));
    let csrf = csrf_of(&home.body);
    let out = send(
        &d,
        post("/admin/logout", Some(&session), &[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/admin/login");
    let after = send(&d, get("/admin", Some(&session))).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the login ended");
}

#[tokio::test]
async fn plain_http_cookies_are_not_marked_secure() {
    let d = dash("http://127.0.0.1:8080").await;
    let form = send(&d, get("/admin/login", None)).await;
    assert!(form.cookies().iter().all(|c| !c.contains("Secure")));
    let (session, _) = login(&d, "owner@o1.example").await;
    assert!(session.starts_with("c2c_admin="));
}

#[tokio::test]
async fn a_wrong_password_is_told_next_to_the_form_and_logins_are_rate_limited() {
    let d = dash("http://127.0.0.1:8080").await;
    let form = send(&d, get("/admin/login", None)).await;
    let pre = cookie_pair(&form, "c2c_login_csrf").expect("pre cookie");
    let token = csrf_of(&form.body);
    let attempt = |password: &'static str| {
        post(
            "/admin/login",
            Some(&pre),
            &[
                ("email", "owner@o1.example"),
                ("password", password),
                ("csrf", &token),
            ],
        )
    };
    let r = send(&d, attempt("wrong")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong email or password."), "{}", r.body);
    assert!(r.body.contains("value=\"owner@o1.example\""), "email kept");
    assert!(cookie_pair(&r, "c2c_admin").is_none());
    let mut limited = false;
    for _ in 0..10 {
        let r = send(&d, attempt("wrong")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.body.contains("Too many login attempts"), "{}", r.body);
            limited = true;
            break;
        }
    }
    assert!(limited, "guessing went on without a limit");
    // Even the right password is refused while limited.
    let r = send(&d, attempt(PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_login_form_needs_its_own_csrf_cookie() {
    let d = dash("http://127.0.0.1:8080").await;
    let r = send(
        &d,
        post(
            "/admin/login",
            None,
            &[
                ("email", "owner@o1.example"),
                ("password", PASSWORD),
                ("csrf", "guess"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(cookie_pair(&r, "c2c_admin").is_none());
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_token_are_refused() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let (_, other_csrf) = login(&d, "owner@o2.example").await;
    for path in ACTIONS {
        let path = &d.path(path);
        for form in [
            vec![],
            vec![("csrf", "wrong")],
            vec![("csrf", other_csrf.as_str())],
        ] {
            let r = send(&d, post(path, Some(&session), &form)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "POST {path} {form:?}");
        }
    }
    // The header works too (for scripts).
    let r = send(
        &d,
        Request::builder()
            .method(Method::POST)
            .uri("/admin/logout")
            .header(header::COOKIE, &session)
            .header("x-csrf-token", &csrf)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let _ = &d.store;
}

#[tokio::test]
async fn every_page_opens_for_a_logged_in_user() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    for path in PAGES {
        let r = send(&d, get(path, Some(&session))).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {}", r.body);
    }
    // The live stream answers with server-sent events (not read: it never ends).
    let resp = d
        .router
        .clone()
        .oneshot(get("/admin/live/events", Some(&session)))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v
        .to_str()
        .unwrap_or_default()
        .starts_with("text/event-stream")));
    let unauth = send(&d, get("/admin/live/events", None)).await;
    assert_eq!(unauth.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_organisations_objects_are_not_found() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o2.example").await;
    for path in ["/admin/campaigns/sales", "/admin/calls/call_o1"] {
        let r = send(&d, get(path, Some(&session))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {path}");
    }
    for path in [
        "/admin/campaigns/sales",
        "/admin/callbacks/{cb}/done",
        "/admin/keys/{key}/revoke",
    ] {
        let path = d.path(path);
        let r = send(&d, post(&path, Some(&session), &[("csrf", &csrf)])).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    // Lists show only o2's own things.
    let calls = send(&d, get("/admin/calls", Some(&session))).await;
    assert!(calls.body.contains("call_o2") && !calls.body.contains("call_o1"));
    let csv = send(&d, get("/admin/calls.csv", Some(&session))).await;
    assert!(csv.body.contains("call_o2") && !csv.body.contains("call_o1"));
    let cbs = send(&d, get("/admin/callbacks", Some(&session))).await;
    assert!(!cbs.body.contains("+49301234567"), "{}", cbs.body);
    let campaigns = send(&d, get("/admin/campaigns", Some(&session))).await;
    assert!(campaigns.body.contains("rival") && !campaigns.body.contains(">sales<"));
    // The o1 key still works: nothing was revoked.
    assert_eq!(
        d.store.api_keys("o1").await.expect("keys")[0].revoked_at,
        None
    );
}

#[tokio::test]
async fn strings_from_browsers_and_sip_are_escaped_on_every_page() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    let mut seen = 0;
    for path in PAGES.iter().filter(|p| !p.ends_with(".csv")) {
        let r = send(&d, get(path, Some(&session))).await;
        assert!(!r.body.contains(XSS_SCRIPT), "raw <script> on {path}");
        assert!(!r.body.contains("<img"), "raw <img> on {path}");
        assert!(!r.body.contains(XSS_ATTR), "attribute break-out on {path}");
        if r.body.contains("alert(1)") {
            seen += 1;
        }
    }
    // The call page (User-Agent, page URL, From in the ladder) and the callbacks page show them.
    assert!(
        seen >= 2,
        "the hostile strings were shown (escaped) on {seen} pages"
    );
    let call = send(&d, get("/admin/calls/call_o1", Some(&session))).await;
    for escaped in ["&#60;script&#62;", "&#34;&#62;&#60;img"] {
        assert!(
            call.body.contains(escaped),
            "{escaped} missing: {}",
            call.body
        );
    }
    assert!(
        call.body.contains("180 Ringing From:"),
        "ladder: {}",
        call.body
    );
}

#[tokio::test]
async fn the_call_list_filters_pages_and_exports() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, _) = login(&d, "owner@o1.example").await;
    let all = send(&d, get("/admin/calls", Some(&session))).await;
    assert!(all.body.contains("/admin/calls/call_o1"), "{}", all.body);
    let none = send(&d, get("/admin/calls?disposition=busy", Some(&session))).await;
    assert!(!none.body.contains("/admin/calls/call_o1"));
    let live = send(
        &d,
        get(
            "/admin/calls?disposition=in_progress&campaign=sales",
            Some(&session),
        ),
    )
    .await;
    assert!(live.body.contains("/admin/calls/call_o1"));
    let bad = send(&d, get("/admin/calls?from=yesterday", Some(&session))).await;
    assert!(bad.body.contains("Use a date like"), "{}", bad.body);
    let csv = send(&d, get("/admin/calls.csv?campaign=sales", Some(&session))).await;
    assert!(csv
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("text/csv")));
    assert!(csv.body.starts_with("id,campaign,"), "{}", csv.body);
    assert!(csv.body.contains("\"call_o1\",\"sales\""), "{}", csv.body);
    let live_page = send(&d, get("/admin/live", Some(&session))).await;
    assert!(live_page.body.contains("+4930999000"), "{}", live_page.body);
}

/// The campaign form's fields for `origin`.
fn campaign_form<'a>(csrf: &'a str, id: &'a str, origin: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("public_id", id),
        ("name", "Support"),
        ("active", "on"),
        ("allowed_origins", origin),
        ("timezone", "Europe/Berlin"),
        ("hours", ""),
        ("trunk", "main"),
        ("destination", "sip:support@pbx.example"),
        ("pool_first", "+4930888000"),
        ("pool_count", "5"),
        ("max_concurrent_calls", "3"),
        ("label", "Call support"),
        ("color", "#112233"),
        ("position", "bottom-left"),
        ("fallback", "callback"),
        ("fallback_message", "Closed"),
    ]
}

async fn token_status(d: &Dash, campaign: &str, origin: &str) -> StatusCode {
    let body = serde_json::json!({"campaign": campaign, "page_url": format!("{origin}/p"), "referrer": ""});
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/calls/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, origin)
        .body(Body::from(body.to_string()))
        .expect("request");
    send(d, req).await.status
}

#[tokio::test]
async fn a_campaign_made_in_the_dashboard_takes_the_next_call_and_edits_apply_at_once() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let shop = "https://support.example";
    assert_eq!(
        token_status(&d, "support", shop).await,
        StatusCode::NOT_FOUND
    );

    // Invalid input: the message sits next to the field, nothing is stored.
    let mut bad = campaign_form(&csrf, "support", "support.example");
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"allowed_origins-error\""),
        "{}",
        r.body
    );
    bad = campaign_form(&csrf, "support", shop);
    bad.retain(|(k, _)| *k != "destination");
    bad.push(("destination", "<b>"));
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &bad)).await;
    assert!(r.body.contains("id=\"destination-error\""), "{}", r.body);
    let taken = campaign_form(&csrf, "rival", shop);
    let r = send(&d, post("/admin/campaigns/new", Some(&session), &taken)).await;
    assert!(r.body.contains("id=\"public_id-error\""), "{}", r.body);

    let r = send(
        &d,
        post(
            "/admin/campaigns/new",
            Some(&session),
            &campaign_form(&csrf, "support", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/campaigns/support?saved=1");
    let page = send(&d, get(r.location(), Some(&session))).await;
    assert!(
        page.body.contains("data-campaign=&#34;support&#34;"),
        "snippet: {}",
        page.body
    );
    assert!(page.body.contains("data-copy=\"snippet\""));
    assert_eq!(token_status(&d, "support", shop).await, StatusCode::OK);

    // Edit: another origin; the old one is refused on the very next request.
    let other = "https://new.example";
    let r = send(
        &d,
        post(
            "/admin/campaigns/support",
            Some(&session),
            &campaign_form(&csrf, "ignored", other),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        token_status(&d, "support", shop).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(token_status(&d, "support", other).await, StatusCode::OK);

    // Viewers see campaigns but cannot change them.
    let (vs, vcsrf) = login(&d, "viewer@o1.example").await;
    let r = send(
        &d,
        post(
            "/admin/campaigns/support",
            Some(&vs),
            &campaign_form(&vcsrf, "x", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &d,
        post(
            "/admin/campaigns/new",
            Some(&vs),
            &campaign_form(&vcsrf, "v", shop),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(d
        .store
        .audit_entries("o1", 10)
        .await
        .expect("audit")
        .iter()
        .any(|(_, _, action, target)| action == "campaign.update" && target == "support"));
}

#[tokio::test]
async fn callbacks_keys_and_users_are_managed_with_roles() {
    let d = dash("http://127.0.0.1:8080").await;
    let (session, csrf) = login(&d, "owner@o1.example").await;
    let (vs, vcsrf) = login(&d, "viewer@o1.example").await;
    let done = d.path("/admin/callbacks/{cb}/done");
    let r = send(&d, post(&done, Some(&vs), &[("csrf", &vcsrf)])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "viewer");
    let r = send(&d, post(&done, Some(&session), &[("csrf", &csrf)])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let list = send(&d, get("/admin/callbacks", Some(&session))).await;
    assert!(list.body.contains(">done<"), "{}", list.body);

    let r = send(
        &d,
        post(
            "/admin/keys",
            Some(&session),
            &[("csrf", &csrf), ("label", "")],
        ),
    )
    .await;
    assert!(r.body.contains("id=\"label-error\""), "{}", r.body);
    let r = send(
        &d,
        post(
            "/admin/keys",
            Some(&session),
            &[("csrf", &csrf), ("label", "helpdesk")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-test=\"new-key\""), "{}", r.body);
    let token_at = r.body.find("value=\"c2c_").expect("token shown once");
    let token: String = r.body[token_at + 7..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(
        d.store.api_key_org(&token).await.expect("org").as_deref(),
        Some("o1")
    );
    let again = send(&d, get("/admin/keys", Some(&session))).await;
    assert!(
        !again.body.contains(&token),
        "the secret is never shown again"
    );
    let revoke = d.path("/admin/keys/{key}/revoke");
    let r = send(&d, post(&revoke, Some(&session), &[("csrf", &csrf)])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let add = |csrf: &str, email: &str, password: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("email".into(), email.into()),
            ("password".into(), password.into()),
            ("role".into(), "viewer".into()),
        ]
    };
    let form = |v: &[(String, String)]| {
        post(
            "/admin/users",
            None,
            &v.iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    let with_cookie = |mut r: Request<Body>, c: &str| {
        r.headers_mut()
            .insert(header::COOKIE, c.parse().expect("cookie"));
        r
    };
    let r = send(
        &d,
        with_cookie(
            form(&add(&vcsrf, "new@o1.example", "long enough password")),
            &vs,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only owners add users");
    let r = send(
        &d,
        with_cookie(form(&add(&csrf, "new@o1.example", "short")), &session),
    )
    .await;
    assert!(r.body.contains("id=\"password-error\""), "{}", r.body);
    let r = send(
        &d,
        with_cookie(
            form(&add(&csrf, "new@o1.example", "long enough password")),
            &session,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("new@o1.example can log in now"));
    let r = send(
        &d,
        with_cookie(
            form(&add(&csrf, "new@o1.example", "long enough password")),
            &session,
        ),
    )
    .await;
    assert!(r.body.contains("exists already"), "{}", r.body);
}
