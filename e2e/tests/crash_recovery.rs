//! A gateway killed mid-call (SIGKILL: no chance to end anything) leaves its call record
//! open; started again on the same data, it closes that record as `interrupted` instead of
//! showing the call in progress for ever.

use std::time::{Duration, Instant};

use c2c_e2e::gateway::Gateway;
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{scene, scratch_dir, widget};
use c2c_web::store::{CallFilter, CallRecord};
use c2c_web::Store;

const LIMIT: Duration = Duration::from_secs(150);

/// The calls of the test campaign's organisation, newest first.
async fn calls(store: &Store) -> Vec<CallRecord> {
    store
        .calls("default", &CallFilter::default(), 10, 0)
        .await
        .expect("list calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_off_by_a_crash_is_closed_as_interrupted_at_the_next_start() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("crash-recovery");
        let dir = scratch.path();
        let sipp = Sipp::uas_echo(dir);
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| Site::embed_page(gw, "e2e"),
            Default::default(),
        )
        .await;
        let browser = scene::browser(dir, 30).await;
        browser
            .client
            .goto(&site.origin)
            .await
            .expect("open the shop");
        let call = widget::find(&browser, "[data-c2c=call]", Duration::from_secs(20)).await;
        call.click().await.expect("click call");
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;

        let store = Store::open_sqlite_in(&dir.join("data"))
            .await
            .expect("open the database");
        let start = Instant::now();
        while calls(&store)
            .await
            .first()
            .and_then(|c| c.answered_at)
            .is_none()
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no answered call recorded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let before = calls(&store).await.remove(0);
        assert_eq!(
            (before.ended_at, before.disposition.as_deref()),
            (None, None)
        );

        // Killed mid-call, then started on the same data dir and configuration.
        let config = std::fs::read_to_string(dir.join("c2c.toml")).expect("config");
        gw.stop().await;
        let gw = Gateway::start(dir, &config, &[]).await;
        let after = calls(&store).await.remove(0);
        assert_eq!(after.id, before.id);
        assert_eq!(
            after.disposition.as_deref(),
            Some("interrupted"),
            "the cut-off call is closed at start; gateway log:\n{}",
            gw.log_text()
        );
        let ended = after.ended_at.expect("an end time");
        assert!(
            ended >= before.started_at,
            "ended at its last sign of life, not before it started: {after:?}"
        );
        let events = store.call_events(&after.id).await.expect("timeline");
        let last = events.last().expect("timeline entries");
        assert!(
            last.kind == "end" && last.detail.starts_with("interrupted"),
            "{last:?}"
        );
        assert!(
            gw.log_text().contains("recorded as interrupted"),
            "the start says so: {}",
            gw.log_text()
        );
        store.close().await;
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("the test took too long");
}
