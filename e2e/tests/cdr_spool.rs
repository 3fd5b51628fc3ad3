//! A database outage loses no call record: PostgreSQL is stopped for 60 s during a
//! Chromium↔SIPp call, the visitor hangs up meanwhile, and when the database is back the record
//! arrives complete (answered, ended as the visitor's hang-up, with its SIP ladder), from the
//! spool the gateway kept in its data dir.

use std::time::{Duration, Instant};

use c2c_e2e::postgres::OwnPostgres;
use c2c_e2e::scene::{self, Extra};
use c2c_e2e::sipp::Sipp;
use c2c_e2e::site::Site;
use c2c_e2e::{scratch_dir, widget};
use c2c_store::{CallFilter, Store};

const LIMIT: Duration = Duration::from_secs(240);
/// How long the database is away.
const OUTAGE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_while_postgresql_is_down_arrives_complete_when_it_is_back() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("cdr-spool");
        let dir = scratch.path();
        let pg = OwnPostgres::start();
        let mut sipp = Sipp::uas_echo(dir);
        let root = format!("database_url = \"{}\"", pg.url());
        let extra = Extra {
            root: &root,
            ..Default::default()
        };
        let (site, gw) =
            scene::start(dir, sipp.port, |gw| Site::embed_page(gw, "e2e"), extra).await;
        let browser = scene::browser(dir, 90).await;
        widget::call_from(&browser, &site.origin).await;
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        // The start of the record is in the database before the outage.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let down = Instant::now();
        pg.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        let sipp_status = sipp.wait(Duration::from_secs(30)).await;
        assert!(!sipp.requests("BYE").is_empty(), "the trunk got a BYE");
        assert!(
            sipp_status.is_some_and(|s| s.success()),
            "SIPp: {sipp_status:?}"
        );

        // Past the writer's retry window, the end of the record waits on disk.
        let spool = dir.join("data").join("call-records.spool");
        let start = Instant::now();
        while std::fs::metadata(&spool).map_or(0, |m| m.len()) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "nothing spooled; log:\n{}",
                gw.log_text()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let spooled = std::fs::read_to_string(&spool).unwrap_or_default();
        assert!(spooled.contains("hangup_local"), "{spooled}");
        tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;
        pg.start_again();

        let store = Store::open(&pg.url()).await.expect("the database is back");
        let start = Instant::now();
        let call = loop {
            let calls = store
                .calls("default", &CallFilter::default(), 10, 0)
                .await
                .expect("list calls");
            if let Some(call) = calls.into_iter().find(|c| c.ended_at.is_some()) {
                break call;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the record did not arrive; log:\n{}",
                gw.log_text()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(
            call.disposition.as_deref(),
            Some("hangup_local"),
            "{call:?}"
        );
        assert!(call.answered_at.is_some(), "{call:?}");
        let events = store.call_events(&call.id).await.expect("timeline");
        let byes = events
            .iter()
            .filter(|e| e.kind == "sip_out" && e.detail.starts_with("BYE "))
            .count();
        assert_eq!(
            byes, 1,
            "the BYE of the outage is in the ladder once: {events:#?}"
        );
        let log = gw.log_text();
        assert!(log.contains("call-record writes spooled"), "{log}");
        assert!(log.contains("call-record spool replayed"), "{log}");
        // Emptied once replayed.
        let start = Instant::now();
        while std::fs::metadata(&spool).map_or(0, |m| m.len()) > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "spool not emptied"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        store.close().await;
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("the test took too long");
}
