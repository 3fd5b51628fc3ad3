//! The whole call flow with the keyboard alone: Tab into the widget, Enter to call, reach mute
//! and the keypad, send a digit, hang up, and Escape the card, with focus always somewhere
//! sensible and every control named for screen readers.

use std::time::Duration;

use c2c_e2e::sipp::Sipp;
use c2c_e2e::{artifacts_dir, scene, scratch_dir, widget};
use fantoccini::key::Key;

const LIMIT: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_calls_and_hangs_up_with_the_keyboard_only() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("widget-keyboard");
        let dir = scratch.path();
        let mut sipp = Sipp::uas_echo(dir);
        let (site, gw) = scene::start(
            dir,
            sipp.port,
            |gw| widget::csp_embed_page(gw, "e2e", ""),
            Default::default(),
        )
        .await;
        let b = scene::browser(dir, 10).await;
        b.client
            .goto(&site.origin)
            .await
            .expect("open the shop page");
        let s = Duration::from_secs;
        widget::wait_state(&b, "available", s(20)).await;

        // The live region that announces states, and names on every control.
        assert_eq!(
            widget::attr(&b, "[data-c2c=status]", "role").await,
            "status"
        );
        assert_eq!(
            widget::attr(&b, "[data-c2c=status]", "aria-live").await,
            "polite"
        );
        assert_eq!(
            widget::attr(&b, "[data-c2c=close]", "aria-label").await,
            "Close"
        );
        assert_eq!(widget::attr(&b, "[data-c2c=card]", "role").await, "region");

        // From the page's link, Tab reaches the call button; Enter places the call.
        widget::tab_to(&b, "call", false, 10).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        widget::wait_state(&b, "answered", s(30)).await;
        assert_eq!(
            widget::focused(&b).await,
            "hangup",
            "focus follows the call"
        );

        // Back into the card: the keypad toggle, then a digit.
        widget::tab_to(&b, "keypad-toggle", true, 5).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        assert_eq!(
            widget::attr(&b, "[data-c2c=keypad-toggle]", "aria-expanded").await,
            "true"
        );
        widget::tab_to(&b, "digit1", false, 3).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        widget::tab_to(&b, "mute", true, 5).await;
        widget::press(&b, &[Key::Space.into()]).await;
        assert_eq!(
            widget::attr(&b, "[data-c2c=mute]", "aria-pressed").await,
            "true"
        );
        widget::press(&b, &[Key::Space.into()]).await;
        assert_eq!(
            widget::attr(&b, "[data-c2c=mute]", "aria-pressed").await,
            "false"
        );
        b.screenshot(&artifacts_dir().join("widget-keyboard-in-call.png"))
            .await;
        assert_eq!(widget::js(&b, "return C2C.state").await, "answered");

        // Escape does not drop a call; the hang-up button does.
        widget::press(&b, &[Key::Escape.into()]).await;
        assert!(widget::visible(&b, "[data-c2c=card]").await);
        widget::tab_to(&b, "hangup", false, 20).await;
        widget::press(&b, &[Key::Enter.into()]).await;
        widget::wait_state(&b, "ended", s(15)).await;
        assert_eq!(
            widget::focused(&b).await,
            "call",
            "focus lands on Call again"
        );

        // Escape closes the card and leaves focus on the launcher.
        widget::press(&b, &[Key::Escape.into()]).await;
        assert!(!widget::visible(&b, "[data-c2c=card]").await);
        assert_eq!(widget::focused(&b).await, "call");
        b.screenshot(&artifacts_dir().join("widget-keyboard-ended.png"))
            .await;

        let status = sipp.wait(s(15)).await.expect("SIPp finishes its call");
        assert!(status.success(), "SIPp's call failed: {status}");
        b.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
