//! The c2c browser widget: a "Call us" button that places a WebRTC call through the gateway.
//!
//! `static/widget.js` loads this module (wasm-bindgen `--target web`) and calls
//! [`mount`]`(gatewayOrigin, campaignId)`. The widget renders inside an open shadow root on a
//! `<c2c-widget>` element, asks the gateway whether the campaign can take a call, and on click
//! runs token → microphone → offer (ICE gathered, no trickle) → signalling WebSocket
//! (DESIGN §1, §3). Its only global is `window.C2C` (see `hooks.rs`).
//!
//! Only [`state`] (the call state machine and its wording) compiles on the host, so
//! `cargo test -p c2c-widget` runs there; everything touching the browser is wasm32-only.
//! This crate depends on `c2c-wire` for the JSON contract and on nothing else of c2c.

pub mod state;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod call;
#[cfg(target_arch = "wasm32")]
mod hooks;
#[cfg(target_arch = "wasm32")]
mod json;
#[cfg(target_arch = "wasm32")]
mod ui;
#[cfg(target_arch = "wasm32")]
mod widget;

/// Mounts the widget for `campaign`, talking to the gateway at `gateway` (an origin such as
/// `https://gw.example`). Idempotent: a second call does nothing.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn mount(gateway: String, campaign: String) -> Result<(), wasm_bindgen::JsValue> {
    widget::mount(gateway, campaign)
}
