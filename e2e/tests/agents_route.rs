//! A campaign routed to its agents, with the real binary: the agent's SIPp phone registers
//! from behind "NAT" (a private Contact), a Chromium visitor calls, the phone rings with the
//! visitor's web context and answers, the audio echoes back, and the call record names the
//! agent. While the agent is in wrap-up, no call is offered and a token is refused. With
//! ring_all, three phones ring at once and the two that lose are told it was answered
//! elsewhere.

use std::time::Duration;

use c2c_e2e::scene::{self, Extra};
use c2c_e2e::sipp::{header, Sipp};
use c2c_e2e::site::Site;
use c2c_e2e::{agents, ports, scratch_dir, widget};

const LIMIT: Duration = Duration::from_secs(150);

/// Keys after campaign `e2e`: its agents take the calls, picked by `strategy`; phones
/// register from loopback.
fn routed(strategy: &str) -> String {
    format!(
        r#"
[campaigns.routing]
strategy = "{strategy}"
wrap_up_s = 30
# Without a queue, a visitor who finds nobody free is refused at once.
queue = false
{REGISTRAR}"#
    )
}

const REGISTRAR: &str = r#"
[registrar]
networks = ["127.0.0.0/8"]
realm = "c2c.test"
# SIPp 3.6 answers only the first challenge, and only MD5.
algorithms = ["MD5", "SHA-256"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_reaches_the_registered_agent_who_is_then_in_wrap_up() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("agents-route");
        let dir = scratch.path();
        // The trunk is never called: the campaign's agents take its calls.
        let (site, gw) = scene::start(
            dir,
            ports::free_udp(),
            |gw| Site::embed_page(gw, "e2e"),
            Extra {
                campaign: &routed("longest_idle"),
                ..Default::default()
            },
        )
        .await;
        let alice = agents::add(&dir.join("c2c.toml"), "default", "alice", &[]).await;
        let (agent, password) = (alice.id, alice.password);
        agents::logged(&gw, "accounts=1", Duration::from_secs(15)).await;
        let sip = gw.sip_addr().expect("the SIP address is logged");
        let phone = Sipp::agent_phone(dir, sip, "alice", &password, 40_000, "agent_answer.xml");
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

        let browser = scene::browser(dir, 8).await;
        browser
            .client
            .goto(&site.origin)
            .await
            .expect("open the shop");
        let call = widget::find_shown(&browser, "[data-c2c=call]", Duration::from_secs(20)).await;
        call.click().await.expect("click call");
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        let echo = widget::wait_for_echo(&browser, Duration::from_secs(15)).await;
        assert!(
            echo["audioLevel"].as_f64().unwrap_or(0.0) > 0.0,
            "the agent's phone echoed nothing: {echo}"
        );

        let invites = phone.requests("INVITE");
        assert_eq!(invites.len(), 1, "{invites:?}");
        let invite = &invites[0];
        assert!(
            invite.starts_with("INVITE sip:alice@10.255.0.1:5060 SIP/2.0"),
            "the Request-URI is the registered Contact without its parameters: {invite}"
        );
        assert!(
            header(invite, "X-C2C-Session").is_some_and(|s| s.starts_with("ws_")),
            "{invite}"
        );
        assert_eq!(header(invite, "X-C2C-Campaign"), Some("e2e"));
        assert!(
            header(invite, "X-C2C-Page").is_some_and(|p| p.starts_with(&site.origin)),
            "{invite}"
        );

        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while phone.requests("BYE").is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the BYE reached the phone where it registered from");

        // The record names the agent, and the agent is in wrap-up: nobody else is free.
        let calls = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let calls = store
                    .calls("default", &Default::default(), 10, 0)
                    .await
                    .expect("calls");
                if calls.iter().any(|c| c.ended_at.is_some()) {
                    return calls;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the call is recorded");
        assert_eq!(
            calls[0].destination,
            format!("agent:{agent}"),
            "{:?}",
            calls[0]
        );
        let live = store
            .org_agent_states("default", c2c_token::clock::unix_ms())
            .await
            .expect("states");
        assert_eq!(live[0].answered_today, 1);
        assert!(live[0].wrap_up_until_ms > c2c_token::clock::unix_ms());
        assert_eq!(live[0].ringing + live[0].on_call, 0, "released");

        // Availability tells the truth: the page offers no call, the token is refused, and
        // the phone does not ring again.
        let availability = c2c_e2e::http::request(
            &gw.url,
            "GET",
            "/v1/campaigns/e2e/availability",
            &[("Origin", site.origin.as_str())],
            "",
        )
        .await;
        assert_eq!(
            availability.json()["agents_available"],
            0,
            "{}",
            availability.body
        );
        let refused = c2c_e2e::http::token(&gw.url, &site.origin, "e2e").await;
        assert_eq!(refused.status, 409, "{}", refused.body);
        assert_eq!(refused.json()["error"], "no_agent", "{}", refused.body);
        browser.client.refresh().await.expect("reload");
        let call = widget::find(&browser, "[data-c2c=call]", Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            !call.is_displayed().await.expect("displayed?"),
            "no call is offered while the only agent is in wrap-up"
        );
        assert_eq!(
            phone.requests("INVITE").len(),
            1,
            "the phone did not ring again"
        );

        browser.close().await;
        drop(phone);
        gw.stop().await;
    })
    .await
    .expect("test finished in time");
}

/// Polls the database until `org`'s phones are all registered.
async fn registered(store: &c2c_store::Store, phones: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while store
            .org_registrations("default", c2c_token::clock::unix_now())
            .await
            .expect("rows")
            .len()
            < phones
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the phones register");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_all_rings_three_agents_one_answers_the_others_log_it_as_answered_elsewhere() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("agents-ring-all");
        let dir = scratch.path();
        let (site, gw) = scene::start(
            dir,
            ports::free_udp(),
            |gw| Site::embed_page(gw, "e2e"),
            Extra {
                campaign: &routed("ring_all"),
                ..Default::default()
            },
        )
        .await;
        let mut agents = Vec::new();
        for user in ["alice", "bob", "carol"] {
            agents.push(agents::add(&dir.join("c2c.toml"), "default", user, &[]).await);
        }
        agents::logged(&gw, "accounts=3", Duration::from_secs(15)).await;
        let sip = gw.sip_addr().expect("the SIP address is logged");
        let phones: Vec<Sipp> = ["alice", "bob", "carol"]
            .iter()
            .zip(&agents)
            .map(|(user, agent)| {
                let calls = match *user {
                    "bob" => "agent_answer.xml",
                    _ => "agent_ring.xml",
                };
                Sipp::agent_phone(dir, sip, user, &agent.password, 40_000, calls)
            })
            .collect();
        let store = c2c_store::Store::open_sqlite_in(&dir.join("data"))
            .await
            .expect("store");
        registered(&store, 3).await;

        let browser = scene::browser(dir, 8).await;
        browser
            .client
            .goto(&site.origin)
            .await
            .expect("open the shop");
        let call = widget::find_shown(&browser, "[data-c2c=call]", Duration::from_secs(20)).await;
        call.click().await.expect("click call");
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        for phone in &phones {
            assert_eq!(
                phone.requests("INVITE").len(),
                1,
                "every agent rang at once"
            );
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            while phones[0].requests("CANCEL").is_empty() || phones[2].requests("CANCEL").is_empty()
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the phones that rang are cancelled");
        for phone in [&phones[0], &phones[2]] {
            let cancel = &phone.requests("CANCEL")[0];
            assert_eq!(
                header(cancel, "Reason"),
                Some("SIP;cause=200;text=\"Call completed elsewhere\""),
                "RFC 3326, so the phone logs no missed call: {cancel}"
            );
        }
        assert!(phones[1].requests("CANCEL").is_empty(), "bob answered");

        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        let calls = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let calls = store
                    .calls("default", &Default::default(), 10, 0)
                    .await
                    .expect("calls");
                if calls.iter().any(|c| c.ended_at.is_some()) {
                    return calls;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the call is recorded");
        assert_eq!(
            calls[0].destination,
            format!("agent:{}", agents[1].id),
            "the record names bob, who answered"
        );
        let live = store
            .org_agent_states("default", c2c_token::clock::unix_ms())
            .await
            .expect("states");
        for a in &live {
            assert_eq!(
                a.ringing + a.on_call,
                0,
                "{} released",
                a.agent.display_name
            );
            let answered = a.agent.id == agents[1].id;
            assert_eq!(
                a.answered_today,
                u32::from(answered),
                "{}",
                a.agent.display_name
            );
        }
        browser.close().await;
        drop(phones);
        gw.stop().await;
    })
    .await
    .expect("test finished in time");
}
