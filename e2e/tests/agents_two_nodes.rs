//! Two gateway processes on one PostgreSQL act as one: the agent's SIPp phone registers at
//! node B and node A sees it as available; a visitor on A's site is connected to that phone
//! (A rings a registration B holds), after which B sees the agent busy; a visitor on B's site
//! then waits first in the one line both nodes share, and is connected by B when the call on
//! A ends. The database names the agent in both records, each under the node that carried it,
//! and the agent's day counts two answered calls with nothing held.
//!
//! Each visitor's page embeds its own node: a call token is only valid on the node that
//! minted it (the nodes do not share signing keys).

use std::path::Path;
use std::time::{Duration, Instant};

use c2c_e2e::browser::Browser;
use c2c_e2e::gateway::{Gateway, E2E_DESTINATION, E2E_POOL};
use c2c_e2e::postgres::OwnPostgres;
use c2c_e2e::sipp::{header, Sipp};
use c2c_e2e::site::Site;
use c2c_e2e::{agents, ports, scene, scratch_dir, static_dir, widget};
use c2c_store::{CallFilter, CallRecord, Store};
use c2c_token::clock::{unix_ms, unix_now};

const LIMIT: Duration = Duration::from_secs(120);
/// The agent availability a node answers from may be this old (its cache is 1 s); a little
/// more for the request itself.
const FRESH: Duration = Duration::from_secs(3);

/// The configuration of one node: the shared database, its own data dir and HTTP port, a
/// free SIP port; campaign `e2e` (allowing both sites) routed to its agents behind a queue.
fn node_config(
    database_url: &str,
    data_dir: &Path,
    http_port: u16,
    trunk_port: u16,
    origins: [&str; 2],
) -> String {
    format!(
        r#"database_url = "{database_url}"
data_dir = "{data}"
static_dir = "{stat}"

[http]
listen = "127.0.0.1:{http_port}"

[sip]
listen = "127.0.0.1:0"
trunk_networks = ["127.0.0.0/8"]

# Never called: the campaign's agents take its calls.
[[trunks]]
name = "sipp"
host = "127.0.0.1"
port = {trunk_port}
from_domain = "c2c.test"

[[campaigns]]
public_id = "e2e"
allowed_origins = ["{a}", "{b}"]
trunk = "sipp"
{E2E_DESTINATION}
{E2E_POOL}
fallback = "callback"

[campaigns.routing]
strategy = "longest_idle"
wrap_up_s = 0
queue = true
max_wait_s = 20

[registrar]
networks = ["127.0.0.0/8"]
realm = "c2c.test"
# SIPp 3.6 answers only the first challenge, and only MD5.
algorithms = ["MD5", "SHA-256"]
"#,
        data = data_dir.display(),
        stat = static_dir().display(),
        a = origins[0],
        b = origins[1],
    )
}

/// Both nodes' logs, for a failure message.
fn logs(a: &Gateway, b: &Gateway) -> String {
    format!(
        "\n===== node A log =====\n{}\n===== node B log =====\n{}",
        a.log_text(),
        b.log_text()
    )
}

/// `GET /v1/campaigns/e2e/availability` on `gw` as a page on `origin` asks it, until
/// `agents_available` is `want` (within [`FRESH`]); returns how long that took.
async fn availability_is(
    gw: &Gateway,
    origin: &str,
    want: i64,
    why: &str,
    nodes: (&Gateway, &Gateway),
) -> Duration {
    let start = Instant::now();
    loop {
        let r = c2c_e2e::http::request(
            &gw.url,
            "GET",
            "/v1/campaigns/e2e/availability",
            &[("Origin", origin)],
            "",
        )
        .await;
        assert_eq!(r.status, 200, "availability: {}", r.body);
        if r.json()["agents_available"] == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < FRESH,
            "{why}: agents_available is not {want} after {FRESH:?}: {}{}",
            r.body,
            logs(nodes.0, nodes.1)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the widget's state is `want`, failing with both nodes' logs.
async fn reach(b: &Browser, want: &str, limit: Duration, nodes: (&Gateway, &Gateway)) -> Duration {
    let start = Instant::now();
    loop {
        let (state, reason, _) = widget::status(b).await;
        if state == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "widget state {want:?} not reached within {limit:?}; last state {state:?} \
             reason {reason:?}{}",
            logs(nodes.0, nodes.1)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the shop and clicks call once the widget offers it (the button exists, hidden,
/// until the page has the campaign's availability).
async fn call(browser: &Browser, origin: &str, nodes: (&Gateway, &Gateway)) {
    browser.client.goto(origin).await.expect("open the shop");
    let button = widget::find(browser, "[data-c2c=call]", Duration::from_secs(20)).await;
    let start = Instant::now();
    while !button.is_displayed().await.expect("displayed?") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the page on {origin} offers no call: {:?}{}",
            widget::status(browser).await,
            logs(nodes.0, nodes.1)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if start.elapsed() > Duration::from_millis(200) {
        println!(
            "the call button on {origin} was shown after {:?}",
            start.elapsed()
        );
    }
    button.click().await.expect("click call");
}

/// The one answered call `node` carries now, by id (its record is written a moment after the
/// answer).
async fn live_call_of(
    store: &Store,
    node: &str,
    name: &str,
    nodes: (&Gateway, &Gateway),
) -> String {
    let start = Instant::now();
    loop {
        let calls = store.interrupted_calls(node).await.expect("open calls");
        if let [one] = calls.as_slice() {
            return one.id.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10) && calls.len() < 2,
            "node {name} ({node}) should carry exactly one answered call: {calls:?}{}",
            logs(nodes.0, nodes.1)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The gateway's sent-by in a request's top Via.
fn via_sent_by(msg: &str) -> String {
    header(msg, "Via")
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|s| s.split(';').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_share_presence_queue_and_availability() {
    let began = Instant::now();
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("agents-two-nodes");
        let dir = scratch.path();
        let pg = OwnPostgres::start();
        let url = pg.url();

        // Two sites, each embedding its own node.
        let (port_a, port_b) = (ports::free_tcp(), ports::free_tcp());
        let (url_a, url_b) = (
            format!("http://127.0.0.1:{port_a}"),
            format!("http://127.0.0.1:{port_b}"),
        );
        let site_a = Site::start(Site::embed_page(&url_a, "e2e")).await;
        let site_b = Site::start(Site::embed_page(&url_b, "e2e")).await;
        let origins = [site_a.origin.as_str(), site_b.origin.as_str()];
        let trunk_port = ports::free_udp();

        // One after the other: the first applies the migrations and seeds the campaign.
        let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&dir_a).expect("dir a");
        std::fs::create_dir_all(&dir_b).expect("dir b");
        let config_a = node_config(&url, &dir_a.join("data"), port_a, trunk_port, origins);
        let a = Gateway::start(&dir_a, &config_a, &[]).await;
        let config_b = node_config(&url, &dir_b.join("data"), port_b, trunk_port, origins);
        let b = Gateway::start(&dir_b, &config_b, &[]).await;
        assert_eq!(
            (a.url.as_str(), b.url.as_str()),
            (url_a.as_str(), url_b.as_str())
        );
        let nodes = (&a, &b);
        let node_id = |d: &Path| {
            std::fs::read_to_string(d.join("data/node.id"))
                .expect("node id")
                .trim()
                .to_owned()
        };
        let (node_a, node_b) = (node_id(&dir_a), node_id(&dir_b));
        assert_ne!(node_a, node_b, "each node has its own id");
        let sip_a = a.sip_addr().expect("A's SIP address is logged");
        let sip_b = b.sip_addr().expect("B's SIP address is logged");

        // 1. One agent, added once through A's config, in the shared database.
        let shared = agents::add(&dir_a.join("c2c.toml"), "default", "shared", &[]).await;
        let (agent, password) = (shared.id, shared.password);
        agents::logged(&a, "accounts=1", Duration::from_secs(15)).await;
        agents::logged(&b, "accounts=1", Duration::from_secs(15)).await;
        let store = Store::open(&url).await.expect("the shared database");

        // 2. The phone registers at B; A counts it available.
        let phone = Sipp::agent_phone(dir, sip_b, "shared", &password, 55_000, "agent_answer.xml");
        let start = Instant::now();
        let registration = loop {
            let rows = store
                .org_registrations("default", unix_now())
                .await
                .expect("registrations");
            if let Some(r) = rows.into_iter().next() {
                break r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the phone did not register at B{}",
                logs(&a, &b)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(registration.node, node_b, "B holds the registration");
        assert_eq!(registration.agent, agent);
        let took = availability_is(&a, &site_a.origin, 1, "A sees B's registration", nodes).await;
        println!("A counted the agent registered at B available within {took:?}");

        // 3. A visitor on A's site: A rings the phone registered at B, which answers.
        let first = scene::browser(dir, 40).await;
        call(&first, &site_a.origin, nodes).await;
        reach(&first, "answered", Duration::from_secs(30), nodes).await;
        let invites = phone.requests("INVITE");
        assert_eq!(invites.len(), 1, "{invites:?}");
        assert_eq!(
            via_sent_by(&invites[0]),
            sip_a.to_string(),
            "node A rang the phone itself: {}",
            invites[0]
        );
        let call_a = live_call_of(&store, &node_a, "A", nodes).await;
        let took = availability_is(&b, &site_b.origin, 0, "B sees A's claim", nodes).await;
        println!("B counted the agent busy with A's call within {took:?}");

        // 4. A visitor on B's site waits first in the line both nodes share...
        let second = scene::browser(dir, 40).await;
        call(&second, &site_b.origin, nodes).await;
        reach(&second, "queued", Duration::from_secs(15), nodes).await;
        let position = widget::attr(&second, "[data-c2c=status]", "data-position").await;
        assert_eq!(position, "1", "first in line on B{}", logs(&a, &b));
        assert_eq!(
            phone.requests("INVITE").len(),
            1,
            "the busy agent is not rung"
        );
        // ...and B connects it once the call on A ends.
        let hangup = widget::find(&first, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up on A");
        reach(&first, "ended", Duration::from_secs(15), nodes).await;
        let waited = reach(&second, "answered", Duration::from_secs(20), nodes).await;
        println!("the call queued on B was connected {waited:?} after A's call ended");
        let invites = phone.requests("INVITE");
        assert_eq!(invites.len(), 2, "{invites:?}");
        assert_eq!(
            via_sent_by(&invites[1]),
            sip_b.to_string(),
            "node B rang the phone for its queued call: {}",
            invites[1]
        );
        let call_b = live_call_of(&store, &node_b, "B", nodes).await;
        assert_ne!(call_a, call_b);
        assert!(
            store
                .interrupted_calls(&node_a)
                .await
                .expect("open calls")
                .is_empty(),
            "A carries nothing now"
        );

        let hangup = widget::find(&second, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up on B");
        reach(&second, "ended", Duration::from_secs(15), nodes).await;

        // 5. Both records name the agent; the agent answered two calls and holds nothing.
        let start = Instant::now();
        let calls: Vec<CallRecord> = loop {
            let calls = store
                .calls("default", &CallFilter::default(), 10, 0)
                .await
                .expect("calls");
            if calls.len() == 2 && calls.iter().all(|c| c.ended_at.is_some()) {
                break calls;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "two ended records expected: {calls:#?}{}",
                logs(&a, &b)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (id, node) in [(&call_a, &node_a), (&call_b, &node_b)] {
            let record = calls
                .iter()
                .find(|c| &c.id == id)
                .unwrap_or_else(|| panic!("no record {id} (carried by {node}): {calls:#?}"));
            assert_eq!(record.destination, format!("agent:{agent}"), "{record:?}");
            assert!(record.answered_at.is_some(), "{record:?}");
        }
        let start = Instant::now();
        loop {
            let live = store
                .org_agent_states("default", unix_ms())
                .await
                .expect("states");
            assert_eq!(live.len(), 1, "{live:?}");
            let s = &live[0];
            if s.answered_today == 2 && s.ringing + s.on_call == 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the agent should have answered 2 calls and hold none: answered_today {} \
                 ringing {} on_call {}{}",
                s.answered_today,
                s.ringing,
                s.on_call,
                logs(&a, &b)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        first.close().await;
        second.close().await;
        drop(phone);
        store.close().await;
        a.stop().await;
        b.stop().await;
        drop(pg);
    })
    .await
    .expect("test finished in time");
    println!("two nodes: done in {:?}", began.elapsed());
}
