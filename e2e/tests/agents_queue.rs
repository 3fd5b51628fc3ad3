//! The queue with the real binary and two Chromium visitors: with the only agent busy, the
//! second visitor waits at position 1 and is connected when the first call ends; then, with
//! that agent busy again, a visitor who waits the queue's longest gets `no_agent` and the
//! callback form in the same card.

use std::time::Duration;

use c2c_e2e::scene::{self, Extra};
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{agents, ports, scratch_dir, widget};

const LIMIT: Duration = Duration::from_secs(150);

/// Keys after campaign `e2e`: a callback fallback, its agents behind a queue of 8 s at most.
const QUEUED: &str = r#"
fallback = "callback"

[campaigns.routing]
strategy = "longest_idle"
wrap_up_s = 0
queue = true
max_wait_s = 8

[registrar]
networks = ["127.0.0.0/8"]
realm = "c2c.test"
# SIPp 3.6 answers only the first challenge, and only MD5.
algorithms = ["MD5", "SHA-256"]
"#;

/// Opens the shop and clicks call.
async fn call(browser: &c2c_e2e::browser::Browser, origin: &str) {
    browser.client.goto(origin).await.expect("open the shop");
    let button = widget::find_shown(browser, "[data-c2c=call]", Duration::from_secs(20)).await;
    button.click().await.expect("click call");
}

async fn hang_up(browser: &c2c_e2e::browser::Browser) {
    let button = widget::find(browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
    button.click().await.expect("hang up");
    widget::wait_state(browser, "ended", Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_visitor_waits_first_in_line_and_then_is_connected_or_offered_a_callback() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("agents-queue");
        let dir = scratch.path();
        let (site, gw) = scene::start(
            dir,
            ports::free_udp(),
            |gw| Site::embed_page(gw, "e2e"),
            Extra {
                campaign: QUEUED,
                ..Default::default()
            },
        )
        .await;
        let password = agents::add(&dir.join("c2c.toml"), "default", "solo", &[])
            .await
            .password;
        agents::logged(&gw, "accounts=1", Duration::from_secs(15)).await;
        let sip = gw.sip_addr().expect("the SIP address is logged");
        let phone = Sipp::agent_phone(dir, sip, "solo", &password, 90_000, "agent_answer.xml");
        let store = c2c_store::Store::open_sqlite_in(&dir.join("data"))
            .await
            .expect("store");
        tokio::time::timeout(Duration::from_secs(15), async {
            while store
                .org_registrations("default", c2c_token::clock::unix_now())
                .await
                .expect("rows")
                .is_empty()
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the phone registers");

        let first = scene::browser(dir, 30).await;
        call(&first, &site.origin).await;
        widget::wait_state(&first, "answered", Duration::from_secs(30)).await;

        // The only agent is busy: the second visitor waits, first in line.
        let second = scene::browser(dir, 30).await;
        call(&second, &site.origin).await;
        widget::wait_state(&second, "queued", Duration::from_secs(15)).await;
        let position = widget::attr(&second, "[data-c2c=status]", "data-position").await;
        assert_eq!(position, "1", "first in line");
        assert_eq!(
            phone.requests("INVITE").len(),
            1,
            "the busy agent is not rung"
        );

        // The first call ends: the agent is free and the waiting call rings it.
        hang_up(&first).await;
        let waited = widget::wait_state(&second, "answered", Duration::from_secs(15)).await;
        println!(
            "queued call connected {} ms after the agent was free",
            waited.as_millis()
        );
        assert_eq!(phone.requests("INVITE").len(), 2);

        // The agent is busy again: a visitor who waits the queue's longest (8 s) is told
        // nobody could take the call, and offered a callback in the same card.
        call(&first, &site.origin).await;
        widget::wait_state(&first, "queued", Duration::from_secs(15)).await;
        widget::wait_state(&first, "ended", Duration::from_secs(20)).await;
        let (_, reason, _) = widget::status(&first).await;
        assert_eq!(reason, "no_agent");
        let form_hidden = widget::attr(&first, "[data-c2c=callback]", "hidden").await;
        assert!(
            form_hidden.is_null(),
            "the callback form is shown: {form_hidden}"
        );
        assert_eq!(
            phone.requests("INVITE").len(),
            2,
            "the busy agent was never rung"
        );

        hang_up(&second).await;
        let calls = store
            .calls("default", &Default::default(), 10, 0)
            .await
            .expect("calls");
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(
            calls
                .iter()
                .filter(|c| c.disposition.as_deref() == Some("no_agent"))
                .count(),
            1,
            "{calls:?}"
        );
        first.close().await;
        second.close().await;
        drop(phone);
        gw.stop().await;
    })
    .await
    .expect("test finished in time");
}
