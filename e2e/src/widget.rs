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

/// Like [`find`], and waits (within the same `limit`) until the element is shown: the call
/// button exists, hidden, until the page has the campaign's availability.
pub async fn find_shown(b: &Browser, selector: &str, limit: Duration) -> Element {
    let start = Instant::now();
    let el = find(b, selector, limit).await;
    while !el.is_displayed().await.unwrap_or(false) {
        assert!(
            start.elapsed() < limit,
            "widget element {selector} was not shown within {limit:?}: {:?}",
            status(b).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    el
}

/// Opens `page` (a site embedding the widget) and clicks the call button, as a visitor does.
pub async fn call_from(b: &Browser, page: &str) {
    b.client
        .goto(page)
        .await
        .expect("open the page with the widget");
    let call = find_shown(b, "[data-c2c=call]", Duration::from_secs(20)).await;
    call.click().await.expect("click the call button");
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

/// Runs `script` (a function body) in the page and returns its result (Null on failure).
pub async fn js(b: &Browser, script: &str) -> Value {
    b.client
        .execute(script, Vec::new())
        .await
        .unwrap_or(Value::Null)
}

/// An attribute of the first element matching `selector` in the widget's shadow root
/// (Null when there is no such element or attribute).
pub async fn attr(b: &Browser, selector: &str, name: &str) -> Value {
    let script = format!(
        "var h=document.querySelector('c2c-widget');\
         var e=h&&h.shadowRoot.querySelector({sel});\
         return e?e.getAttribute({name}):null;",
        sel = Value::from(selector),
        name = Value::from(name)
    );
    js(b, &script).await
}

/// The text of the first element matching `selector` in the widget's shadow root.
pub async fn text(b: &Browser, selector: &str) -> String {
    let script = format!(
        "var h=document.querySelector('c2c-widget');\
         var e=h&&h.shadowRoot.querySelector({sel});\
         return e?e.textContent:'';",
        sel = Value::from(selector)
    );
    js(b, &script).await.as_str().unwrap_or("").to_owned()
}

/// Whether the element matching `selector` is rendered (it and its ancestors not hidden).
pub async fn visible(b: &Browser, selector: &str) -> bool {
    let script = format!(
        "var h=document.querySelector('c2c-widget');\
         var e=h&&h.shadowRoot.querySelector({sel});\
         return !!e&&e.getClientRects().length>0;",
        sel = Value::from(selector)
    );
    js(b, &script).await.as_bool().unwrap_or(false)
}

/// What has keyboard focus inside the widget: its `data-c2c` (with `data-digit` appended for
/// keypad keys), or "" when focus is outside the widget.
pub async fn focused(b: &Browser) -> String {
    let script = "var h=document.querySelector('c2c-widget');\
                  var a=h&&h.shadowRoot.activeElement;\
                  return a?(a.getAttribute('data-c2c')||a.tagName)+(a.getAttribute('data-digit')||''):'';";
    js(b, script).await.as_str().unwrap_or("").to_owned()
}

/// Presses and releases each key in turn, as a keyboard would (WebDriver actions go to
/// whatever has focus, inside shadow roots too).
pub async fn press(b: &Browser, keys: &[char]) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for &k in keys {
        actions = actions
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
    }
    b.client
        .perform_actions(actions)
        .await
        .expect("keyboard actions");
}

/// Presses Tab (Shift+Tab when `back`) until `target` (as [`focused`] names it) has focus;
/// panics after `max` presses.
pub async fn tab_to(b: &Browser, target: &str, back: bool, max: usize) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    for _ in 0..max {
        if focused(b).await == target {
            return;
        }
        let mut actions = KeyActions::new("keyboard".into());
        if back {
            actions = actions.then(KeyAction::Down {
                value: Key::Shift.into(),
            });
        }
        actions = actions
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        if back {
            actions = actions.then(KeyAction::Up {
                value: Key::Shift.into(),
            });
        }
        b.client
            .perform_actions(actions)
            .await
            .expect("keyboard actions");
    }
    assert_eq!(focused(b).await, target, "focus did not reach {target}");
}

/// Records every state the widget announces, through both `C2C.on('state')` and the
/// `c2c:state` DOM event, into `window.__c2cStates` / `window.__c2cEvents`. Works before the
/// widget has loaded: the loader's `C2C` queues the listener.
/// (Pages from [`csp_embed_page`] record from their first script on, before the widget can
/// load; for them this is a no-op.)
pub async fn record_states(b: &Browser) {
    js(
        b,
        "if(!window.__c2cStates){window.__c2cStates=[];window.__c2cEvents=[];\
         C2C.on('state',function(s){window.__c2cStates.push(s.state)});\
         window.addEventListener('c2c:state',function(e){window.__c2cEvents.push(e.detail.state)});}\
         return true;",
    )
    .await;
}

/// The states recorded by [`record_states`]: (from `C2C.on`, from DOM events).
pub async fn recorded_states(b: &Browser) -> (Vec<String>, Vec<String>) {
    let v = js(
        b,
        "return [window.__c2cStates||[], window.__c2cEvents||[]];",
    )
    .await;
    let list = |i: usize| {
        v[i].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    (list(0), list(1))
}

/// A customer page on its own origin embedding the widget with extra `data-*` attributes and
/// the Content-Security-Policy the README tells site owners to set (as a `<meta>`, which the
/// stand-in site can serve without custom headers).
pub fn csp_embed_page(gateway: &str, campaign: &str, data_attrs: &str) -> String {
    let ws = gateway.replacen("http", "ws", 1);
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; \
         script-src 'self' {gateway} 'wasm-unsafe-eval' 'nonce-e2e'; \
         connect-src 'self' {gateway} {ws}; style-src 'self'; img-src 'self'\">\
         <script nonce=\"e2e\">window.__cspViolations=[];\
         document.addEventListener('securitypolicyviolation',function(e){{\
         window.__cspViolations.push(e.violatedDirective+' '+e.blockedURI)}});\
         window.__c2cStates=[];window.__c2cEvents=[];\
         window.addEventListener('c2c:state',function(e){{window.__c2cEvents.push(e.detail.state)}});\
         (function w(){{if(window.C2C&&window.C2C.on){{\
         C2C.on('state',function(s){{window.__c2cStates.push(s.state)}})}}else{{setTimeout(w,5)}}}})();\
         </script>\
         </head><body><h1>A customer's shop</h1><p><a href=\"#top\">Shop home</a></p>\
         <script src=\"{gateway}/widget.js\" data-campaign=\"{campaign}\" {data_attrs} async></script>\
         </body></html>"
    )
}
