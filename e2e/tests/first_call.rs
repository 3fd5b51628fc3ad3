//! The first real call: a browser on a customer's site calls through the real `c2c` binary to
//! a real SIPp trunk, hears the echo, and hangs up.

use std::time::Duration;

use c2c_e2e::gateway::Gateway;
use c2c_e2e::sipp::{header, uri_user, Sipp};
use c2c_e2e::site::Site;
use c2c_e2e::{artifacts_dir, ports, scene, scratch_dir, widget};

const LIMIT: Duration = Duration::from_secs(150);

/// Starts SIPp (as given), a customer site and the gateway configured for both.
async fn setup(
    name: &str,
    sipp: impl FnOnce(&std::path::Path) -> Sipp,
) -> (tempfile::TempDir, Sipp, Site, Gateway) {
    let scratch = scratch_dir(name);
    let dir = scratch.path();
    let sipp = sipp(dir);
    let (site, gw) = scene::start(
        dir,
        sipp.port,
        |gw| Site::embed_page(gw, "e2e"),
        Default::default(),
    )
    .await;
    (scratch, sipp, site, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_carries_the_session_number_echoes_audio_and_hangs_up_with_bye() {
    tokio::time::timeout(LIMIT, async {
        let (scratch, mut sipp, site, gw) = setup("first-call", Sipp::uas_echo).await;
        let browser = scene::browser(scratch.path(), 5).await;
        browser
            .client
            .goto(&site.origin)
            .await
            .expect("open the shop page");
        let shots = artifacts_dir();

        let call = widget::find(&browser, "[data-c2c=call]", Duration::from_secs(20)).await;
        browser
            .screenshot(&shots.join("first-call-1-idle.png"))
            .await;
        call.click().await.expect("click the call button");
        let to_answer = widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        println!("click-to-answered: {} ms", to_answer.as_millis());
        browser
            .screenshot(&shots.join("first-call-2-answered.png"))
            .await;

        // The echoed tone comes back: packets and a non-zero audio level.
        let last = widget::wait_for_echo(&browser, Duration::from_secs(15)).await;
        assert!(
            last["packetsReceived"].as_f64().unwrap_or(0.0) > 100.0,
            "too few packets came back: {last}"
        );
        assert!(
            last["audioLevel"].as_f64().unwrap_or(0.0) > 0.0,
            "the echo was silent: {last}"
        );
        assert!(
            last["packetsSent"].as_f64().unwrap_or(0.0) > 100.0,
            "the browser sent too little: {last}"
        );

        // SIPp saw our INVITE with the session number as caller ID.
        let (_, _, number) = widget::status(&browser).await;
        assert!(
            number.starts_with("+1555777"),
            "session number from the token response: {number:?}"
        );
        let invites = sipp.requests("INVITE");
        assert_eq!(
            invites.len(),
            1,
            "one INVITE expected, SIPp saw: {invites:?}"
        );
        let invite = &invites[0];
        let from = header(invite, "From").expect("From");
        let pai = header(invite, "P-Asserted-Identity").expect("P-Asserted-Identity");
        assert_eq!(uri_user(from), Some(number.as_str()), "From: {from}");
        assert_eq!(
            uri_user(pai),
            Some(number.as_str()),
            "P-Asserted-Identity: {pai}"
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
        assert!(
            invite.starts_with("INVITE sip:+15551230000@127.0.0.1"),
            "{invite}"
        );

        // Hang up in the browser: BYE reaches SIPp, the widget shows ended.
        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("click hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        let (_, reason, _) = widget::status(&browser).await;
        assert_eq!(reason, "hangup_local");
        browser
            .screenshot(&shots.join("first-call-3-ended.png"))
            .await;
        let status = sipp
            .wait(Duration::from_secs(15))
            .await
            .expect("SIPp finishes its call");
        assert!(status.success(), "SIPp's call failed: {status}");
        assert_eq!(sipp.requests("BYE").len(), 1, "one BYE expected");

        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_trunk_ends_the_call_as_busy() {
    tokio::time::timeout(LIMIT, async {
        let (scratch, mut sipp, site, gw) =
            setup("busy", |d| Sipp::uas_scenario(d, "uas_486.xml")).await;
        let browser = scene::browser(scratch.path(), 2).await;
        widget::call_from(&browser, &site.origin).await;
        widget::wait_state(&browser, "ended", Duration::from_secs(30)).await;
        let (_, reason, _) = widget::status(&browser).await;
        assert_eq!(reason, "busy");
        browser
            .screenshot(&artifacts_dir().join("busy-ended.png"))
            .await;
        let status = sipp
            .wait(Duration::from_secs(15))
            .await
            .expect("SIPp finishes");
        assert!(status.success(), "SIPp saw no ACK for its 486: {status}");
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_calls_the_in_process_echo_trunk() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("demo");
        let dir = scratch.path();
        let http_port = ports::free_tcp();
        let config = format!(
            "data_dir = \"{}\"\nstatic_dir = \"{}\"\n[http]\nlisten = \"127.0.0.1:{http_port}\"\n[sip]\nlisten = \"127.0.0.1:0\"\n",
            dir.join("data").display(),
            c2c_e2e::static_dir().display()
        );
        let gw = Gateway::start(dir, &config, &["--demo"]).await;
        let browser = scene::browser(scratch.path(), 5).await;
        widget::call_from(&browser, &format!("{}/", gw.url)).await;
        widget::wait_state(&browser, "answered", Duration::from_secs(30)).await;
        let last = widget::wait_for_echo(&browser, Duration::from_secs(15)).await;
        assert!(last["packetsReceived"].as_f64().unwrap_or(0.0) > 100.0, "no echo: {last}");
        assert!(last["audioLevel"].as_f64().unwrap_or(0.0) > 0.0, "silent echo: {last}");
        browser.screenshot(&artifacts_dir().join("demo-in-call.png")).await;
        let hangup = widget::find(&browser, "[data-c2c=hangup]", Duration::from_secs(5)).await;
        hangup.click().await.expect("hang up");
        widget::wait_state(&browser, "ended", Duration::from_secs(15)).await;
        browser.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
