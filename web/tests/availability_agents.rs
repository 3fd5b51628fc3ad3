//! Availability and call tokens of a campaign routed to agents, through the real router (in
//! process, SQLite in a temp dir): who counts as available (registered, not away, not on a
//! call, out of wrap-up, with the required skills), the token refused with `no_agent` when
//! nobody is, the per-campaign cache (one load per second however many requests), and the
//! wait estimated from the calls of the last hour.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use c2c_routing::Strategy;
use c2c_sbc::trunk::TrunkConfig;
use c2c_store::{AgentRegistration, NewAgent, NewCall, Store};
use c2c_token::clock::{unix_ms, unix_now};
use c2c_token::{KeyRing, TokenIssuer};
use c2c_web::availability_cache::{loads, AGENTS_TTL};
use c2c_web::readiness::Readiness;
use c2c_web::screening::ActiveCalls;
use c2c_web::{
    AppState, Campaign, CampaignConfig, Campaigns, RoutingConfig, SecretBox, Trunks, WebConfig,
};

const SHOP: &str = "https://shop.example";
const ORG: &str = "o1";

/// The campaign `sales`, routed to agents (longest idle) unless `edit` says otherwise.
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
    // No queue to wait in: a token is refused when nobody is free.
    c.routing = RoutingConfig {
        strategy: Strategy::LongestIdle,
        queue: false,
        ..RoutingConfig::default()
    };
    edit(&mut c);
    c
}

/// A store in a temp dir, before the campaign is served (agents are made first, so the
/// campaign may name them).
struct Db {
    store: Store,
    dir: tempfile::TempDir,
}

async fn db() -> Db {
    let dir = tempfile::Builder::new()
        .prefix("c2c-avail-")
        .tempdir()
        .expect("temp dir");
    let store = Store::open_sqlite_in(dir.path()).await.expect("store");
    Db { store, dir }
}

struct Api {
    router: Router,
    state: AppState,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn serve(db: Db, config: CampaignConfig) -> Api {
    let Db { store, dir } = db;
    let campaign = Campaign::new(config).expect("valid campaign");
    store
        .seed_pool(&campaign.config.public_id, &campaign.numbers)
        .await
        .expect("seed");
    let trunks = Trunks::new(SecretBox::ephemeral().expect("secret key"));
    let trunk = TrunkConfig {
        name: campaign.config.trunk.clone(),
        host: "127.0.0.1".into(),
        port: 9,
        ..TrunkConfig::default()
    };
    trunks
        .seed(&store, ORG, &trunk, false, 1)
        .await
        .expect("seed trunk");
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let state = AppState {
        config: Arc::new(WebConfig {
            public_url: "https://calls.example".into(),
            static_dir: dir.path().to_owned(),
            number_lease_s: 1800,
            metrics_token: None,
            trusted_proxies: None,
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
        readiness: Readiness::default(),
    };
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("addr");
    Api {
        router: c2c_web::router(state.clone()).layer(MockConnectInfo(peer)),
        state,
        store,
        _dir: dir,
    }
}

/// An agent of the org with these skills (`max_calls` 1); its id.
async fn agent(s: &Store, name: &str, skills: &[(&str, i64)]) -> String {
    s.create_agent(
        &NewAgent {
            org: ORG.into(),
            display_name: name.into(),
            max_calls: 1,
            skills: skills.iter().map(|(t, l)| (t.to_string(), *l)).collect(),
            contacts: Vec::new(),
            account: None,
        },
        unix_now(),
    )
    .await
    .expect("create agent")
    .expect("a new agent")
}

/// The agent's phone registers (for an hour) from a routable address.
async fn register(s: &Store, agent: &str) {
    s.put_registration(&AgentRegistration {
        username: format!("u_{agent}"),
        contact: format!("sip:{agent}@192.0.2.10:5060"),
        agent: agent.into(),
        org: ORG.into(),
        source: "192.0.2.10:5060".into(),
        transport: "udp".into(),
        node: "n1".into(),
        expires_at: unix_now() + 3600,
    })
    .await
    .expect("register");
}

/// An agent of the org, registered; its id.
async fn ready_agent(s: &Store, name: &str, skills: &[(&str, i64)]) -> String {
    let id = agent(s, name, skills).await;
    register(s, &id).await;
    id
}

/// `agent` answers the call `call_id`.
async fn on_call(s: &Store, agent: &str, call_id: &str) {
    let slot = s
        .claim_agent(agent, call_id, "n1", 1, unix_ms(), unix_now() + 3600)
        .await
        .expect("claim");
    assert_eq!(slot, Some(0), "the agent's line");
    s.agent_answered(agent, call_id, unix_ms())
        .await
        .expect("answered");
}

struct Reply {
    status: StatusCode,
    body: Value,
}

async fn send(a: &Api, req: Request<Body>) -> Reply {
    let resp = a.router.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    Reply {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn availability(a: &Api) -> Value {
    let r = send(
        a,
        Request::get("/v1/campaigns/sales/availability")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn available(a: &Api) -> i64 {
    let body = availability(a).await;
    body["agents_available"].as_i64().expect("a count")
}

async fn token(a: &Api) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/calls/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ORIGIN, SHOP)
        .body(Body::from(
            json!({"campaign": "sales", "page_url": "https://shop.example/p", "referrer": ""})
                .to_string(),
        ))
        .expect("request");
    send(a, req).await
}

/// Waits until whatever the cache holds now is stale.
async fn past_the_cache() {
    tokio::time::sleep(AGENTS_TTL + Duration::from_millis(100)).await;
}

#[tokio::test]
async fn without_agents_nobody_is_available_and_the_token_is_refused() {
    let a = serve(db().await, campaign(|_| {})).await;
    let body = availability(&a).await;
    assert_eq!(body["open"], true);
    assert_eq!(body["agents_available"], 0, "{body}");
    assert_eq!(body["queues"], false, "{body}");
    assert!(
        body.get("estimated_wait_s").is_none(),
        "nobody logged in: the wait is unknown, not 0: {body}"
    );
    let r = token(&a).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["error"], "no_agent");
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    // Refused before a number was lent.
    let lent = a
        .store
        .pending_leases("sales", None, unix_now())
        .await
        .expect("leases");
    assert_eq!(lent, 0);
}

#[tokio::test]
async fn a_registered_agent_is_available_and_the_token_is_issued() {
    let d = db().await;
    // Without a registration an agent is offline: not counted.
    agent(&d.store, "Offline", &[]).await;
    ready_agent(&d.store, "Ada", &[]).await;
    let a = serve(d, campaign(|_| {})).await;
    let body = availability(&a).await;
    assert_eq!(body["agents_available"], 1, "{body}");
    assert_eq!(body["estimated_wait_s"], 0, "{body}");
    let r = token(&a).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["token"].as_str().is_some_and(|t| !t.is_empty()));
    // The token shared the availability's load.
    assert_eq!(loads(&a.state, "sales"), 1);
}

#[tokio::test]
async fn an_agent_away_is_not_available() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    assert!(d
        .store
        .set_agent_away(ORG, &ada, true, unix_now())
        .await
        .expect("away"));
    let a = serve(d, campaign(|_| {})).await;
    let body = availability(&a).await;
    assert_eq!(body["agents_available"], 0, "{body}");
    assert!(body.get("estimated_wait_s").is_none(), "{body}");
    assert_eq!(token(&a).await.body["error"], "no_agent");
}

#[tokio::test]
async fn an_agent_on_a_call_is_not_available() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    on_call(&d.store, &ada, "call-1").await;
    let a = serve(d, campaign(|_| {})).await;
    assert_eq!(available(&a).await, 0);
    assert_eq!(token(&a).await.body["error"], "no_agent");
}

#[tokio::test]
async fn an_agent_in_wrap_up_is_available_once_it_ends() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    on_call(&d.store, &ada, "call-1").await;
    let wrap_up_ms = 1500;
    d.store
        .release_agent(&ada, "call-1", true, unix_ms(), wrap_up_ms)
        .await
        .expect("release");
    let a = serve(d, campaign(|_| {})).await;
    assert_eq!(available(&a).await, 0, "in wrap-up");
    assert_eq!(token(&a).await.body["error"], "no_agent");
    // Past the wrap-up, and past the cache of the last load.
    tokio::time::sleep(Duration::from_millis(wrap_up_ms as u64) + AGENTS_TTL).await;
    assert_eq!(available(&a).await, 1, "wrap-up over");
    assert_eq!(token(&a).await.status, StatusCode::OK);
}

#[tokio::test]
async fn only_agents_with_the_required_skills_and_of_the_queue_count() {
    let d = db().await;
    ready_agent(&d.store, "Novice", &[("lang:de", 2)]).await;
    ready_agent(&d.store, "Other language", &[("lang:fr", 5)]).await;
    let expert = ready_agent(&d.store, "Expert", &[("lang:de", 4)]).await;
    let skilled = |c: &mut CampaignConfig| c.routing.skills = vec!["lang:de=3".into()];
    let a = serve(d, campaign(skilled)).await;
    assert_eq!(available(&a).await, 1, "only the expert");

    // Away, the expert leaves nobody: the others lack the skill.
    a.store
        .set_agent_away(ORG, &expert, true, unix_now())
        .await
        .expect("away");
    past_the_cache().await;
    assert_eq!(available(&a).await, 0);
    assert_eq!(token(&a).await.body["error"], "no_agent");

    // A queue naming one agent counts only that one.
    let d = db().await;
    ready_agent(&d.store, "Outside the queue", &[]).await;
    let member = agent(&d.store, "Member", &[]).await;
    let queue = member.clone();
    let a = serve(d, campaign(move |c| c.routing.agents = vec![queue])).await;
    assert_eq!(available(&a).await, 0, "the member is not registered");
    register(&a.store, &member).await;
    past_the_cache().await;
    assert_eq!(available(&a).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_within_a_second_share_one_load() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    let a = serve(d, campaign(|_| {})).await;
    assert_eq!(loads(&a.state, "sales"), 0);
    assert_eq!(available(&a).await, 1);
    assert_eq!(available(&a).await, 1);
    assert_eq!(
        loads(&a.state, "sales"),
        1,
        "the second request hit the cache"
    );

    // A change within the second is not seen yet...
    a.store
        .set_agent_away(ORG, &ada, true, unix_now())
        .await
        .expect("away");
    assert_eq!(available(&a).await, 1, "cached");
    assert_eq!(loads(&a.state, "sales"), 1);
    // ...and is after it.
    past_the_cache().await;
    assert_eq!(available(&a).await, 0);
    assert_eq!(loads(&a.state, "sales"), 2);

    // Concurrent requests for a stale value wait for one load.
    past_the_cache().await;
    let many = (0..16).map(|_| available(&a));
    let counts = futures_util::future::join_all(many).await;
    assert!(counts.iter().all(|&n| n == 0), "{counts:?}");
    assert_eq!(loads(&a.state, "sales"), 3);
}

#[tokio::test]
async fn a_campaign_without_agents_keeps_its_line_count_and_loads_nothing() {
    let d = db().await;
    let a = serve(d, campaign(|c| c.routing = RoutingConfig::default())).await;
    let body = availability(&a).await;
    assert_eq!(body["agents_available"], 1, "{body}");
    assert_eq!(body["estimated_wait_s"], 0, "{body}");
    assert_eq!(token(&a).await.status, StatusCode::OK);
    assert_eq!(loads(&a.state, "sales"), 0, "no agents to load");
}

/// An answered call of `campaign` that lasted `talk_s` and ended `ago_s` ago.
async fn answered_call(s: &Store, id: &str, campaign: &str, talk_s: i64, ago_s: i64) {
    let ended = unix_now() - ago_s;
    s.insert_call(&NewCall {
        id: id.into(),
        org: ORG.into(),
        campaign: campaign.into(),
        session_id: format!("ws_{id}"),
        number: "+4930999000".into(),
        destination: "agent".into(),
        trunk: "main".into(),
        sip_call_id: String::new(),
        started_at: ended - talk_s - 5,
        node: "n1".into(),
    })
    .await
    .expect("insert call");
    s.call_answered(id, ended - talk_s).await.expect("answered");
    s.end_call(id, ended, "hangup_remote", Some(200))
        .await
        .expect("end");
}

#[tokio::test]
async fn the_wait_comes_from_the_last_hours_handle_times() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    let bob = ready_agent(&d.store, "Bob", &[]).await;
    on_call(&d.store, &ada, "call-a").await;
    on_call(&d.store, &bob, "call-b").await;
    // 50 s and 70 s in the last hour; an old one and another campaign's do not count.
    answered_call(&d.store, "h1", "sales", 50, 600).await;
    answered_call(&d.store, "h2", "sales", 70, 60).await;
    answered_call(&d.store, "old", "sales", 3000, 4000).await;
    answered_call(&d.store, "other", "support", 900, 60).await;
    let a = serve(d, campaign(|c| c.routing.wrap_up_s = 10)).await;
    let body = availability(&a).await;
    assert_eq!(body["agents_available"], 0, "{body}");
    // (60 s talk + 10 s wrap-up) over the 2 agents serving.
    assert_eq!(body["estimated_wait_s"], 35, "{body}");
    assert_eq!(token(&a).await.body["error"], "no_agent");
}

#[tokio::test]
async fn without_answered_calls_the_wait_is_unknown() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    on_call(&d.store, &ada, "call-a").await;
    answered_call(&d.store, "old", "sales", 100, 7200).await;
    let a = serve(d, campaign(|_| {})).await;
    let body = availability(&a).await;
    assert_eq!(body["agents_available"], 0, "{body}");
    assert!(body.get("estimated_wait_s").is_none(), "{body}");
}

#[tokio::test]
async fn a_campaign_that_queues_takes_the_call_and_counts_the_calls_waiting_before_it() {
    let d = db().await;
    let ada = ready_agent(&d.store, "Ada", &[]).await;
    ready_agent(&d.store, "Bob", &[]).await;
    on_call(&d.store, &ada, "c-talking").await;
    answered_call(&d.store, "past", "sales", 90, 60).await;
    // Two calls already wait (on any node): they go before a new caller.
    let until = unix_now() + 120;
    for (n, id) in ["w1", "w2"].into_iter().enumerate() {
        d.store
            .enqueue_call("sales", id, "n2", 0, n as i64, until)
            .await
            .expect("queued");
    }
    let a = serve(d, campaign(|c| c.routing.queue = true)).await;
    let body = availability(&a).await;
    assert_eq!(
        body["agents_available"], 0,
        "Bob is free, but for w1: {body}"
    );
    // Third in line with one agent free and two serving: (3 - 1) x (90 s + 10 s wrap-up) / 2.
    assert_eq!(body["estimated_wait_s"], 100, "{body}");
    let r = token(&a).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a queueing campaign lets the caller wait: {}",
        r.body
    );
}
