//! SIGTERM drains: `/readyz` turns 503 at once, no new token is issued, the call in progress
//! gets the grace period (`[server] drain_s`) and is then ended with a BYE to the trunk and an
//! `ended` to the browser, its record is complete (not `interrupted`), and the process exits 0.

use std::time::{Duration, Instant};

use c2c_e2e::scene::{self, Extra};
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{scratch_dir, widget};
use c2c_store::CallFilter;
use c2c_store::Store;

const LIMIT: Duration = Duration::from_secs(150);
/// The grace period the test runs with.
const DRAIN_S: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_call_with_a_bye_completes_its_record_and_exits_0() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("drain");
        let dir = scratch.path();
        let mut sipp = Sipp::uas_echo(dir);
        let root = format!("server = {{ drain_s = {DRAIN_S} }}");
        let extra = Extra {
            root: &root,
            ..Default::default()
        };
        let (site, gw) =
            scene::start(dir, sipp.port, |gw| Site::embed_page(gw, "e2e"), extra).await;
        let browser = scene::browser(dir, 30).await;
        widget::call_from(&browser, &site.origin).await;
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        let url = gw.url.clone();
        let http = reqwest::Client::new();
        let readyz = || http.get(format!("{url}/readyz")).send();
        assert_eq!(readyz().await.expect("readyz").status(), 200);

        let log = gw.log.clone();
        let signalled = Instant::now();
        let exit = tokio::spawn(gw.terminate(Duration::from_secs(40)));
        // Not ready at once, while the call goes on.
        let start = Instant::now();
        loop {
            let status = readyz().await.map(|r| r.status().as_u16()).ok();
            if status == Some(503) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "still ready: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let token = http
            .post(format!("{url}/v1/calls/token"))
            .header("Origin", &site.origin)
            .json(&serde_json::json!({"campaign": "e2e", "page_url": site.origin, "referrer": ""}))
            .send()
            .await
            .expect("token request");
        assert_eq!(token.status(), 503, "no new token while draining");
        assert_eq!(
            widget::status(&browser).await.0,
            "answered",
            "the call goes on during the grace period"
        );

        widget::wait_state(&browser, "ended", Duration::from_secs(DRAIN_S + 15)).await;
        assert!(
            signalled.elapsed() >= Duration::from_secs(DRAIN_S),
            "ended only after the grace period"
        );
        let status = exit.await.expect("join").expect("the gateway exited");
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "exit {status:?}; log:\n{log_text}");
        assert!(log_text.contains("drained"), "{log_text}");

        let sipp_status = sipp.wait(Duration::from_secs(30)).await;
        assert!(
            !sipp.requests("BYE").is_empty(),
            "the trunk got a BYE; log:\n{log_text}"
        );
        assert!(
            sipp_status.is_some_and(|s| s.success()),
            "SIPp: {sipp_status:?}"
        );

        let store = Store::open_sqlite_in(&dir.join("data"))
            .await
            .expect("open the database");
        let calls = store
            .calls("default", &CallFilter::default(), 10, 0)
            .await
            .expect("list calls");
        let call = calls.first().expect("the call's record");
        assert!(
            call.answered_at.is_some() && call.ended_at.is_some(),
            "{call:?}"
        );
        assert_ne!(call.disposition.as_deref(), Some("interrupted"), "{call:?}");
        assert!(call.disposition.is_some(), "{call:?}");
        let events = store.call_events(&call.id).await.expect("timeline");
        assert!(
            events
                .iter()
                .any(|e| e.detail == "ended by the node's drain"),
            "{events:#?}"
        );
        store.close().await;
        browser.close().await;
    })
    .await
    .expect("the test took too long");
}
