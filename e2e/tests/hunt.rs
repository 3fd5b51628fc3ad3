//! A campaign with several destinations calls them in order: the first is busy, the second
//! rings out and is cancelled, the third answers and the call carries audio.

use std::time::Duration;

use c2c_e2e::sipp::{uri_user, Sipp};
use c2c_e2e::{artifacts_dir, scene, scratch_dir, widget};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_and_unanswered_destinations_pass_the_call_to_the_next() {
    tokio::time::timeout(Duration::from_secs(150), async {
        let scratch = scratch_dir("hunt");
        let dir = scratch.path();
        let mut sipp = Sipp::uas_calls(dir, "uas_hunt.xml", 3);
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| c2c_e2e::site::Site::embed_page(gw, "e2e"),
            scene::Extra {
                destinations: r#"["+15551230001", "+1 555 123 0002", "+15551230003"]"#,
                campaign: "ring_timeout_s = 5",
                ..Default::default()
            },
        )
        .await;
        let browser = scene::browser(dir, 20).await;
        widget::call_from(&browser, &site.origin).await;
        widget::wait_state(&browser, "answered", Duration::from_secs(60)).await;
        let last = widget::wait_for_echo(&browser, Duration::from_secs(15)).await;
        assert!(
            last["packetsReceived"].as_f64().unwrap_or(0.0) > 50.0,
            "the third destination's echo did not come back: {last}"
        );
        browser
            .screenshot(&artifacts_dir().join("hunt-answered.png"))
            .await;

        // In order, each once, with the session number as caller ID on every attempt.
        let (_, _, number) = widget::status(&browser).await;
        let invites = sipp.requests("INVITE");
        let called: Vec<&str> = invites
            .iter()
            .filter_map(|i| i.split_whitespace().nth(1))
            .filter_map(uri_user)
            .collect();
        assert_eq!(
            called,
            ["+15551230001", "+15551230002", "+15551230003"],
            "{invites:?}"
        );
        for invite in &invites {
            let from = c2c_e2e::sipp::header(invite, "From").expect("From");
            assert_eq!(uri_user(from), Some(number.as_str()), "{invite}");
        }
        assert_eq!(
            sipp.requests("CANCEL").len(),
            1,
            "the ringing one is cancelled"
        );

        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("click hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        let (_, reason, _) = widget::status(&browser).await;
        assert_eq!(reason, "hangup_local");
        let status = sipp
            .wait(Duration::from_secs(15))
            .await
            .expect("SIPp finishes its three calls");
        assert!(status.success(), "a SIPp call failed: {status}");
        c2c_e2e::http::assert_metrics(
            &gw.url,
            &[
                "c2c_destinations_hunted_total 2",
                "c2c_calls_ended_total{reason=\"hangup_local\"} 1",
                "c2c_call_setup_seconds_count 1",
                "c2c_calls_active 0",
            ],
        )
        .await;
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
