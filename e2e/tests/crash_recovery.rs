//! A gateway killed mid-call (SIGKILL: no chance to end anything) leaves its call record
//! open and the trunk's dialog up; started again on the same data, it closes that record as
//! `interrupted` instead of showing the call in progress for ever, and ends the call at the
//! trunk with a BYE rebuilt from the recorded SIP messages.

use std::time::{Duration, Instant};

use c2c_e2e::gateway::Gateway;
use c2c_e2e::sipp::{header, Sipp};
use c2c_e2e::site::Site;
use c2c_e2e::{scene, scratch_dir, widget};
use c2c_store::Store;
use c2c_store::{CallFilter, CallRecord};

const LIMIT: Duration = Duration::from_secs(150);

/// The start line of a message.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim_end()
}

/// The calls of the test campaign's organisation, newest first.
async fn calls(store: &Store) -> Vec<CallRecord> {
    store
        .calls("default", &CallFilter::default(), 10, 0)
        .await
        .expect("list calls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_a_crash_interrupted_is_closed_at_the_next_start() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("crash-recovery");
        let dir = scratch.path();
        // SIPp's built-in UAS answers, echoes RTP, then waits for the BYE and answers 200.
        let mut sipp = Sipp::uas_echo(dir);
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| Site::embed_page(gw, "e2e"),
            Default::default(),
        )
        .await;
        let browser = scene::browser(dir, 30).await;
        widget::call_from(&browser, &site.origin).await;
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

        // Killed mid-call, then started on the same data dir and configuration, with the SIP
        // address the trunk knows (the test's configuration let the first run pick a port).
        let invite = sipp.requests("INVITE").remove(0);
        let via = header(&invite, "Via").expect("Via").to_owned();
        let sip_addr = via
            .split_whitespace()
            .nth(1)
            .and_then(|sent_by| sent_by.split(';').next())
            .expect("Via sent-by");
        let config = std::fs::read_to_string(dir.join("c2c.toml"))
            .expect("config")
            .replace(
                "listen = \"127.0.0.1:0\"",
                &format!("listen = \"{sip_addr}\""),
            );
        gw.stop().await;
        let gw = Gateway::start(dir, &config, &[]).await;
        let after = calls(&store).await.remove(0);
        assert_eq!(after.id, before.id);
        assert_eq!(
            after.disposition.as_deref(),
            Some("interrupted"),
            "the interrupted call is closed at start; gateway log:\n{}",
            gw.log_text()
        );
        let ended = after.ended_at.expect("an end time");
        assert!(
            ended >= before.started_at,
            "ended at its last sign of life, not before it started: {after:?}"
        );
        let events = store.call_events(&after.id).await.expect("timeline");
        let end = events
            .iter()
            .find(|e| e.kind == "end")
            .expect("an end entry");
        assert!(end.detail.starts_with("interrupted"), "{end:?}");

        // The trunk got a BYE in the dialog the crash interrupted, answered it, and is done.
        let status = sipp.wait(Duration::from_secs(30)).await;
        let byes = sipp.requests("BYE");
        assert!(
            status.is_some_and(|s| s.success()) && !byes.is_empty(),
            "SIPp ended with {status:?} after BYEs {byes:#?}; gateway log:\n{}",
            gw.log_text()
        );
        let bye = &byes[0];
        let answer = events
            .iter()
            .find(|e| e.kind == "sip_in" && e.detail.starts_with("SIP/2.0 200"))
            .expect("the recorded 200 OK");
        let tag = |msg: &str, name: &str| {
            let value = header(msg, name).unwrap_or_default().to_owned();
            value.split_once(";tag=").map(|(_, t)| t.to_owned())
        };
        assert_eq!(header(bye, "Call-ID"), Some(before.sip_call_id.as_str()));
        assert_eq!(tag(bye, "From"), tag(&invite, "From"), "our tag: {bye}");
        assert!(tag(bye, "From").is_some());
        assert_eq!(
            tag(bye, "To"),
            tag(&answer.detail, "To"),
            "SIPp's tag: {bye}"
        );
        assert!(tag(bye, "To").is_some());
        let cseq = |msg: &str| {
            let value = header(msg, "CSeq").unwrap_or_default().to_owned();
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u32>().ok())
        };
        assert_eq!(cseq(bye), cseq(&invite).map(|n| n + 1), "{bye}");

        // The call's ladder shows it, after the end.
        let start = Instant::now();
        let events = loop {
            let events = store.call_events(&after.id).await.expect("timeline");
            if events
                .iter()
                .any(|e| e.detail.starts_with("the trunk answered the BYE"))
            {
                break events;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "BYE not recorded: {events:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut after_end: Vec<(&str, &str)> = events
            .iter()
            .skip_while(|e| e.kind != "end")
            .map(|e| (e.kind.as_str(), first_line(&e.detail)))
            .collect();
        after_end.dedup(); // a retransmission on a busy machine

        let bye_line = first_line(bye);
        assert_eq!(
            after_end,
            vec![
                ("end", first_line(&end.detail)),
                ("state", "BYE sent to the trunk after restart"),
                ("sip_out", bye_line),
                ("sip_in", "SIP/2.0 200 OK"),
                ("state", "the trunk answered the BYE: 200 OK"),
            ]
        );
        assert!(
            gw.log_text()
                .contains("interrupted call ended at the trunk"),
            "{}",
            gw.log_text()
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
