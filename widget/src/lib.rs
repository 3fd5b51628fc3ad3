//! The c2c browser widget: a "Call us" button that places a WebRTC call through the gateway.
//!
//! `static/widget.js` loads this module (wasm-bindgen `--target web`) and calls
//! [`mount`]`(gatewayOrigin, campaignId)`. The widget renders inside an open shadow root on a
//! `<c2c-widget>` element, asks the gateway whether the campaign can take a call, and on click
//! runs token → microphone → offer (ICE gathered, no trickle) → signalling WebSocket
//! (ARCHITECTURE.md, "The call"). Its only global is `window.C2C` (see `hooks.rs`).
//!
//! The pure logic compiles on the host, so `cargo test -p c2c-widget` runs there: [`state`] (the
//! call state machine), [`frame`] (decoding signalling frames), [`i18n`] (every sentence in
//! English, Spanish, German), [`phone`] (callback number validation) and [`look`] (theme and embed
//! overrides). Everything touching the browser is wasm32-only.
//! This crate depends on `c2c-wire` for the JSON contract and on nothing else of c2c.

pub mod frame;
pub mod i18n;
pub mod look;
pub mod phone;
pub mod state;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod audio;
#[cfg(target_arch = "wasm32")]
mod call;
#[cfg(target_arch = "wasm32")]
mod hooks;
#[cfg(target_arch = "wasm32")]
mod json;
#[cfg(target_arch = "wasm32")]
mod style;
#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod widget;

/// Mounts the widget for `campaign`, talking to the gateway at `gateway` (an origin such as
/// `https://gw.example`). `options` holds the embed's data attributes: `{language, position,
/// color, textColor, label}`, each optional. Idempotent: a second call does nothing.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mount(gateway: String, campaign: String, options: wasm_bindgen::JsValue) {
    let opt = |k: &str| {
        js_sys::Reflect::get(&options, &k.into())
            .ok()
            .and_then(|v| v.as_string())
            .filter(|v| !v.is_empty())
    };
    let browser: Vec<String> = web_sys::window()
        .map(|w| {
            w.navigator()
                .languages()
                .iter()
                .filter_map(|l| l.as_string())
                .collect()
        })
        .unwrap_or_default();
    let lang = i18n::Lang::pick(opt("language").as_deref(), &browser);
    let overrides = look::Overrides {
        position: opt("position"),
        color: opt("color"),
        text_color: opt("textColor"),
        label: opt("label"),
    };
    widget::mount(gateway, campaign, lang, overrides);
}
