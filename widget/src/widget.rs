//! The mounted widget: one per page, held in a thread-local (wasm is single-threaded), and the
//! one place where its state changes and is announced (DOM, `C2C.on`, `c2c:state` events).
//!
//! JS callbacks (site-owner listeners, event dispatch) run only after the thread-local borrow
//! is released, so a listener may call back into `C2C` without re-entrancy trouble.

use std::cell::RefCell;

use c2c_wire::{ClientMessage, EndReason, Fallback};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{CustomEvent, CustomEventInit, Element};

use crate::audio::CallAudio;
use crate::call::{self, Call};
use crate::i18n::{self, fill, text, Lang, Msg};
use crate::json::Offered;
use crate::look::{CampaignTheme, Look, Overrides};
use crate::state::{Input, Offer, Status, WidgetState};
use crate::ui::{Ui, View};
use crate::{api, phone};

/// How often the call timer and the level meter update.
const TICK_MS: i32 = 200;

/// Everything the mounted widget holds.
pub(crate) struct Widget {
    gateway: String,
    campaign: String,
    lang: Lang,
    overrides: Overrides,
    look: Look,
    ui: Ui,
    status: Status,
    /// The server's wording of the current error, for codes the widget has no words for.
    server_message: Option<String>,
    /// The last availability; `None` while loading or when it could not be fetched.
    offered: Option<Offered>,
    card_open: bool,
    reconnecting: bool,
    muted: bool,
    keypad: bool,
    /// `Some(true)` once the callback request was accepted, `Some(false)` after it failed.
    callback_sent: Option<bool>,
    /// `C2C.call()` came before availability; place the call once available.
    pending_call: bool,
    /// When the call was answered, or started waiting in the queue (the timer counts from it).
    since: Option<f64>,
    call: Option<Call>,
    next_call_id: u32,
    listeners: Vec<js_sys::Function>,
    ticker: Option<i32>,
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
pub(crate) fn mount(gateway: String, campaign: String, lang: Lang, overrides: Overrides) {
    if with(|_| ()).is_some() {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(ui) = Ui::mount(&window, lang) else {
        return;
    };
    listen(&ui);
    let gateway = gateway.trim_end_matches('/').to_owned();
    let look = Look::new(&CampaignTheme::default(), &overrides);
    let widget = Widget {
        gateway: gateway.clone(),
        campaign: campaign.clone(),
        lang,
        overrides,
        look,
        ui,
        status: Status::default(),
        server_message: None,
        offered: None,
        card_open: false,
        reconnecting: false,
        muted: false,
        keypad: false,
        callback_sent: None,
        pending_call: false,
        since: None,
        call: None,
        next_call_id: 1,
        listeners: Vec::new(),
        ticker: None,
    };
    with_rendered(widget);
    let _ = crate::hooks::install(&window);
    spawn_local(async move {
        let offered = api::availability(&gateway, &campaign).await.ok();
        let offer = match &offered {
            Some(o) if o.open && (o.agents_available > 0 || o.queues) => Offer::Available,
            Some(o) if !o.open => Offer::Closed,
            _ => Offer::Unavailable,
        };
        let call_now = with(|w| {
            if let Some(o) = &offered {
                w.look = Look::new(&o.theme, &w.overrides);
            }
            w.offered = offered;
            std::mem::take(&mut w.pending_call)
        });
        apply(Input::Offer(offer), None);
        if call_now == Some(true) {
            place_call();
        }
    });
}

/// Stores and renders a freshly mounted widget.
fn with_rendered(widget: Widget) {
    WIDGET.with(|w| w.replace(Some(widget)));
    with(render);
}

/// Routes clicks, Escape and the form's submit inside the shadow root to the widget.
fn listen(ui: &Ui) {
    let click = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
        let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .and_then(|t| t.closest("button[data-c2c]").ok().flatten())
        else {
            return;
        };
        match el.get_attribute("data-c2c").as_deref() {
            Some("call") => place_call(),
            Some("hangup") => hang_up(),
            Some("open") => open_card(),
            Some("close") => close_card(),
            Some("mute") => toggle(|w| &mut w.muted),
            Some("keypad-toggle") => toggle(|w| &mut w.keypad),
            Some("digit") => {
                send_dtmf(el.get_attribute("data-digit").unwrap_or_default());
            }
            _ => {}
        }
    });
    let key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(|ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" {
            close_card();
        }
    });
    let submit = Closure::<dyn FnMut(web_sys::Event)>::new(|ev: web_sys::Event| {
        ev.prevent_default();
        submit_callback();
    });
    let _ = ui
        .panel
        .add_event_listener_with_callback("click", click.into_js_value().unchecked_ref());
    let _ = ui
        .panel
        .add_event_listener_with_callback("keydown", key.into_js_value().unchecked_ref());
    let _ = ui
        .form
        .add_event_listener_with_callback("submit", submit.into_js_value().unchecked_ref());
}

/// The status line's sentence for the widget's state.
fn sentence(w: &Widget) -> String {
    let t = |m| text(w.lang, m).to_owned();
    let state = w.status.state;
    let fallback = w.status.offers_fallback();
    match (fallback, w.callback_sent) {
        (true, Some(true)) => return t(Msg::CallbackSent),
        (true, Some(false)) => return t(Msg::CallbackFailed),
        _ => {}
    }
    let mut s = match state {
        WidgetState::Loading => String::new(),
        WidgetState::Available => {
            let mut s = t(Msg::Available);
            let wait = w.offered.as_ref().map_or(0, |o| o.estimated_wait_s);
            if wait >= 60 {
                s.push(' ');
                s.push_str(&fill(
                    text(w.lang, Msg::Wait),
                    &wait.div_ceil(60).to_string(),
                ));
            }
            s
        }
        WidgetState::Closed | WidgetState::Unavailable => {
            let Some(o) = &w.offered else {
                return t(Msg::Unreachable);
            };
            match (state, o.opens_at) {
                (WidgetState::Closed, Some(at)) => {
                    fill(text(w.lang, Msg::ClosedUntil), &when(at, w.lang))
                }
                (WidgetState::Closed, None) => t(Msg::Closed),
                _ => t(Msg::Busy),
            }
        }
        WidgetState::Answered | WidgetState::Queued if w.reconnecting => t(Msg::Reconnecting),
        WidgetState::Queued => w.status.queue_sentence(w.lang).unwrap_or_default(),
        WidgetState::Error => {
            let code = w.status.reason.as_deref().unwrap_or("");
            match (i18n::error_code(code), &w.server_message) {
                (None, Some(m)) if !m.is_empty() => m.clone(),
                (msg, _) => t(msg.unwrap_or(Msg::ErrGeneric)),
            }
        }
        _ => w.status.msg().map(t).unwrap_or_default(),
    };
    // Closed, busy, or no agent took the call: the campaign's own words follow.
    if let (true, Some(Fallback::Message { text })) =
        (fallback, w.offered.as_ref().map(|o| &o.fallback))
    {
        s.push(' ');
        s.push_str(text);
    }
    s
}

/// A Unix time as the visitor's weekday and time, in the widget's language.
fn when(unix_s: f64, lang: Lang) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(unix_s * 1000.0));
    let options = js_sys::Object::new();
    for (k, v) in [
        ("weekday", "long"),
        ("hour", "numeric"),
        ("minute", "2-digit"),
    ] {
        let _ = js_sys::Reflect::set(&options, &k.into(), &v.into());
    }
    date.to_locale_string(lang.tag(), &options).into()
}

/// Shows the widget's state in the DOM.
fn render(w: &mut Widget) {
    let state = w.status.state;
    let callback = matches!(
        w.offered.as_ref().map(|o| &o.fallback),
        Some(Fallback::Callback)
    );
    let sentence = sentence(w);
    w.ui.render(&View {
        status: &w.status,
        sentence: &sentence,
        look: &w.look,
        card_open: w.card_open,
        form: w.status.shows_callback_form(callback, w.callback_sent),
        muted: w.muted,
        keypad: w.keypad && state == WidgetState::Answered,
        callback_launcher: callback && w.callback_sent != Some(true),
    });
    if let Some(call) = &mut w.call {
        call.set_muted(w.muted);
        if let Some(audio) = call.audio.as_mut() {
            audio.ringback(state.plays_ringback(), w.lang);
        }
    }
}

/// Applies `input` to the widget (ignored when it does not apply), renders, moves focus when
/// the offered controls change under it, and announces the new state.
fn apply(input: Input, message: Option<&str>) {
    let changed = with(|w| {
        let next = w.status.next(&input)?;
        let was = w.status.state;
        let was_active = was.is_active();
        let had_focus = w.ui.has_focus();
        w.status = next.clone();
        w.server_message = message.map(str::to_owned);
        let finished = if next.state.is_active() {
            None
        } else {
            w.reconnecting = false;
            stop_ticker(w);
            w.call.take()
        };
        if next.state != was && matches!(next.state, WidgetState::Answered | WidgetState::Queued) {
            w.since = Some(js_sys::Date::now());
        }
        render(w);
        if had_focus && was_active != next.state.is_active() {
            w.ui.focus_first();
        }
        Some((next, w.listeners.clone(), w.ui.host.clone(), finished))
    })
    .flatten();
    if let Some((status, listeners, host, finished)) = changed {
        drop(finished);
        announce(&status, &listeners, &host);
    }
}

/// Applies `input` to call `id`; ignored when `id` is no longer the current call.
pub(crate) fn transition(id: u32, input: Input, message: Option<&str>) {
    let current = with(|w| w.call.as_ref().map(|c| c.id) == Some(id)).unwrap_or(false);
    if current {
        apply(input, message);
    }
}

/// Starts a call unless one is in progress (`C2C.call()` and the call button). Before
/// availability is known, the call is placed as soon as the campaign turns out available.
pub(crate) fn place_call() {
    let started = with(|w| {
        if w.status.state == WidgetState::Loading {
            w.pending_call = true;
            return None;
        }
        w.status.next(&Input::Start)?;
        let id = w.next_call_id;
        w.next_call_id += 1;
        // Created inside the visitor's click, so autoplay policies let the ringback sound.
        let previous = w.call.replace(Call::new(id, CallAudio::new()));
        w.card_open = true;
        w.muted = false;
        w.keypad = false;
        w.since = None;
        // This call's outcome offers its own fallback, even after an earlier request.
        w.callback_sent = None;
        start_ticker(w);
        Some((id, w.gateway.clone(), w.campaign.clone(), previous))
    })
    .flatten();
    if let Some((id, gateway, campaign, previous)) = started {
        drop(previous);
        apply(Input::Start, None);
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

/// The connection to the gateway broke beyond recovery: hang up what is left and say so.
pub(crate) fn connection_lost(id: u32) {
    with_call(id, |call, _| call.send(&ClientMessage::Hangup));
    transition(id, Input::Failed("connection_lost".into()), None);
}

/// Shows or clears the "reconnecting" notice of call `id`.
pub(crate) fn set_reconnecting(id: u32, on: bool) {
    with(|w| {
        if w.call.as_ref().map(|c| c.id) == Some(id) && w.reconnecting != on {
            w.reconnecting = on;
            render(w);
        }
    });
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

/// Flips a flag (mute, keypad) and re-renders.
fn toggle(flag: fn(&mut Widget) -> &mut bool) {
    with(|w| {
        let f = flag(w);
        *f = !*f;
        render(w);
    });
}

/// Opens the card (`C2C.open()`, the launcher) and moves focus into it.
pub(crate) fn open_card() {
    with(|w| {
        w.card_open = true;
        render(w);
        w.ui.focus_first();
    });
}

/// Closes the card (`C2C.close()`, its close button, Escape) unless a call is in progress,
/// returning focus to the launcher when it was inside.
pub(crate) fn close_card() {
    with(|w| {
        if w.status.state.is_active() || !w.card_open {
            return;
        }
        let had_focus = w.ui.has_focus();
        w.card_open = false;
        render(w);
        if had_focus {
            w.ui.focus_launcher();
        }
    });
}

/// Validates the callback form and posts it; errors are shown next to their fields and focus
/// goes to the first wrong one.
fn submit_callback() {
    let request = with(|w| {
        let number = phone::normalize(&w.ui.phone.value());
        let consent = w.ui.consent.checked();
        let phone_err = number.is_err().then_some(Msg::PhoneInvalid);
        let consent_err = (!consent).then_some(Msg::ConsentRequired);
        w.ui.form_errors(phone_err, consent_err);
        match number {
            Ok(n) if consent => {
                w.ui.form_busy(true);
                let name = w.ui.name.value();
                Some((w.gateway.clone(), w.campaign.clone(), n, name))
            }
            Err(_) => {
                let _ = w.ui.phone.focus();
                None
            }
            Ok(_) => {
                let _ = w.ui.consent.focus();
                None
            }
        }
    })
    .flatten();
    let Some((gateway, campaign, number, name)) = request else {
        return;
    };
    spawn_local(async move {
        let result = api::callback(&gateway, &campaign, &number, &name, true).await;
        with(|w| {
            w.ui.form_busy(false);
            if result.as_ref().is_err_and(|f| f.code == "invalid_phone") {
                w.ui.form_errors(Some(Msg::PhoneInvalid), None);
                let _ = w.ui.phone.focus();
                return;
            }
            let had_focus = w.ui.has_focus();
            w.callback_sent = Some(result.is_ok());
            render(w);
            if had_focus && result.is_ok() {
                w.ui.focus_first();
            }
            // A failure leaves the form up to try again; the next render forgets it.
            if result.is_err() {
                w.callback_sent = None;
            }
        });
    });
}

/// Starts the timer/meter updates of a call.
fn start_ticker(w: &mut Widget) {
    stop_ticker(w);
    let tick = Closure::<dyn FnMut()>::new(|| {
        with(|w| {
            let secs = match (w.status.state, w.since) {
                (WidgetState::Answered | WidgetState::Queued, Some(at)) => {
                    ((js_sys::Date::now() - at) / 1000.0) as u64
                }
                _ => 0,
            };
            let muted = w.muted;
            let level = w
                .call
                .as_mut()
                .and_then(|c| c.audio.as_mut())
                .map_or(0, |a| if muted { 0 } else { a.level() });
            w.ui.tick(&crate::state::clock(secs), level);
        });
    });
    w.ticker = web_sys::window().and_then(|win| {
        win.set_interval_with_callback_and_timeout_and_arguments_0(
            tick.into_js_value().unchecked_ref(),
            TICK_MS,
        )
        .ok()
    });
}

/// Stops the timer/meter updates.
fn stop_ticker(w: &mut Widget) {
    if let (Some(t), Some(win)) = (w.ticker.take(), web_sys::window()) {
        win.clear_interval_with_handle(t);
    }
}

/// Whether a server `error` frame with `code` should end the current call.
pub(crate) fn error_is_fatal(code: &str) -> bool {
    with(|w| crate::state::error_frame_is_fatal(w.status.state, code)).unwrap_or(false)
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

/// Removes a `C2C.on('state', fn)` listener (`C2C.off`).
pub(crate) fn remove_listener(f: &js_sys::Function) {
    with(|w| w.listeners.retain(|l| !js_sys::Object::is(l, f)));
}

/// `{state, reason, position, wait}` as a JS object (`reason` is `null` unless ended or failed;
/// `position` and `wait`, the queue position and estimate in seconds, `null` unless queued and
/// known).
fn status_detail(status: &Status) -> JsValue {
    let detail = js_sys::Object::new();
    let reason = status
        .reason
        .as_deref()
        .map_or(JsValue::NULL, JsValue::from_str);
    let num = |n: Option<u32>| n.map_or(JsValue::NULL, JsValue::from);
    let place = status.place;
    for (k, v) in [
        ("state", status.state.as_str().into()),
        ("reason", reason),
        ("position", num(place.map(|p| p.position))),
        ("wait", num(place.and_then(|p| p.wait_s))),
    ] {
        let _ = js_sys::Reflect::set(&detail, &k.into(), &v);
    }
    detail.into()
}

/// Tells listeners and the page: `fn({state, reason, position, wait})` (again on every new
/// queue position or estimate), and a `c2c:state` CustomEvent on the `<c2c-widget>` element
/// that bubbles to `document` and `window`.
fn announce(status: &Status, listeners: &[js_sys::Function], host: &web_sys::HtmlElement) {
    let detail = status_detail(status);
    for f in listeners {
        // A throwing listener must not stop the others or the call.
        let _ = f.call1(&JsValue::NULL, &detail);
    }
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    init.set_bubbles(true);
    init.set_composed(true);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict("c2c:state", &init) {
        let _ = host.dispatch_event(&ev);
    }
}
