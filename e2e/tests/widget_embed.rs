//! The embed as a site owner pastes it, on a page served from another origin than the gateway
//! and under the documented Content-Security-Policy: one global, a shadow root, the wasm loaded
//! after the page, and the `data-*` overrides (language, position, colour, label) applied.

use std::time::Duration;

use c2c_e2e::browser::Browser;
use c2c_e2e::gateway::{config_with_trunk, Gateway};
use c2c_e2e::site::Site;
use c2c_e2e::{artifacts_dir, ports, scratch_dir, tone, widget};
use fantoccini::Locator;
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(120);

/// The names of `window`'s own properties, sorted.
const GLOBALS: &str = "return Object.getOwnPropertyNames(window).sort();";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_script_tag_adds_one_global_a_shadow_root_and_honours_its_attributes() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("widget-embed");
        let dir = scratch.path();
        let http_port = ports::free_tcp();
        let gw_url = format!("http://127.0.0.1:{http_port}");
        let attrs = "data-language=\"de\" data-position=\"bottom-left\" data-color=\"#aa0000\"";
        let site = Site::start(widget::csp_embed_page(&gw_url, "e2e", attrs)).await;
        // The same page without the widget: what the page defines by itself.
        let plain = widget::csp_embed_page(&gw_url, "e2e", "").replace("widget.js", "none.js");
        let bare = Site::start(plain).await;
        assert_ne!(site.origin, gw_url, "the shop is not the gateway's origin");
        let config = config_with_trunk(
            http_port,
            ports::free_udp(),
            &site.origin,
            &c2c_e2e::static_dir(),
            &dir.join("data"),
        );
        let gw = Gateway::start(dir, &config, &[]).await;
        let tone_path = dir.join("tone.wav");
        tone::write_tone_wav(&tone_path, 1).expect("tone");
        let b = Browser::start(dir, &tone_path).await;
        let s = Duration::from_secs;

        b.client.goto(&bare.origin).await.expect("open the bare page");
        // Returning elements makes chromedriver define its own helpers on `window`; do that
        // here too so they are not mistaken for the widget's.
        widget::js(&b, "return document.querySelector('h1');").await;
        let _ = b.client.find(Locator::Css("h1")).await;
        let before = widget::js(&b, GLOBALS).await;
        b.client.goto(&site.origin).await.expect("open the shop page");
        widget::record_states(&b).await;
        widget::wait_state(&b, "available", s(20)).await;
        let after = widget::js(&b, GLOBALS).await;
        let added: Vec<&Value> = after
            .as_array()
            .expect("names")
            .iter()
            .filter(|n| !before.as_array().expect("names").contains(n))
            // The test's own recorder (widget::record_states).
            .filter(|n| !n.as_str().is_some_and(|n| n.starts_with("__c2c")))
            .collect();
        assert_eq!(added, vec![&json!("C2C")], "the only new global is C2C");

        // Rendered in an open shadow root on <c2c-widget>, one element added to the page.
        let host = widget::js(
            &b,
            "var h=document.querySelector('c2c-widget');\
             return [!!h&&!!h.shadowRoot, document.body.children.length,\
                     h.getAttribute('data-position'), h.shadowRoot.querySelector('.panel').lang];",
        )
        .await;
        assert_eq!(host, json!([true, 4, "bottom-left", "de"]), "h1, p, script + widget");

        // The wasm was fetched after the page's load event: it never blocks the page.
        let timing = widget::js(
            &b,
            "var nav=performance.getEntriesByType('navigation')[0];\
             var w=performance.getEntriesByType('resource').filter(function(e){\
               return /c2c_widget_bg\\.wasm/.test(e.name)})[0];\
             return [nav.loadEventStart, w ? w.startTime : -1];",
        )
        .await;
        let (load, wasm) = (timing[0].as_f64(), timing[1].as_f64());
        assert!(
            matches!((load, wasm), (Some(l), Some(w)) if w >= l),
            "wasm fetch started before the page's load event: {timing}"
        );

        // German wording, the embed's colour on the button.
        assert_eq!(widget::text(&b, "[data-c2c=call]").await, "Rufen Sie uns an");
        let bg = widget::js(
            &b,
            "var h=document.querySelector('c2c-widget');\
             return getComputedStyle(h.shadowRoot.querySelector('[data-c2c=call]')).backgroundColor;",
        )
        .await;
        assert_eq!(bg, "rgb(170, 0, 0)");

        // C2C.open() shows the card and moves focus into it; C2C.close() hides it.
        widget::js(&b, "C2C.open(); return true;").await;
        assert!(widget::visible(&b, "[data-c2c=card]").await);
        assert_eq!(widget::focused(&b).await, "call");
        let status = widget::text(&b, "[data-c2c=status]").await;
        assert!(status.starts_with("Wir sind erreichbar"), "{status:?}");
        b.screenshot(&artifacts_dir().join("widget-embed-de-open.png"))
            .await;
        widget::js(&b, "C2C.close(); return true;").await;
        assert!(!widget::visible(&b, "[data-c2c=card]").await);

        // The states were announced through C2C.on and as DOM events alike.
        let (on, events) = widget::recorded_states(&b).await;
        assert_eq!(on, vec!["available"], "C2C.on queued before load saw: {on:?}");
        assert_eq!(on, events);
        let violations = widget::js(&b, "return window.__cspViolations").await;
        assert_eq!(violations, json!([]), "the documented CSP suffices");

        b.close().await;
        gw.stop().await;
    })
    .await
    .expect("test exceeded its time limit");
}
