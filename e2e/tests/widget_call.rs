//! The widget's whole happy path on a customer's page (its own origin, with the
//! Content-Security-Policy the README documents): available → connecting → trying → ringing
//! (local ringback) → early media → in call (timer, level meter, mute, keypad) → ended, with a
//! screenshot of each state in `e2e/artifacts/`. And a refused microphone.

use std::time::Duration;

use c2c_e2e::sipp::Sipp;
use c2c_e2e::{artifacts_dir, ports, scene, scratch_dir, widget};

const LIMIT: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_sees_every_state_of_a_call_and_each_is_announced() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("widget-call");
        let dir = scratch.path();
        let mut sipp = Sipp::uas_scenario(dir, "uas_progress.xml");
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| widget::csp_embed_page(gw, "e2e", ""),
            Default::default(),
        )
        .await;
        let b = scene::browser(dir, 20).await;
        b.client
            .goto(&site.origin)
            .await
            .expect("open the shop page");
        widget::record_states(&b).await;
        let shot = |name: &str| artifacts_dir().join(format!("widget-{name}.png"));
        let s = Duration::from_secs;

        widget::wait_state(&b, "available", s(20)).await;
        b.screenshot(&shot("1-available")).await;
        let call = widget::find(&b, "[data-c2c=call]", s(5)).await;
        call.click().await.expect("click the call button");

        widget::wait_state(&b, "trying", s(20)).await;
        b.screenshot(&shot("2-calling")).await;
        assert!(
            widget::visible(&b, "[data-c2c=hangup]").await,
            "hang-up offered"
        );
        assert!(
            !widget::visible(&b, "[data-c2c=call]").await,
            "no second call"
        );

        widget::wait_state(&b, "ringing", s(20)).await;
        assert_eq!(
            widget::attr(&b, "[data-c2c=status]", "data-ringback").await,
            "",
            "the local ringback plays while ringing without early media"
        );
        b.screenshot(&shot("3-ringing")).await;

        widget::wait_state(&b, "early_media", s(20)).await;
        assert!(
            widget::attr(&b, "[data-c2c=status]", "data-ringback")
                .await
                .is_null(),
            "ringback stops when the far end sends early media"
        );
        b.screenshot(&shot("4-early-media")).await;

        widget::wait_state(&b, "answered", s(20)).await;
        assert!(widget::visible(&b, "[data-c2c=timer]").await);
        // The timer runs and the meter shows the (fake) microphone's tone.
        let start = std::time::Instant::now();
        loop {
            let clock = widget::text(&b, "[data-c2c=timer]").await;
            let level = widget::attr(&b, "[data-c2c=meter]", "aria-valuenow").await;
            let level: u32 = level.as_str().and_then(|l| l.parse().ok()).unwrap_or(0);
            if clock != "0:00" && level > 0 {
                break;
            }
            assert!(
                start.elapsed() < s(15),
                "timer {clock:?} and level {level} should move"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        b.screenshot(&shot("5-in-call")).await;

        widget::find(&b, "[data-c2c=mute]", s(5))
            .await
            .click()
            .await
            .expect("mute");
        assert_eq!(
            widget::attr(&b, "[data-c2c=mute]", "aria-pressed").await,
            "true"
        );
        let toggle = widget::find(&b, "[data-c2c=keypad-toggle]", s(5)).await;
        toggle.click().await.expect("open the keypad");
        assert!(widget::visible(&b, "[data-c2c=keypad]").await);
        widget::find(&b, "[data-digit='5']", s(5))
            .await
            .click()
            .await
            .expect("press 5");
        b.screenshot(&shot("6-keypad-muted")).await;
        assert_eq!(widget::js(&b, "return C2C.dtmf('#')").await, true);
        widget::find(&b, "[data-c2c=mute]", s(5))
            .await
            .click()
            .await
            .expect("unmute");
        assert_eq!(
            widget::attr(&b, "[data-c2c=mute]", "aria-pressed").await,
            "false"
        );
        assert_eq!(widget::js(&b, "return C2C.state").await, "answered");

        widget::find(&b, "[data-c2c=hangup]", s(5))
            .await
            .click()
            .await
            .expect("hang up");
        widget::wait_state(&b, "ended", s(15)).await;
        let (_, reason, _) = widget::status(&b).await;
        assert_eq!(reason, "hangup_local");
        assert_eq!(
            widget::text(&b, "[data-c2c=status]").await,
            "You ended the call."
        );
        assert_eq!(widget::text(&b, "[data-c2c=call]").await, "Call again");
        assert!(widget::visible(&b, "[data-c2c=call]").await);
        b.screenshot(&shot("7-ended")).await;

        let (on, events) = widget::recorded_states(&b).await;
        let want = [
            "connecting",
            "trying",
            "ringing",
            "early_media",
            "answered",
            "ended",
        ];
        let from_call: Vec<&str> = on
            .iter()
            .map(String::as_str)
            .skip_while(|s| *s != "connecting")
            .collect();
        assert_eq!(from_call, want, "C2C.on('state') saw {on:?}");
        assert_eq!(on, events, "DOM events carry the same states");
        let violations = widget::js(&b, "return window.__cspViolations").await;
        assert_eq!(
            violations,
            serde_json::json!([]),
            "the documented CSP suffices"
        );

        let status = sipp.wait(s(15)).await.expect("SIPp finishes its call");
        assert!(status.success(), "SIPp's scenario failed: {status}");
        b.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_microphone_says_how_to_allow_it_and_costs_no_call() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("widget-mic-denied");
        let dir = scratch.path();
        // Nothing listens on the trunk port: no call may get that far.
        let (site, gw) = scene::start(
            dir,
            ports::free_udp(),
            |gw| widget::csp_embed_page(gw, "e2e", ""),
            Default::default(),
        )
        .await;
        let b = scene::browser_denying_microphone(dir).await;
        b.client
            .goto(&site.origin)
            .await
            .expect("open the shop page");
        let s = Duration::from_secs;
        widget::wait_state(&b, "available", s(20)).await;
        let call = widget::find(&b, "[data-c2c=call]", s(5)).await;
        call.click().await.expect("click the call button");
        widget::wait_state(&b, "error", s(20)).await;
        let (_, reason, number) = widget::status(&b).await;
        assert_eq!(reason, "microphone_denied");
        assert_eq!(
            number, "",
            "no token was fetched for a call without a microphone"
        );
        let text = widget::text(&b, "[data-c2c=status]").await;
        assert!(
            text.contains("allow the microphone"),
            "the visitor is told how to allow it: {text:?}"
        );
        assert_eq!(widget::text(&b, "[data-c2c=call]").await, "Call again");
        assert_eq!(
            widget::focused(&b).await,
            "call",
            "focus lands on Call again"
        );
        b.screenshot(&artifacts_dir().join("widget-microphone-denied.png"))
            .await;
        b.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
