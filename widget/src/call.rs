//! One call from the browser: microphone, token, `RTCPeerConnection` offer with all ICE
//! candidates gathered (the gateway is ICE-lite, so no trickle), then the signalling WebSocket
//! (ARCHITECTURE.md, "Signalling"). Every browser resource a call holds lives in [`Call`] and is released when the
//! `Call` is dropped.

use c2c_wire::{ClientMessage, ServerMessage};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MediaStream, MediaStreamConstraints, MessageEvent, RtcConfiguration, RtcIceConnectionState,
    RtcIceGatheringState, RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
    WebSocket,
};

use crate::audio::CallAudio;

use crate::state::{resolve_ws_url, Failure, Input};
use crate::widget::{self, transition};
use crate::{api, json};

/// How long to wait for ICE gathering before sending the offer with what we have: host
/// candidates come at once; a slow STUN server must not hold the call up.
const ICE_GATHERING_TIMEOUT_MS: i32 = 3_000;
/// How long to wait for the gateway's `ended` after we sent `hangup`.
const HANGUP_GRACE_MS: i32 = 2_000;
/// Poll interval while waiting for ICE gathering to complete.
const ICE_POLL_MS: i32 = 25;
/// How long media may stay `disconnected` before the call is given up: ICE consent checks
/// (RFC 7675 §5.1) declare a path dead after 30 s; a visitor waits less, and Chromium recovers a
/// brief Wi-Fi drop well within this.
const ICE_RECOVERY_MS: i32 = 10_000;

/// The browser resources of one call attempt.
pub(crate) struct Call {
    /// Distinguishes this attempt from earlier ones whose async steps may still be in flight.
    pub(crate) id: u32,
    pc: Option<RtcPeerConnection>,
    ws: Option<WebSocket>,
    mic: Option<MediaStream>,
    /// Event handlers set on `pc` and `ws`; dropping them invalidates the JS functions.
    handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    hangup_timer: Option<i32>,
    /// Gives up on a `disconnected` ICE connection that has not recovered.
    recovery_timer: Option<i32>,
    hanging_up: bool,
    /// Ringback tone and level meter.
    pub(crate) audio: Option<CallAudio>,
}

impl Call {
    /// A call attempt that holds nothing yet but its audio graph.
    pub(crate) fn new(id: u32, audio: Option<CallAudio>) -> Self {
        Call {
            id,
            pc: None,
            ws: None,
            mic: None,
            handlers: Vec::new(),
            hangup_timer: None,
            recovery_timer: None,
            hanging_up: false,
            audio,
        }
    }

    /// The peer connection, once created (for `C2C.stats()`).
    pub(crate) fn peer_connection(&self) -> Option<&RtcPeerConnection> {
        self.pc.as_ref()
    }

    /// Sends a signalling message if the WebSocket is open; false otherwise.
    pub(crate) fn send(&self, msg: &ClientMessage) -> bool {
        let Some(ws) = self
            .ws
            .as_ref()
            .filter(|ws| ws.ready_state() == WebSocket::OPEN)
        else {
            return false;
        };
        json::client_message(msg).is_some_and(|text| ws.send_with_str(&text).is_ok())
    }

    /// Asks the gateway to hang up. Returns false when there is no open signalling channel yet,
    /// in which case the caller ends the call locally right away.
    pub(crate) fn hang_up(&mut self) -> bool {
        if self.hanging_up {
            return true;
        }
        if !self.send(&ClientMessage::Hangup) {
            return false;
        }
        self.hanging_up = true;
        let id = self.id;
        let done = Closure::once_into_js(move || {
            transition(id, Input::Ended(c2c_wire::EndReason::HangupLocal), None)
        });
        self.hangup_timer = web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(
                done.unchecked_ref(),
                HANGUP_GRACE_MS,
            )
            .ok()
        });
        true
    }

    /// Mutes or unmutes the microphone (the track keeps running, so unmuting is instant).
    pub(crate) fn set_muted(&self, muted: bool) {
        if let Some(mic) = &self.mic {
            for track in mic.get_audio_tracks().iter() {
                track
                    .unchecked_into::<web_sys::MediaStreamTrack>()
                    .set_enabled(!muted);
            }
        }
    }

    /// Follows the ICE connection: `disconnected` arms a timer that gives the call up,
    /// recovery disarms it. Returns what the widget should show; the caller tells it once the
    /// call is no longer borrowed.
    fn on_ice_state(&mut self, state: RtcIceConnectionState) -> Ice {
        let id = self.id;
        match state {
            RtcIceConnectionState::Disconnected => {
                if self.recovery_timer.is_none() {
                    let give_up = Closure::once_into_js(move || widget::connection_lost(id));
                    self.recovery_timer = web_sys::window().and_then(|w| {
                        w.set_timeout_with_callback_and_timeout_and_arguments_0(
                            give_up.unchecked_ref(),
                            ICE_RECOVERY_MS,
                        )
                        .ok()
                    });
                }
                Ice::Reconnecting
            }
            RtcIceConnectionState::Failed => Ice::Lost,
            RtcIceConnectionState::Connected | RtcIceConnectionState::Completed => {
                if let (Some(t), Some(w)) = (self.recovery_timer.take(), web_sys::window()) {
                    w.clear_timeout_with_handle(t);
                }
                Ice::Up
            }
            _ => Ice::Unchanged,
        }
    }
}

/// What an ICE connection state change means for the visitor.
enum Ice {
    /// Media flows.
    Up,
    /// Media stopped; recovery is being waited for.
    Reconnecting,
    /// Media is gone for good.
    Lost,
    /// Nothing to show.
    Unchanged,
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(ws) = self.ws.take() {
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onerror(None);
            let _ = ws.close();
        }
        if let Some(pc) = self.pc.take() {
            pc.set_ontrack(None);
            pc.set_oniceconnectionstatechange(None);
            pc.close();
        }
        if let Some(mic) = self.mic.take() {
            stop_tracks(&mic);
        }
        if let Some(w) = web_sys::window() {
            for t in [self.hangup_timer.take(), self.recovery_timer.take()]
                .into_iter()
                .flatten()
            {
                w.clear_timeout_with_handle(t);
            }
        }
    }
}

/// Runs the set-up steps of call `id` (already registered as the widget's current call);
/// failures end the call in the `error` state.
pub(crate) fn start(id: u32, gateway: String, campaign: String) {
    spawn_local(async move {
        if let Err(f) = set_up(id, &gateway, &campaign).await {
            let message = f.message.clone();
            transition(id, Input::Failed(f.code), message.as_deref());
        }
    });
}

/// Microphone → token → offer with gathered candidates → WebSocket. The microphone comes
/// first so a visitor who refuses it costs no token and no session number. Returns early (Ok)
/// when the visitor hung up meanwhile: the widget has already dropped the `Call`.
async fn set_up(id: u32, gateway: &str, campaign: &str) -> Result<(), Failure> {
    let mic = microphone().await?;
    let stored = widget::with_call(id, |call, _| {
        if let Some(audio) = call.audio.as_mut() {
            audio.meter(&mic);
        }
        call.mic = Some(mic.clone());
    });
    if stored.is_none() {
        stop_tracks(&mic);
        return Ok(());
    }

    let token = api::token(gateway, campaign).await?;
    if widget::with_call(id, |_, ui| ui.set_session_number(&token.session_number)).is_none() {
        return Ok(());
    }

    let pc = peer_connection(&token.ice_servers)?;
    let on_track = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        let ev: RtcTrackEvent = ev.unchecked_into();
        let stream = match ev.streams().get(0).dyn_into::<MediaStream>() {
            Ok(s) => Some(s),
            Err(_) => MediaStream::new()
                .ok()
                .inspect(|s| s.add_track(&ev.track())),
        };
        if let Some(stream) = stream {
            widget::with_call(id, |_, ui| ui.play(&stream));
        }
    });
    pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
    let watched = pc.clone();
    let on_ice = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let state = watched.ice_connection_state();
        match widget::with_call(id, |call, _| call.on_ice_state(state)) {
            Some(Ice::Up) => widget::set_reconnecting(id, false),
            Some(Ice::Reconnecting) => widget::set_reconnecting(id, true),
            Some(Ice::Lost) => widget::connection_lost(id),
            Some(Ice::Unchanged) | None => {}
        }
    });
    pc.set_oniceconnectionstatechange(Some(on_ice.as_ref().unchecked_ref()));
    let stored = widget::with_call(id, |call, _| {
        call.pc = Some(pc.clone());
        call.handlers.extend([on_track, on_ice]);
    })
    .is_some();
    if !stored {
        pc.close();
        return Ok(());
    }

    let failed = |_| Failure::local("failed");
    for track in mic.get_audio_tracks().iter() {
        pc.add_track_0(&track.unchecked_into(), &mic);
    }
    let offer = JsFuture::from(pc.create_offer()).await.map_err(failed)?;
    let sdp = js_sys::Reflect::get(&offer, &"sdp".into()).map_err(failed)?;
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(&sdp.as_string().unwrap_or_default());
    JsFuture::from(pc.set_local_description(&init))
        .await
        .map_err(failed)?;
    ice_gathering_complete(&pc).await;
    let Some(offer) = pc.local_description().map(|d| d.sdp()) else {
        return Err(Failure::local("failed"));
    };
    if widget::with_call(id, |_, _| ()).is_none() {
        return Ok(());
    }

    let ws = WebSocket::new(&resolve_ws_url(gateway, &token.ws_url))
        .map_err(|_| Failure::local("network"))?;
    let call_msg = ClientMessage::Call {
        token: token.token,
        sdp: offer,
    };
    let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        let sent = widget::with_call(id, |call, _| call.send(&call_msg)).unwrap_or(false);
        if !sent {
            transition(id, Input::Failed("connection_lost".into()), None);
        }
    });
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        if let Some(text) = ev.unchecked_into::<MessageEvent>().data().as_string() {
            on_server_message(id, &text);
        }
    });
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        // Closing after our hang-up without an `ended` still ends the call as ours.
        let ours = widget::with_call(id, |call, _| call.hanging_up).unwrap_or(false);
        let input = if ours {
            Input::Ended(c2c_wire::EndReason::HangupLocal)
        } else {
            Input::Failed("connection_lost".into())
        };
        transition(id, input, None);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    let stored = widget::with_call(id, |call, _| {
        call.ws = Some(ws.clone());
        call.handlers.extend([on_open, on_message, on_close]);
    })
    .is_some();
    if !stored {
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onclose(None);
        let _ = ws.close();
    }
    Ok(())
}

/// Handles one signalling frame from the gateway. Unknown frames are ignored so an older widget
/// keeps working with a newer gateway.
fn on_server_message(id: u32, text: &str) {
    let Some(msg) = json::parse(text).as_ref().and_then(json::server_message) else {
        return;
    };
    match msg {
        ServerMessage::Answer { sdp } => {
            let Some(pc) = widget::with_call(id, |call, _| call.pc.clone()).flatten() else {
                return;
            };
            spawn_local(async move {
                let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
                init.set_sdp(&sdp);
                if JsFuture::from(pc.set_remote_description(&init))
                    .await
                    .is_err()
                {
                    transition(id, Input::Failed("bad_answer".into()), None);
                }
            });
        }
        ServerMessage::State { state } => transition(id, Input::Progress(state), None),
        ServerMessage::Ended { reason } => transition(id, Input::Ended(reason), None),
        // Before the gateway took the call (token refused…) an error ends it, and `no_agent`
        // before an answer; later ones (a refused DTMF digit) leave the call up.
        ServerMessage::Error { code, message } if widget::error_is_fatal(&code) => {
            transition(id, Input::Failed(code), Some(&message))
        }
        ServerMessage::Error { .. } => {}
        // The call waits for an agent; media is up (music on hold from the gateway).
        ServerMessage::Queue {
            position,
            estimated_wait_s,
        } => transition(
            id,
            Input::Queue {
                position,
                wait_s: estimated_wait_s,
            },
            None,
        ),
    }
}

/// `getUserMedia({audio: true})`, with the DOMException mapped to an error code.
async fn microphone() -> Result<MediaStream, Failure> {
    let devices = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| n.media_devices().ok())
        .ok_or_else(|| Failure::local("webrtc_unsupported"))?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&JsValue::TRUE);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| Failure::local("webrtc_unsupported"))?;
    match JsFuture::from(promise).await {
        Ok(stream) => Ok(stream.unchecked_into()),
        Err(e) => {
            let name = js_sys::Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string());
            Err(Failure::local(crate::state::microphone_error_code(
                &name.unwrap_or_default(),
            )))
        }
    }
}

/// `new RTCPeerConnection({iceServers})` from the token response.
fn peer_connection(servers: &[c2c_wire::IceServer]) -> Result<RtcPeerConnection, Failure> {
    let ice = js_sys::Array::new();
    for s in servers {
        let urls: js_sys::Array = s.urls.iter().map(|u| JsValue::from_str(u)).collect();
        let entry = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&entry, &"urls".into(), &urls);
        ice.push(&entry);
    }
    let config = RtcConfiguration::new();
    config.set_ice_servers(&ice);
    RtcPeerConnection::new_with_configuration(&config)
        .map_err(|_| Failure::local("webrtc_unsupported"))
}

/// Waits until ICE gathering is complete, or [`ICE_GATHERING_TIMEOUT_MS`] at most.
async fn ice_gathering_complete(pc: &RtcPeerConnection) {
    let mut waited = 0;
    while pc.ice_gathering_state() != RtcIceGatheringState::Complete
        && waited < ICE_GATHERING_TIMEOUT_MS
    {
        sleep(ICE_POLL_MS).await;
        waited += ICE_POLL_MS;
    }
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Stops every track of the stream (turns the microphone indicator off).
fn stop_tracks(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}
