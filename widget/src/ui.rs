//! The widget's DOM: a `<c2c-widget>` host with an open shadow root holding a launcher bar
//! (call, hang-up, open buttons) and a card (title, live status line, in-call controls, callback
//! form). [`Ui::render`] sets every element from a [`View`], so the DOM is a function of state.
//!
//! Text from the network is only ever set with `textContent` / attributes, never parsed as HTML.
//! All controls are native buttons and inputs, so keyboard and screen readers work without
//! extra code; the status line is a polite live region that announces each state change.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement, HtmlMediaElement, MediaStream};
use web_sys::{ShadowRoot, ShadowRootInit, ShadowRootMode, Window};

use crate::i18n::{text, Lang, Msg};
use crate::look::Look;
use crate::state::{call_button_label, Status, WidgetState};

/// What the widget shows, computed by `widget.rs` from its state.
pub(crate) struct View<'a> {
    /// The call status.
    pub status: &'a Status,
    /// The status line's sentence.
    pub sentence: &'a str,
    /// The look in force.
    pub look: &'a Look,
    /// The card is open.
    pub card_open: bool,
    /// The callback form is offered.
    pub form: bool,
    /// The microphone is muted.
    pub muted: bool,
    /// The keypad is open.
    pub keypad: bool,
    /// The launcher for closed/unavailable campaigns offers the callback form.
    pub callback_launcher: bool,
}

/// Handles to the widget's elements.
pub(crate) struct Ui {
    lang: Lang,
    pub(crate) host: HtmlElement,
    pub(crate) shadow: ShadowRoot,
    pub(crate) panel: HtmlElement,
    card: HtmlElement,
    title: HtmlElement,
    close: HtmlElement,
    status: HtmlElement,
    incall: HtmlElement,
    timer: HtmlElement,
    meter: HtmlElement,
    meter_fill: HtmlElement,
    mute: HtmlElement,
    keypad_toggle: HtmlElement,
    keypad: HtmlElement,
    pub(crate) form: HtmlElement,
    pub(crate) phone: HtmlInputElement,
    pub(crate) name: HtmlInputElement,
    pub(crate) consent: HtmlInputElement,
    phone_error: HtmlElement,
    consent_error: HtmlElement,
    send: HtmlElement,
    call: HtmlElement,
    hangup: HtmlElement,
    open: HtmlElement,
    audio: HtmlMediaElement,
    /// Swallows a rejected `audio.play()` (autoplay policy) instead of an unhandled rejection.
    ignore: Closure<dyn FnMut(JsValue)>,
}

/// One element of the widget's tree: parent (0 = the shadow root, elements count from 1 in
/// table order), tag, `k=v|k=v` attributes (`_t=` is literal text), text, `aria-label`.
/// A table rather than code: it keeps the wasm small.
type Node = (u8, &'static str, &'static str, Option<Msg>, Option<Msg>);

/// The widget's elements; [`Ui::mount`] picks its handles by these positions.
#[rustfmt::skip]
const TREE: &[Node] = &[
    (0, "div", "class=panel|part=panel", None, None),                                    // 1
    (1, "section", "class=card|id=c2c-card|data-c2c=card|role=region|\
        aria-labelledby=c2c-title|hidden", None, None),                                  // 2
    (2, "div", "class=head", None, None),                                                // 3
    (3, "h2", "id=c2c-title", Some(Msg::CallUs), None),                                  // 4
    (3, "button", "type=button|data-c2c=close|class=plain|_t=\u{d7}", None, Some(Msg::Close)), // 5
    (2, "p", "data-c2c=status|role=status|aria-live=polite|aria-atomic=true|\
        data-state=loading", None, None),                                                // 6
    (2, "div", "data-c2c=incall|hidden", None, None),                                    // 7
    (7, "div", "class=row", None, None),                                                 // 8
    (8, "span", "data-c2c=timer|role=timer|_t=0:00", None, Some(Msg::Duration)),         // 9
    (8, "div", "data-c2c=meter|role=meter|aria-valuemin=0|aria-valuemax=100|\
        aria-valuenow=0", None, Some(Msg::MicLevel)),                                    // 10
    (10, "div", "class=fill", None, None),                                               // 11
    (7, "div", "class=row", None, None),                                                 // 12
    (12, "button", "type=button|data-c2c=mute|class=plain|aria-pressed=false",
        Some(Msg::Mute), None),                                                          // 13
    (12, "button", "type=button|data-c2c=keypad-toggle|class=plain|aria-expanded=false|\
        aria-controls=c2c-keypad", Some(Msg::Keypad), None),                             // 14
    (7, "div", "class=keys|id=c2c-keypad|data-c2c=keypad|role=group|hidden", None,
        Some(Msg::Keypad)),                                                              // 15
    (2, "form", "data-c2c=callback|novalidate|hidden", None, None),                      // 16
    (16, "p", "", Some(Msg::CallbackIntro), None),                                       // 17
    (16, "label", "for=c2c-phone", Some(Msg::Phone), None),                              // 18
    (16, "input", "id=c2c-phone|data-c2c=phone|type=tel|name=phone|autocomplete=tel|\
        inputmode=tel|required|aria-describedby=c2c-phone-hint c2c-phone-err", None, None), // 19
    (16, "small", "id=c2c-phone-hint", Some(Msg::PhoneHint), None),                      // 20
    (16, "p", "id=c2c-phone-err|class=err", None, None),                                 // 21
    (16, "label", "for=c2c-name", Some(Msg::Name), None),                                // 22
    (16, "input", "id=c2c-name|data-c2c=name|type=text|name=name|autocomplete=name|\
        maxlength=100", None, None),                                                     // 23
    (16, "div", "class=check", None, None),                                              // 24
    (24, "input", "id=c2c-consent|data-c2c=consent|type=checkbox|required|\
        aria-describedby=c2c-consent-err", None, None),                                  // 25
    (24, "label", "for=c2c-consent", Some(Msg::Consent), None),                          // 26
    (16, "p", "id=c2c-consent-err|class=err", None, None),                               // 27
    (16, "button", "type=submit|data-c2c=send", Some(Msg::Send), None),                  // 28
    (1, "div", "class=bar", None, None),                                                 // 29
    (29, "button", "type=button|data-c2c=call|hidden", Some(Msg::CallUs), None),         // 30
    (29, "button", "type=button|data-c2c=hangup|hidden", Some(Msg::HangUp), None),       // 31
    (29, "button", "type=button|data-c2c=open|hidden|aria-expanded=false|\
        aria-controls=c2c-card", Some(Msg::CallUs), None),                               // 32
    (1, "audio", "autoplay|data-c2c=audio", None, None),                                 // 33
];

/// The keypad's keys, in reading order.
const DIGITS: [&str; 12] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/// Creates `<tag>` with `k=v|k=v` attributes in `parent`.
fn add(
    doc: &Document,
    parent: &web_sys::Node,
    tag: &str,
    attrs: &str,
) -> Result<HtmlElement, JsValue> {
    let el = doc.create_element(tag)?;
    for kv in attrs.split('|').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if k == "_t" {
            el.set_text_content(Some(v));
        } else {
            el.set_attribute(k, v)?;
        }
    }
    parent.append_child(&el)?;
    Ok(el.unchecked_into())
}

impl Ui {
    /// Builds the host element and its shadow tree and appends it to `<body>`. Nothing is
    /// offered until availability arrives.
    pub(crate) fn mount(window: &Window, lang: Lang) -> Result<Ui, JsValue> {
        let doc = window.document().ok_or("no document")?;
        let host: HtmlElement = doc.create_element("c2c-widget")?.dyn_into()?;
        let shadow = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
        install_styles(&doc, &shadow)?;
        let mut els: Vec<web_sys::Node> = Vec::with_capacity(TREE.len() + 1);
        els.push(shadow.clone().into());
        for &(parent, tag, attrs, txt, label) in TREE {
            let el = add(&doc, &els[usize::from(parent)], tag, attrs)?;
            if let Some(m) = txt {
                el.set_text_content(Some(text(lang, m)));
            }
            if let Some(m) = label {
                el.set_attribute("aria-label", text(lang, m))?;
            }
            els.push(el.into());
        }
        for d in DIGITS {
            let key = add(
                &doc,
                &els[15],
                "button",
                "type=button|data-c2c=digit|class=plain",
            )?;
            key.set_attribute("data-digit", d)?;
            key.set_text_content(Some(d));
        }
        let e = |i: usize| els[i].clone().unchecked_into::<HtmlElement>();
        e(1).set_attribute("lang", lang.tag())?;
        let ui = Ui {
            lang,
            host,
            shadow,
            panel: e(1),
            card: e(2),
            title: e(4),
            close: e(5),
            status: e(6),
            incall: e(7),
            timer: e(9),
            meter: e(10),
            meter_fill: e(11),
            mute: e(13),
            keypad_toggle: e(14),
            keypad: e(15),
            form: e(16),
            phone: e(19).unchecked_into(),
            name: e(23).unchecked_into(),
            consent: e(25).unchecked_into(),
            phone_error: e(21),
            consent_error: e(27),
            send: e(28),
            call: e(30),
            hangup: e(31),
            open: e(32),
            audio: e(33).unchecked_into(),
            ignore: Closure::new(|_: JsValue| {}),
        };
        doc.body().ok_or("no body")?.append_child(&ui.host)?;
        Ok(ui)
    }

    /// Shows `view`: state attributes, the sentence, and which controls are offered.
    pub(crate) fn render(&self, view: &View) {
        let lang = self.lang;
        let state = view.status.state;
        let look = view.look;
        let label = look.label.as_deref().unwrap_or(text(lang, Msg::CallUs));
        let _ = self.host.set_attribute("data-position", look.position);
        let css = self.host.style();
        for (prop, value) in [
            ("--c2c-color", &look.color),
            ("--c2c-on-color", &look.text_color),
        ] {
            let _ = match value {
                Some(v) => css.set_property(prop, v),
                None => css.remove_property(prop).map(|_| ()),
            };
        }
        self.title.set_text_content(Some(label));

        let _ = self.status.set_attribute("data-state", state.as_str());
        // While queued: `data-position` (1 is next) and `data-wait` (seconds, absent when
        // the gateway does not know), for site scripts and tests.
        let place = view.status.place;
        let position = place.map(|p| p.position.to_string());
        let wait = place.and_then(|p| p.wait_s).map(|w| w.to_string());
        for (name, value) in [
            ("data-reason", view.status.reason.as_deref()),
            ("data-position", position.as_deref()),
            ("data-wait", wait.as_deref()),
        ] {
            let _ = match value {
                Some(v) => self.status.set_attribute(name, v),
                None => self.status.remove_attribute(name),
            };
        }
        if self.status.text_content().as_deref() != Some(view.sentence) {
            self.status.set_text_content(Some(view.sentence));
        }
        let _ = self
            .status
            .toggle_attribute_with_force("data-ringback", state.plays_ringback());

        let active = state.is_active();
        let after = state.is_after_call();
        self.card.set_hidden(!view.card_open);
        self.close.set_hidden(active);
        self.call
            .set_text_content(Some(call_button_label(view.status, label, lang)));
        self.call
            .set_hidden(!(state == WidgetState::Available || after));
        self.hangup.set_hidden(!active);
        let fallback = matches!(state, WidgetState::Closed | WidgetState::Unavailable);
        self.open.set_hidden(!fallback || view.card_open);
        self.open.set_text_content(Some(if view.callback_launcher {
            text(lang, Msg::RequestCallback)
        } else {
            label
        }));
        let _ = self
            .open
            .set_attribute("aria-expanded", bool_str(view.card_open));

        // Waiting in the queue, media is up too: timer (time waited), meter and mute show;
        // the keypad only once someone answered.
        let answered = state == WidgetState::Answered;
        self.incall
            .set_hidden(!(answered || state == WidgetState::Queued));
        self.keypad_toggle.set_hidden(!answered);
        let _ = self
            .mute
            .set_attribute("aria-pressed", bool_str(view.muted));
        self.mute.set_text_content(Some(text(
            lang,
            if view.muted { Msg::Unmute } else { Msg::Mute },
        )));
        self.keypad.set_hidden(!view.keypad);
        let _ = self
            .keypad_toggle
            .set_attribute("aria-expanded", bool_str(view.keypad));
        self.form.set_hidden(!view.form);
        if !active {
            self.audio.set_src_object(None);
        }
    }

    /// Updates the call timer and the microphone level meter.
    pub(crate) fn tick(&self, clock: &str, level: u8) {
        self.timer.set_text_content(Some(clock));
        let _ = self
            .meter
            .set_attribute("aria-valuenow", &level.to_string());
        let _ = self
            .meter_fill
            .style()
            .set_property("width", &format!("{level}%"));
    }

    /// Shows (or clears, with `None`) the errors of the callback form and marks the fields.
    pub(crate) fn form_errors(&self, phone: Option<Msg>, consent: Option<Msg>) {
        for (input, out, msg) in [
            (&self.phone, &self.phone_error, phone),
            (&self.consent, &self.consent_error, consent),
        ] {
            out.set_text_content(msg.map(|m| text(self.lang, m)));
            let _ = input.set_attribute("aria-invalid", bool_str(msg.is_some()));
        }
    }

    /// Disables the form's send button while a request is in flight.
    pub(crate) fn form_busy(&self, busy: bool) {
        let _ = self.send.toggle_attribute_with_force("disabled", busy);
    }

    /// Whether keyboard focus is inside the widget.
    pub(crate) fn has_focus(&self) -> bool {
        self.shadow.active_element().is_some()
    }

    /// Moves focus to the first offered control: the phone field, the hang-up or call button,
    /// the launcher, or the card's close button.
    pub(crate) fn focus_first(&self) {
        let candidates: [&HtmlElement; 5] = [
            &self.phone,
            &self.hangup,
            &self.call,
            &self.open,
            &self.close,
        ];
        if let Some(el) = candidates.into_iter().find(|e| is_shown(e)) {
            let _ = el.focus();
        }
    }

    /// Moves focus to the launcher bar (after the card closes).
    pub(crate) fn focus_launcher(&self) {
        for el in [&self.call, &self.open, &self.hangup] {
            if !el.hidden() {
                let _ = el.focus();
                return;
            }
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

/// The element and every ancestor up to the shadow root are not hidden.
fn is_shown(el: &HtmlElement) -> bool {
    let mut node: Option<Element> = Some(el.clone().into());
    while let Some(e) = node {
        if e.has_attribute("hidden") {
            return false;
        }
        node = e.parent_element();
    }
    true
}

/// `"true"` / `"false"` for ARIA attributes.
fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Adopts [`crate::style::CSS`] as a constructed stylesheet (not subject to CSP `style-src`),
/// or falls back to a `<style>` element where `CSSStyleSheet` cannot be constructed.
fn install_styles(doc: &Document, shadow: &ShadowRoot) -> Result<(), JsValue> {
    let adopted = (|| -> Result<(), JsValue> {
        let ctor: js_sys::Function =
            js_sys::Reflect::get(&js_sys::global(), &"CSSStyleSheet".into())?.dyn_into()?;
        let sheet = js_sys::Reflect::construct(&ctor, &js_sys::Array::new())?;
        let replace: js_sys::Function =
            js_sys::Reflect::get(&sheet, &"replaceSync".into())?.dyn_into()?;
        replace.call1(&sheet, &crate::style::CSS.into())?;
        let key = JsValue::from_str("adoptedStyleSheets");
        if !js_sys::Reflect::has(shadow, &key)? {
            return Err(key);
        }
        js_sys::Reflect::set(shadow, &key, &js_sys::Array::of1(&sheet))?;
        Ok(())
    })();
    if adopted.is_err() {
        let style = doc.create_element("style")?;
        style.set_text_content(Some(crate::style::CSS));
        shadow.append_child(&style)?;
    }
    Ok(())
}
