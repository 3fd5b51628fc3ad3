//! Driving the embedded widget the way a visitor does: through its shadow DOM.

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::Locator;
use serde_json::Value;

use crate::browser::Browser;

/// Finds `selector` inside the widget's shadow root, waiting up to `limit` for it to appear.
pub async fn find(b: &Browser, selector: &str, limit: Duration) -> Element {
    let start = Instant::now();
    loop {
        if let Ok(host) = b.client.find(Locator::Css("c2c-widget")).await {
            if let Ok(root) = host.shadow_root().await {
                if let Ok(el) = root.find(Locator::Css(selector)).await {
                    return el;
                }
            }
        }
        assert!(
            start.elapsed() < limit,
            "widget element {selector} did not appear within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status element's `data-state`, `data-reason` and `data-session-number`.
pub async fn status(b: &Browser) -> (String, String, String) {
    let el = find(b, "[data-c2c=status]", Duration::from_secs(10)).await;
    let attr = |name: &'static str| {
        let el = el.clone();
        async move { el.attr(name).await.ok().flatten().unwrap_or_default() }
    };
    (
        attr("data-state").await,
        attr("data-reason").await,
        attr("data-session-number").await,
    )
}

/// Waits until the widget's state is `want`; returns how long it took. Panics on timeout with
/// the last state seen.
pub async fn wait_state(b: &Browser, want: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (state, reason, _) = status(b).await;
        if state == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "widget state {want:?} not reached within {limit:?}; last state {state:?} reason {reason:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `C2C.stats()` from the page.
pub async fn stats(b: &Browser) -> Value {
    b.client
        .execute("return window.C2C ? window.C2C.stats() : null", Vec::new())
        .await
        .unwrap_or(Value::Null)
}

/// Waits up to `limit` until the page has received more than 100 RTP packets with a non-zero
/// audio level (the echo came back); returns the last `C2C.stats()`.
pub async fn wait_for_echo(b: &Browser, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let s = stats(b).await;
        let received = s["packetsReceived"].as_f64().unwrap_or(0.0);
        let level = s["audioLevel"].as_f64().unwrap_or(0.0);
        if (received > 100.0 && level > 0.0) || start.elapsed() > limit {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
