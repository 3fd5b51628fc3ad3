//! `window.C2C`, the widget's only global: a small API for site owners that tests use too.
//!
//! ```js
//! C2C.open(); C2C.close();         // show / hide the widget's card
//! C2C.call(); C2C.hangup(); C2C.dtmf("12#");
//! C2C.state;                       // "loading" | "available" | "closed" | … | "queued" | … | "ended" | "error"
//! C2C.on("state", ({state, reason, position, wait}) => …); C2C.off("state", fn);
//! await C2C.stats();               // {packetsReceived, packetsSent, audioLevel, bytesReceived}
//! ```
//!
//! `static/widget.js` defines a stand-in `C2C` that queues calls until the wasm is loaded; they
//! are replayed here, in order, once the real object is in place.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::Window;

use crate::widget;

/// Defines `window.C2C` and replays what was queued on the loader's stand-in.
pub(crate) fn install(window: &Window) -> Result<(), JsValue> {
    let queued = js_sys::Reflect::get(window, &"C2C".into())
        .and_then(|stub| js_sys::Reflect::get(&stub, &"q".into()))
        .ok()
        .filter(js_sys::Array::is_array)
        .map(|q| js_sys::Array::from(&q));
    let api = js_sys::Object::new();
    set_fn(
        &api,
        "open",
        Closure::<dyn FnMut()>::new(widget::open_card).into_js_value(),
    )?;
    set_fn(
        &api,
        "close",
        Closure::<dyn FnMut()>::new(widget::close_card).into_js_value(),
    )?;
    set_fn(
        &api,
        "call",
        Closure::<dyn FnMut()>::new(widget::place_call).into_js_value(),
    )?;
    set_fn(
        &api,
        "hangup",
        Closure::<dyn FnMut()>::new(widget::hang_up).into_js_value(),
    )?;
    let dtmf = Closure::<dyn FnMut(JsValue) -> bool>::new(|digits: JsValue| {
        digits.as_string().is_some_and(widget::send_dtmf)
    });
    set_fn(&api, "dtmf", dtmf.into_js_value())?;
    let on = Closure::<dyn FnMut(JsValue, JsValue)>::new(|event: JsValue, f: JsValue| {
        if event.as_string().as_deref() == Some("state") {
            if let Ok(f) = f.dyn_into::<js_sys::Function>() {
                widget::add_listener(f);
            }
        }
    });
    set_fn(&api, "on", on.into_js_value())?;
    let off = Closure::<dyn FnMut(JsValue, JsValue)>::new(|event: JsValue, f: JsValue| {
        if event.as_string().as_deref() == Some("state") {
            if let Ok(f) = f.dyn_into::<js_sys::Function>() {
                widget::remove_listener(&f);
            }
        }
    });
    set_fn(&api, "off", off.into_js_value())?;
    let stats = Closure::<dyn FnMut() -> js_sys::Promise>::new(|| future_to_promise(stats()));
    set_fn(&api, "stats", stats.into_js_value())?;
    getter(&api, "state", || widget::status().state.as_str().into())?;
    getter(&api, "reason", || {
        widget::status()
            .reason
            .map_or(JsValue::NULL, |r| JsValue::from_str(&r))
    })?;
    js_sys::Object::freeze(&api);
    js_sys::Reflect::set(window, &"C2C".into(), &api)?;
    // Each entry is [name, [args…]].
    for entry in queued.iter().flat_map(|q| q.iter()) {
        let name = js_sys::Reflect::get(&entry, &0.into()).unwrap_or_default();
        let args = js_sys::Reflect::get(&entry, &1.into()).unwrap_or_default();
        if let Ok(f) =
            js_sys::Reflect::get(&api, &name).and_then(|f| f.dyn_into::<js_sys::Function>())
        {
            if js_sys::Array::is_array(&args) {
                let _ = f.apply(&api, &args.unchecked_into());
            }
        }
    }
    Ok(())
}

/// `api[name] = f`.
fn set_fn(api: &js_sys::Object, name: &str, f: JsValue) -> Result<(), JsValue> {
    js_sys::Reflect::set(api, &name.into(), &f).map(|_| ())
}

/// A read-only, enumerable property computed on each read.
fn getter(api: &js_sys::Object, name: &str, get: fn() -> JsValue) -> Result<(), JsValue> {
    let descriptor = js_sys::Object::new();
    let get = Closure::<dyn FnMut() -> JsValue>::new(get).into_js_value();
    js_sys::Reflect::set(&descriptor, &"get".into(), &get)?;
    js_sys::Reflect::set(&descriptor, &"enumerable".into(), &JsValue::TRUE)?;
    js_sys::Object::define_property(api, &name.into(), &descriptor);
    Ok(())
}

/// Media counters of the current call from `pc.getStats()`; zeros when there is none.
async fn stats() -> Result<JsValue, JsValue> {
    let (mut received, mut sent, mut level, mut bytes) = (0.0, 0.0, 0.0, 0.0);
    if let Some(pc) = widget::peer_connection() {
        let report = JsFuture::from(pc.get_stats()).await?;
        // RTCStatsReport is map-like; iterate its values.
        let values = js_sys::Reflect::get(&report, &"values".into())?
            .dyn_into::<js_sys::Function>()?
            .call0(&report)?;
        let values = js_sys::try_iter(&values)?.ok_or("stats not iterable")?;
        for stat in values {
            let stat = stat?;
            let field = |k: &str| js_sys::Reflect::get(&stat, &k.into()).unwrap_or_default();
            if field("kind").as_string().as_deref() != Some("audio") {
                continue;
            }
            match field("type").as_string().as_deref() {
                Some("inbound-rtp") => {
                    received += field("packetsReceived").as_f64().unwrap_or(0.0);
                    bytes += field("bytesReceived").as_f64().unwrap_or(0.0);
                    level = f64::max(level, field("audioLevel").as_f64().unwrap_or(0.0));
                }
                Some("outbound-rtp") => sent += field("packetsSent").as_f64().unwrap_or(0.0),
                _ => {}
            }
        }
    }
    let out = js_sys::Object::new();
    for (k, v) in [
        ("packetsReceived", received),
        ("packetsSent", sent),
        ("audioLevel", level),
        ("bytesReceived", bytes),
    ] {
        js_sys::Reflect::set(&out, &k.into(), &v.into())?;
    }
    Ok(out.into())
}
