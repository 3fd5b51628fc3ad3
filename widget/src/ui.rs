//! The widget's DOM: a `<c2c-widget>` host with an open shadow root holding its own styles, the
//! status line, the call and hang-up buttons and the `<audio>` element that plays the far end.
//!
//! Text from the network is only ever set with `textContent` / attributes, never parsed as HTML.

use c2c_wire::Theme;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlMediaElement, MediaStream, ShadowRootInit};
use web_sys::{ShadowRootMode, Window};

use crate::state::{call_button_label, Status, WidgetState};

/// Styles scoped to the shadow root: nothing leaks into the host page and the page's CSS does
/// not reach in (`all: initial` on the host resets inherited properties).
const CSS: &str = "\
:host{all:initial;position:fixed;z-index:2147483000;bottom:20px;right:20px;\
font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430}\
:host([data-position=bottom-left]){right:auto;left:20px}\
:host([data-position=top-right]){bottom:auto;top:20px}\
:host([data-position=top-left]){bottom:auto;top:20px;right:auto;left:20px}\
.panel{display:flex;flex-direction:column;align-items:flex-end;gap:8px}\
:host([data-position$=left]) .panel{align-items:flex-start}\
[data-c2c=status]{background:#fff;border-radius:10px;padding:8px 12px;max-width:260px;\
box-shadow:0 2px 12px rgba(0,0,0,.18)}\
[data-c2c=status]:empty{display:none}\
button{font:inherit;font-weight:600;border:0;border-radius:999px;padding:12px 22px;\
cursor:pointer;color:#fff;background:var(--c2c-color,#0b6bcb);box-shadow:0 2px 12px rgba(0,0,0,.25)}\
button:hover{filter:brightness(1.08)}\
button:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}\
[data-c2c=hangup]{background:#c62828}\
[hidden]{display:none!important}";

/// Where the widget may sit; anything else from the campaign falls back to the default.
const POSITIONS: [&str; 4] = ["bottom-right", "bottom-left", "top-right", "top-left"];

/// Handles to the widget's elements.
pub(crate) struct Ui {
    host: HtmlElement,
    status: Element,
    call: HtmlElement,
    hangup: HtmlElement,
    audio: HtmlMediaElement,
    /// Swallows a rejected `audio.play()` (autoplay policy) instead of an unhandled rejection.
    ignore: Closure<dyn FnMut(JsValue)>,
}

impl Ui {
    /// Builds the host element and its shadow tree and appends it to `<body>`. The call button
    /// stays hidden until availability says a call can be placed.
    pub(crate) fn mount(window: &Window) -> Result<Ui, JsValue> {
        let document = window.document().ok_or("no document")?;
        let host: HtmlElement = document.create_element("c2c-widget")?.dyn_into()?;
        let shadow = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;

        let style = document.create_element("style")?;
        style.set_text_content(Some(CSS));
        shadow.append_child(&style)?;

        let panel = element(&document, "div", &[("class", "panel"), ("part", "panel")])?;
        let status = element(
            &document,
            "div",
            &[
                ("data-c2c", "status"),
                ("role", "status"),
                ("aria-live", "polite"),
            ],
        )?;
        status.set_attribute("data-state", WidgetState::Idle.as_str())?;
        let call = button(&document, "call", "Call us")?;
        call.set_hidden(true);
        let hangup = button(&document, "hangup", "Hang up")?;
        hangup.set_hidden(true);
        let audio: HtmlMediaElement = element(
            &document,
            "audio",
            &[("autoplay", ""), ("data-c2c", "audio")],
        )?
        .dyn_into()?;

        panel.append_child(&status)?;
        panel.append_child(&call)?;
        panel.append_child(&hangup)?;
        panel.append_child(&audio)?;
        shadow.append_child(&panel)?;
        document.body().ok_or("no body")?.append_child(&host)?;
        Ok(Ui {
            host,
            status,
            call,
            hangup,
            audio,
            ignore: Closure::new(|_: JsValue| {}),
        })
    }

    /// Sets the handlers of the two buttons (kept alive for the page's lifetime).
    pub(crate) fn on_buttons(&self, call: impl FnMut() + 'static, hangup: impl FnMut() + 'static) {
        let call = Closure::<dyn FnMut()>::new(call).into_js_value();
        self.call.set_onclick(Some(call.unchecked_ref()));
        let hangup = Closure::<dyn FnMut()>::new(hangup).into_js_value();
        self.hangup.set_onclick(Some(hangup.unchecked_ref()));
    }

    /// Applies the campaign's colour and position.
    pub(crate) fn apply_theme(&self, theme: &Theme) {
        // A custom property cannot escape its declaration; a bad colour just falls back.
        let _ = self.host.style().set_property("--c2c-color", &theme.color);
        let position = if POSITIONS.contains(&theme.position.as_str()) {
            theme.position.as_str()
        } else {
            POSITIONS[0]
        };
        let _ = self.host.set_attribute("data-position", position);
    }

    /// Offers the call button (availability says open and an agent is free).
    pub(crate) fn show_call_button(&self, label: &str) {
        self.call.set_text_content(Some(label));
        self.call.set_hidden(false);
        let _ = self.host.set_attribute("data-availability", "open");
    }

    /// Shows `text` instead of a call button (closed, busy, or availability unknown).
    pub(crate) fn show_fallback(&self, availability: &str, text: &str) {
        self.call.set_hidden(true);
        self.status.set_text_content(Some(text));
        let _ = self.host.set_attribute("data-availability", availability);
    }

    /// Shows the call's status: state attributes, the sentence, and which button is offered.
    /// `message` (from the server) replaces the built-in wording of an error.
    pub(crate) fn render(&self, status: &Status, label: &str, message: Option<&str>) {
        let _ = self
            .status
            .set_attribute("data-state", status.state.as_str());
        match &status.reason {
            Some(r) => {
                let _ = self.status.set_attribute("data-reason", r);
            }
            None => {
                let _ = self.status.remove_attribute("data-reason");
            }
        }
        let text = match message {
            Some(m) if status.state == WidgetState::Error && !m.is_empty() => m,
            _ => status.text(),
        };
        self.status.set_text_content(Some(text));
        let active = status.state.is_active();
        self.call
            .set_text_content(Some(call_button_label(status, label)));
        self.call.set_hidden(active);
        self.hangup.set_hidden(!active);
        if active {
            let _ = self.hangup.focus();
        } else {
            self.audio.set_src_object(None);
        }
    }

    /// Records the web-session number (the caller ID the agent sees) on the status element.
    pub(crate) fn set_session_number(&self, number: &str) {
        let _ = self.status.set_attribute("data-session-number", number);
    }

    /// Plays the far end's audio.
    pub(crate) fn play(&self, stream: &MediaStream) {
        self.audio.set_src_object(Some(stream));
        // Autoplay may be refused without a gesture; the click that started the call counts.
        if let Ok(p) = self.audio.play() {
            let _ = p.catch(&self.ignore);
        }
    }
}

/// Creates `<tag>` with the given attributes.
fn element(document: &Document, tag: &str, attrs: &[(&str, &str)]) -> Result<Element, JsValue> {
    let el = document.create_element(tag)?;
    for (k, v) in attrs {
        el.set_attribute(k, v)?;
    }
    Ok(el)
}

/// Creates `<button type="button" data-c2c="role">text</button>`.
fn button(document: &Document, role: &str, text: &str) -> Result<HtmlElement, JsValue> {
    let b: HtmlElement = element(
        document,
        "button",
        &[("type", "button"), ("data-c2c", role)],
    )?
    .dyn_into()?;
    b.set_text_content(Some(text));
    Ok(b)
}
