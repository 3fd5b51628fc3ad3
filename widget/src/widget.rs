//! The mounted widget: one per page, held in a thread-local (wasm is single-threaded), and the
//! one place where the call status changes and is announced (DOM, `C2C.on`, `c2c:state`).
//!
//! JS callbacks (site-owner listeners, event dispatch) run only after the thread-local borrow
//! is released, so a listener may call back into `C2C` without re-entrancy trouble.

use std::cell::RefCell;

use c2c_wire::{Availability, ClientMessage, EndReason, Fallback};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{CustomEvent, CustomEventInit};

use crate::api;
use crate::call::{self, Call};
use crate::state::{Input, Status};
use crate::ui::Ui;

/// Everything the mounted widget holds.
pub(crate) struct Widget {
    gateway: String,
    campaign: String,
    ui: Ui,
    status: Status,
    /// The campaign's button label.
    label: String,
    call: Option<Call>,
    next_call_id: u32,
    listeners: Vec<js_sys::Function>,
}

thread_local! {
    static WIDGET: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

/// Runs `f` on the mounted widget; `None` when not mounted (or re-entered).
fn with<R>(f: impl FnOnce(&mut Widget) -> R) -> Option<R> {
    WIDGET.with(|w| w.try_borrow_mut().ok()?.as_mut().map(f))
}

/// Runs `f` on call `id` if it is still the current call; `None` when the visitor hung up or
/// started another call meanwhile.
pub(crate) fn with_call<R>(id: u32, f: impl FnOnce(&mut Call, &Ui) -> R) -> Option<R> {
    with(|w| match w.call.as_mut() {
        Some(call) if call.id == id => Some(f(call, &w.ui)),
        _ => None,
    })
    .flatten()
}

/// Creates the widget on the page and checks availability. A second call is a no-op.
pub(crate) fn mount(gateway: String, campaign: String) -> Result<(), JsValue> {
    if with(|_| ()).is_some() {
        return Ok(());
    }
    let window = web_sys::window().ok_or("no window")?;
    let ui = Ui::mount(&window)?;
    ui.on_buttons(place_call, hang_up);
    let gateway = gateway.trim_end_matches('/').to_owned();
    let widget = Widget {
        gateway: gateway.clone(),
        campaign: campaign.clone(),
        ui,
        status: Status::default(),
        label: c2c_wire::Theme::default().label,
        call: None,
        next_call_id: 1,
        listeners: Vec::new(),
    };
    WIDGET.with(|w| w.replace(Some(widget)));
    crate::hooks::install(&window)?;
    spawn_local(async move {
        let availability = api::availability(&gateway, &campaign).await;
        with(|w| show_availability(w, availability));
    });
    Ok(())
}

/// Offers the call button, or the fallback when closed, busy or unreachable.
fn show_availability(w: &mut Widget, availability: Result<Availability, crate::state::Failure>) {
    let a = match availability {
        Ok(a) => a,
        Err(_) => {
            w.ui.show_fallback("unknown", "Calling is not available right now.");
            return;
        }
    };
    w.ui.apply_theme(&a.theme);
    w.label = a.theme.label;
    if a.open && a.agents_available > 0 {
        w.ui.show_call_button(&w.label);
        return;
    }
    let text = match a.fallback {
        Fallback::Message { text } => text,
        Fallback::Callback => "We can't take calls right now. Please try again later.".into(),
    };
    w.ui.show_fallback(if a.open { "busy" } else { "closed" }, &text);
}

/// Starts a call unless one is in progress (`C2C.call()` and the call button).
pub(crate) fn place_call() {
    let started = with(|w| {
        let next = w.status.next(&Input::Start)?;
        let id = w.next_call_id;
        w.next_call_id += 1;
        let previous = w.call.replace(Call::new(id));
        w.status = next.clone();
        w.ui.render(&w.status, &w.label, None);
        Some((
            id,
            w.gateway.clone(),
            w.campaign.clone(),
            next,
            w.listeners.clone(),
            previous,
        ))
    })
    .flatten();
    if let Some((id, gateway, campaign, status, listeners, previous)) = started {
        drop(previous);
        announce(&status, &listeners);
        call::start(id, gateway, campaign);
    }
}

/// Hangs up the current call (`C2C.hangup()` and the hang-up button): asks the gateway and
/// waits for its `ended`, or ends at once when signalling is not up yet.
pub(crate) fn hang_up() {
    let pending = with(|w| w.call.as_mut().map(|c| (c.id, c.hang_up()))).flatten();
    if let Some((id, false)) = pending {
        transition(id, Input::Ended(EndReason::HangupLocal), None);
    }
}

/// Sends DTMF digits on the current call; false when no call is connected.
pub(crate) fn send_dtmf(digits: String) -> bool {
    with(|w| {
        w.call
            .as_ref()
            .map(|c| c.send(&ClientMessage::Dtmf { digits }))
    })
    .flatten()
    .unwrap_or(false)
}

/// Applies `input` to call `id` (ignored when `id` is not the current call or the input does
/// not apply), updates the DOM, releases the call's resources when it is over, and announces
/// the new status. `message` is the server's wording for an error.
pub(crate) fn transition(id: u32, input: Input, message: Option<&str>) {
    let changed = with(|w| {
        if w.call.as_ref().map(|c| c.id) != Some(id) {
            return None;
        }
        let next = w.status.next(&input)?;
        w.status = next.clone();
        let finished = if next.state.is_active() {
            None
        } else {
            w.call.take()
        };
        w.ui.render(&w.status, &w.label, message);
        Some((next, w.listeners.clone(), finished))
    })
    .flatten();
    if let Some((status, listeners, finished)) = changed {
        drop(finished);
        announce(&status, &listeners);
    }
}

/// The current status (for `C2C.state` / `C2C.reason`).
pub(crate) fn status() -> Status {
    with(|w| w.status.clone()).unwrap_or_default()
}

/// The current call's peer connection, if any (for `C2C.stats()`).
pub(crate) fn peer_connection() -> Option<web_sys::RtcPeerConnection> {
    with(|w| w.call.as_ref().and_then(|c| c.peer_connection().cloned())).flatten()
}

/// Registers a `C2C.on('state', fn)` listener.
pub(crate) fn add_listener(f: js_sys::Function) {
    with(|w| w.listeners.push(f));
}

/// `{state, reason}` as a JS object (`reason` is `null` unless ended or failed).
pub(crate) fn status_detail(status: &Status) -> JsValue {
    let detail = js_sys::Object::new();
    let reason = status
        .reason
        .as_deref()
        .map_or(JsValue::NULL, JsValue::from_str);
    let _ = js_sys::Reflect::set(&detail, &"state".into(), &status.state.as_str().into());
    let _ = js_sys::Reflect::set(&detail, &"reason".into(), &reason);
    detail.into()
}

/// Tells listeners and the page: `fn({state, reason})` and `c2c:state` on `window`.
fn announce(status: &Status, listeners: &[js_sys::Function]) {
    let detail = status_detail(status);
    for f in listeners {
        // A throwing listener must not stop the others or the call.
        let _ = f.call1(&JsValue::NULL, &detail);
    }
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let (Ok(ev), Some(w)) = (
        CustomEvent::new_with_event_init_dict("c2c:state", &init),
        web_sys::window(),
    ) {
        let _ = w.dispatch_event(&ev);
    }
}
