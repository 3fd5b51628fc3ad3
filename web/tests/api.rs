//! The public API through the real router (in process, SQLite in a temp dir): origin
//! screening, CORS, rate limits, hours, pool exhaustion, daily cap, callbacks and the
//! session lookup with API keys.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use c2c_sbc::trunk::TrunkConfig;
use c2c_store::Store;
use c2c_token::{KeyRing, TokenIssuer};
use c2c_web::readiness::Readiness;
use c2c_web::screening::ActiveCalls;
use c2c_web::{AppState, Campaign, CampaignConfig, Campaigns, SecretBox, Trunks, WebConfig};

const SHOP: &str = "https://shop.example";

fn campaign(edit: impl FnOnce(&mut CampaignConfig)) -> CampaignConfig {
    let mut c: CampaignConfig = toml::from_str(
        r#"
public_id = "sales"
org = "o1"
allowed_origins = ["https://shop.example"]
trunk = "main"
destination = "+4930123456"
number_pool = { first = "+4930999000", count = 5 }
"#,
    )
    .expect("campaign");
    edit(&mut c);
    c
}

struct Api {
    router: Router,
    store: Store,
    readiness: Readiness,
    /// The SQLite file's folder, removed when the test ends.
    _dir: tempfile::TempDir,
}

async fn api(config: CampaignConfig) -> Api {
    let org = config.org.clone();
    api_trunk_in(config, &org).await
}

/// Like [`api`], with the campaign's trunk stored in organisation `trunk_org`.
async fn api_trunk_in(config: CampaignConfig, trunk_org: &str) -> Api {
    api_with(config, trunk_org, None).await
}

/// Like [`api`], reached through the trusted proxies `proxies` (the test's peer address is
/// 192.0.2.7).
async fn api_behind(config: CampaignConfig, proxies: &[&str]) -> Api {
    let org = config.org.clone();
    let list: Vec<String> = proxies.iter().map(|p| p.to_string()).collect();
    let proxies = c2c_sbc::networks::Networks::parse(&list).expect("proxies");
    api_with(config, &org, Some(proxies)).await
}

async fn api_with(
    config: CampaignConfig,
    trunk_org: &str,
    trusted_proxies: Option<c2c_sbc::networks::Networks>,
) -> Api {
    let scratch = tempfile::Builder::new()
        .prefix("c2c-api-")
        .tempdir()
        .expect("temp dir");
    let dir = scratch.path().to_owned();
    let store = Store::open_sqlite_in(&dir).await.expect("store");
    let campaign = Campaign::new(config).expect("valid campaign");
    store
        .seed_pool(&campaign.config.public_id, &campaign.numbers)
        .await
        .expect("seed");
    // The campaign's trunk, in the campaign's organisation (tokens need one).
    let trunks = Trunks::new(SecretBox::ephemeral().expect("secret key"));
    let trunk = TrunkConfig {
        name: campaign.config.trunk.clone(),
        host: "127.0.0.1".into(),
        port: 9,
        ..TrunkConfig::default()
    };
    trunks
        .seed(&store, trunk_org, &trunk, false, 1)
        .await
        .expect("seed trunk");
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let readiness = Readiness::default();
    let state = AppState {
        config: Arc::new(WebConfig {
            public_url: "https://calls.example".into(),
            static_dir: dir.clone(),
            number_lease_s: 1800,
            metrics_token: None,
            trusted_proxies,
            trunk_networks: c2c_sbc::networks::Networks::any(),
            demo_campaign: None,
        }),
        campaigns: Campaigns::from_list([campaign]),
        trunks,
        issuer: TokenIssuer::new(keys.clone(), "c2c", 60),
        keys: keys.into(),
        store: store.clone(),
        active_calls: ActiveCalls::new(),
        http: reqwest::Client::new(),
        admin: Default::default(),
        readiness: readiness.clone(),
    };
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    Api {
        router: c2c_web::router(state).layer(MockConnectInfo(peer)),
        store,
        readiness,
        _dir: scratch,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(a: &Api, req: Request<Body>) -> Reply {
    let resp = a.router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn post(path: &str, origin: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    b.body(Body::from(body.to_string())).expect("request")
}

fn token_req(origin: Option<&str>) -> Request<Body> {
    post(
        "/v1/calls/token",
        origin,
        json!({"campaign": "sales", "page_url": "https://shop.example/p", "referrer": ""}),
    )
}

#[tokio::test]
async fn only_the_exact_allowed_origin_gets_a_token() {
    let a = api(campaign(|_| {})).await;
    let ok = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body["session_number"]
        .as_str()
        .is_some_and(|n| n.starts_with("+4930999")));
    assert_eq!(ok.body["ws_url"], "wss://calls.example/v1/calls/ws");
    for bad in [
        None,
        Some("null"),
        Some("https://evil.example"),
        Some("https://shop.example.evil.example"),
        Some("https://evilshop.example"),
        Some("http://shop.example"),
        Some("https://shop.example:8443"),
        Some("https://shop.example/"),
    ] {
        let r = send(&a, token_req(bad)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "origin {bad:?}");
        assert_eq!(r.body["error"], "origin_not_allowed", "origin {bad:?}");
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn cors_answers_allowed_origins_only_and_never_with_credentials() {
    let a = api(campaign(|_| {})).await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/calls/token")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .expect("request")
    };
    let ok = send(&a, preflight(SHOP)).await;
    assert_eq!(
        ok.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(SHOP.as_bytes())
    );
    assert!(ok
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_none());
    let foreign = send(&a, preflight("https://evil.example")).await;
    assert!(foreign
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let r = send(&a, token_req(Some(SHOP))).await;
    assert!(r
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
        .is_none());
}

#[tokio::test]
async fn too_many_requests_from_one_ip_get_429_with_retry_after() {
    let a = api(campaign(|c| c.rate_per_ip_per_minute = 2)).await;
    assert_eq!(send(&a, token_req(Some(SHOP))).await.status, StatusCode::OK);
    assert_eq!(send(&a, token_req(Some(SHOP))).await.status, StatusCode::OK);
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["error"], "rate_limited");
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
}

/// A token request that a proxy forwarded for `client`.
fn forwarded_token_req(client: &str) -> Request<Body> {
    let mut req = token_req(Some(SHOP));
    let value = header::HeaderValue::from_str(client).expect("header value");
    req.headers_mut().insert("x-forwarded-for", value);
    req
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limits() {
    let a = api_behind(
        campaign(|c| c.rate_per_ip_per_minute = 2),
        &["192.0.2.7/32"],
    )
    .await;
    let (one, two) = ("198.51.100.1", "198.51.100.2");
    assert_eq!(
        send(&a, forwarded_token_req(one)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&a, forwarded_token_req(one)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(&a, forwarded_token_req(one)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A client that prepends an address of its choice is still itself.
    let spoofed = forwarded_token_req(&format!("203.0.113.50, {one}"));
    assert_eq!(
        send(&a, spoofed).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(&a, forwarded_token_req(two)).await.status,
        StatusCode::OK
    );
    // The session records the client, not the proxy.
    let sessions = a.store.sessions_since("sales", 0).await.expect("count");
    assert_eq!(sessions, 3);

    // Without trusted proxies the header is the client's own words: ignored.
    let b = api(campaign(|c| c.rate_per_ip_per_minute = 2)).await;
    for (n, client) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        let want = if n < 2 {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(send(&b, forwarded_token_req(client)).await.status, want);
    }
}

#[tokio::test]
async fn a_client_holds_at_most_three_unused_tokens_per_campaign() {
    let a = api_behind(
        campaign(|c| c.rate_per_ip_per_minute = 100),
        &["192.0.2.7/32"],
    )
    .await;
    for _ in 0..3 {
        let r = send(&a, forwarded_token_req("2001:db8:5:6::1")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // Another address of the same IPv6 /64 is the same client.
    let r = send(&a, forwarded_token_req("2001:db8:5:6::ffff")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    let r = send(&a, forwarded_token_req("2001:db8:5:7::1")).await;
    assert_eq!(r.status, StatusCode::OK, "another /64: {:?}", r.body);
}

#[tokio::test]
async fn an_exhausted_pool_is_a_clear_409() {
    let a = api(campaign(|c| c.number_pool.count = 2)).await;
    let n1 = send(&a, token_req(Some(SHOP))).await.body["session_number"].clone();
    let n2 = send(&a, token_req(Some(SHOP))).await.body["session_number"].clone();
    assert_ne!(n1, n2);
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "pool_exhausted");
}

#[tokio::test]
async fn a_closed_campaign_refuses_tokens_and_says_when_it_opens() {
    // Open one hour a week, on a day that is never today or tomorrow in any time zone.
    let a = api(campaign(|c| {
        c.hours = vec![format!("{} 03:00-04:00", weekday_in(3))];
        c.timezone = "Pacific/Kiritimati".into();
    }))
    .await;
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "closed");
    let av = send(
        &a,
        Request::get("/v1/campaigns/sales/availability")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(av.body["open"], false);
    assert!(
        av.body["opens_at"].as_i64().is_some_and(|t| t > 0),
        "{}",
        av.body
    );
}

#[tokio::test]
async fn the_daily_cap_stops_tokens_for_the_day() {
    let a = api(campaign(|c| c.daily_cap = 1)).await;
    assert_eq!(send(&a, token_req(Some(SHOP))).await.status, StatusCode::OK);
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"], "daily_cap");
}

#[tokio::test]
async fn an_unknown_or_inactive_campaign_is_404() {
    let a = api(campaign(|c| c.active = false)).await;
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["error"], "campaign_not_found");
}

#[tokio::test]
async fn callback_requests_are_validated_and_stored() {
    let a = api(campaign(|_| {})).await;
    let cb = |phone: &str, consent: bool| {
        post(
            "/v1/callbacks",
            Some(SHOP),
            json!({"campaign": "sales", "phone": phone, "name": "Ada", "consent": consent}),
        )
    };
    let r = send(&a, cb("030 1234567", true)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_phone"))
    );
    let r = send(&a, cb("+49 30 1234567", false)).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_consent"))
    );
    let r = send(
        &a,
        post(
            "/v1/callbacks",
            Some("https://evil.example"),
            json!({"campaign": "sales", "phone": "+4930123456", "consent": true}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&a, cb("+49 30 1234567", true)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let stored = a.store.callbacks("sales").await.expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].phone.as_str(), stored[0].name.as_str()),
        ("+49301234567", "Ada")
    );
}

#[tokio::test]
async fn the_session_behind_a_number_needs_an_api_key_of_its_org() {
    let a = api(campaign(|_| {})).await;
    let t = send(&a, token_req(Some(SHOP))).await;
    let number = t.body["session_number"]
        .as_str()
        .expect("number")
        .to_string();
    let lookup = |key: Option<&str>| {
        let mut b = Request::get(format!(
            "/v1/sessions/by-number/{}",
            number.replace('+', "%2B")
        ));
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        b.body(Body::empty()).expect("request")
    };
    assert_eq!(
        send(&a, lookup(None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&a, lookup(Some("c2c_nope_nope"))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = a.store.create_api_key("o2", "", 0).await.expect("key");
    assert_eq!(
        send(&a, lookup(Some(&other.token))).await.status,
        StatusCode::NOT_FOUND
    );
    let mine = a.store.create_api_key("o1", "crm", 0).await.expect("key");
    let r = send(&a, lookup(Some(&mine.token))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["page_url"], "https://shop.example/p");
    assert_eq!(r.body["ip"], "192.0.2.7");
    assert_eq!(r.body["number"], number.as_str());
}

/// A stand-in bot-check provider on loopback speaking the siteverify protocol: only the
/// answer "human" passes, and it must come with the right secret.
async fn provider() -> String {
    use axum::routing::post;
    async fn verify(axum::Form(f): axum::Form<HashMap<String, String>>) -> axum::Json<Value> {
        let ok = f.get("secret").map(String::as_str) == Some("s3cret")
            && f.get("response").map(String::as_str) == Some("human")
            && f.get("remoteip").map(String::as_str) == Some("192.0.2.7");
        axum::Json(json!({ "success": ok }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/siteverify", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, Router::new().route("/siteverify", post(verify))).await;
    });
    url
}

#[tokio::test]
async fn a_configured_bot_check_must_pass_before_a_token_and_fails_closed() {
    let url = provider().await;
    let a = api(campaign(|c| {
        c.bot_check =
            Some(toml::from_str(&format!("url = \"{url}\"\nsecret = \"s3cret\"")).expect("cfg"))
    }))
    .await;
    let with = |answer: Option<&str>| {
        let mut body = json!({"campaign": "sales", "page_url": "https://shop.example/p"});
        if let Some(t) = answer {
            body["bot_token"] = json!(t);
        }
        post("/v1/calls/token", Some(SHOP), body)
    };
    for refused in [None, Some(""), Some("robot")] {
        let r = send(&a, with(refused)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{refused:?}");
        assert_eq!(r.body["error"], "bot_check_failed");
    }
    assert_eq!(send(&a, with(Some("human"))).await.status, StatusCode::OK);

    // A provider that cannot be reached refuses rather than lets anyone through.
    let down = api(campaign(|c| {
        c.bot_check = Some(
            toml::from_str("url = \"http://127.0.0.1:9/siteverify\"\nsecret = \"s\"").expect("cfg"),
        )
    }))
    .await;
    assert_eq!(
        send(&down, with(Some("human"))).await.status,
        StatusCode::FORBIDDEN
    );
}

/// The weekday `days` from today (UTC), as campaign hours name it.
fn weekday_in(days: u64) -> &'static str {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let today = c2c_token::clock::unix_now().max(0).unsigned_abs() / 86_400;
    DAYS[((today + 3 + days) % 7) as usize]
}

#[tokio::test]
async fn the_jwks_publishes_the_key_that_signs_tokens() {
    use base64::Engine;
    let a = api(campaign(|_| {})).await;
    let t = send(&a, token_req(Some(SHOP))).await;
    let token = t.body["token"].as_str().expect("token");
    let header = token.split('.').next().expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "ES256");
    let jwks = send(
        &a,
        Request::get("/.well-known/jwks.json")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    let keys = jwks.body["keys"].as_array().expect("keys");
    assert!(keys
        .iter()
        .any(|k| k["kid"] == header["kid"] && k["kty"] == "EC" && k["crv"] == "P-256"));
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts published"
    );
}

#[tokio::test]
async fn metrics_are_not_served_to_other_hosts_without_the_token() {
    // The test router's peer is 192.0.2.7 and no metrics token is configured.
    let a = api(campaign(|_| {})).await;
    let r = send(
        &a,
        Request::get("/metrics").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &a,
        Request::get("/metrics")
            .header(header::AUTHORIZATION, "Bearer guess")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &a,
        Request::get("/readyz").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn no_token_when_the_campaigns_trunk_is_another_organisations() {
    let a = api_trunk_in(campaign(|_| {}), "someone-else").await;
    let r = send(&a, token_req(Some(SHOP))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.body["error"], "unavailable");
}

#[tokio::test]
async fn readyz_turns_503_when_a_core_task_stops_or_the_node_drains() {
    let readyz = || Request::get("/readyz").body(Body::empty()).expect("req");
    let a = api(campaign(|_| {})).await;
    let sip_alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = sip_alive.clone();
    a.readiness.watch("sip", move || {
        flag.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert_eq!(send(&a, readyz()).await.status, StatusCode::OK);
    sip_alive.store(false, std::sync::atomic::Ordering::SeqCst);
    let r = send(&a, readyz()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);

    let b = api(campaign(|_| {})).await;
    b.readiness.start_draining();
    let r = send(&b, readyz()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        send(
            &b,
            Request::get("/healthz").body(Body::empty()).expect("req")
        )
        .await
        .status,
        StatusCode::OK,
        "alive while draining"
    );
}

#[test]
fn a_campaign_must_let_a_visitor_hold_a_token() {
    let err = Campaign::new(campaign(|c| c.unused_tokens_per_client = 0)).expect_err("refused");
    assert_eq!(err.key, "unused_tokens_per_client");
    assert!(err.problem.contains("at least 1"), "{}", err.problem);
}
