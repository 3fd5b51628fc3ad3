//! The `c2c-wire` types to and from JS values, using the browser's own `JSON` and property
//! access instead of serde: measured here, the serde_json build of this widget was ~83 KiB
//! gzipped (wasm + glue; serde's error paths pull in float formatting), this one ~41 KiB.
//!
//! Decoders return `None` for anything that does not match the contract; callers map that to
//! the `bad_response` error state. Field names follow the serde attributes in `c2c-wire`.

use c2c_wire::{
    ApiError, Availability, ClientMessage, Fallback, IceServer, ServerMessage, Theme, TokenRequest,
    TokenResponse,
};
use wasm_bindgen::JsValue;

use crate::state::{call_state_from_str, end_reason_from_str};

/// `obj[key]`, or `undefined`.
fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or_default()
}

/// A string field.
fn string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// A number field.
fn number(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64()
}

/// Builds `{k: v, …}` with string values and serializes it.
fn stringify(fields: &[(&str, &str)]) -> Option<String> {
    let obj = js_sys::Object::new();
    for (k, v) in fields {
        js_sys::Reflect::set(&obj, &JsValue::from_str(k), &JsValue::from_str(v)).ok()?;
    }
    js_sys::JSON::stringify(&obj).ok()?.as_string()
}

/// Parses a JSON text (a signalling frame).
pub(crate) fn parse(text: &str) -> Option<JsValue> {
    js_sys::JSON::parse(text).ok()
}

/// A client signalling frame as JSON text.
pub(crate) fn client_message(msg: &ClientMessage) -> Option<String> {
    match msg {
        ClientMessage::Call { token, sdp } => {
            stringify(&[("type", "call"), ("token", token), ("sdp", sdp)])
        }
        ClientMessage::Dtmf { digits } => stringify(&[("type", "dtmf"), ("digits", digits)]),
        ClientMessage::Hangup => stringify(&[("type", "hangup")]),
    }
}

/// The body of `POST /v1/calls/token` (UTM parameters are not sent yet).
pub(crate) fn token_request(req: &TokenRequest) -> Option<String> {
    stringify(&[
        ("campaign", &req.campaign),
        ("page_url", &req.page_url),
        ("referrer", &req.referrer),
    ])
}

/// A server signalling frame; `None` for unknown or malformed frames.
pub(crate) fn server_message(v: &JsValue) -> Option<ServerMessage> {
    Some(match string(v, "type")?.as_str() {
        "answer" => ServerMessage::Answer {
            sdp: string(v, "sdp")?,
        },
        "state" => ServerMessage::State {
            state: call_state_from_str(&string(v, "state")?)?,
        },
        "ended" => ServerMessage::Ended {
            reason: end_reason_from_str(&string(v, "reason")?)?,
        },
        "error" => ServerMessage::Error {
            code: string(v, "code")?,
            message: string(v, "message").unwrap_or_default(),
        },
        _ => return None,
    })
}

/// `GET /v1/campaigns/{id}/availability`. A missing theme (or theme field) takes the default.
pub(crate) fn availability(v: &JsValue) -> Option<Availability> {
    let fallback = get(v, "fallback");
    let fallback = match string(&fallback, "kind")?.as_str() {
        "message" => Fallback::Message {
            text: string(&fallback, "text")?,
        },
        "callback" => Fallback::Callback,
        _ => return None,
    };
    let theme = get(v, "theme");
    let default = Theme::default();
    Some(Availability {
        open: get(v, "open").as_bool()?,
        agents_available: number(v, "agents_available")? as u32,
        estimated_wait_s: number(v, "estimated_wait_s").unwrap_or(0.0) as u32,
        fallback,
        theme: Theme {
            label: string(&theme, "label").unwrap_or(default.label),
            color: string(&theme, "color").unwrap_or(default.color),
            position: string(&theme, "position").unwrap_or(default.position),
        },
    })
}

/// The response of `POST /v1/calls/token`.
pub(crate) fn token_response(v: &JsValue) -> Option<TokenResponse> {
    let servers = get(v, "ice_servers");
    let ice_servers = if servers.is_undefined() || servers.is_null() {
        Vec::new()
    } else {
        js_sys::Array::from(&servers)
            .iter()
            .map(|s| {
                let urls = get(&s, "urls");
                // RTCIceServer.urls may be one string or a list.
                let urls = match urls.as_string() {
                    Some(u) => vec![u],
                    None => js_sys::Array::from(&urls)
                        .iter()
                        .filter_map(|u| u.as_string())
                        .collect(),
                };
                IceServer { urls }
            })
            .collect()
    };
    Some(TokenResponse {
        token: string(v, "token")?,
        expires_at: number(v, "expires_at").unwrap_or(0.0) as i64,
        session_number: string(v, "session_number").unwrap_or_default(),
        ws_url: string(v, "ws_url")?,
        ice_servers,
    })
}

/// The `{error, message}` body of a failed API call.
pub(crate) fn api_error(v: &JsValue) -> Option<ApiError> {
    Some(ApiError {
        error: string(v, "error")?,
        message: string(v, "message").unwrap_or_default(),
    })
}
