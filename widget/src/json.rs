//! The `c2c-wire` types to and from JS values, using the browser's own `JSON` and property
//! access instead of serde: measured here, the serde_json build of this widget was ~83 KiB
//! gzipped (wasm + glue; serde's error paths pull in float formatting), this one ~41 KiB.
//!
//! Decoders return `None` for anything that does not match the contract; callers map that to
//! the `bad_response` error state. Field names follow the serde attributes in `c2c-wire`.

use c2c_wire::{
    ApiError, ClientMessage, Fallback, IceServer, ServerMessage, TokenRequest, TokenResponse,
};
use wasm_bindgen::JsValue;

use crate::frame::{self, Fields};
use crate::look::CampaignTheme;

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
    let mut fields = vec![
        ("campaign", req.campaign.as_str()),
        ("page_url", req.page_url.as_str()),
        ("referrer", req.referrer.as_str()),
    ];
    if let Some(t) = &req.bot_token {
        fields.push(("bot_token", t.as_str()));
    }
    stringify(&fields)
}

impl Fields for JsValue {
    fn string(&self, key: &str) -> Option<String> {
        string(self, key)
    }
    fn number(&self, key: &str) -> Option<f64> {
        number(self, key)
    }
}

/// A server signalling frame; `None` for unknown or malformed frames ([`frame::server_message`]).
pub(crate) fn server_message(v: &JsValue) -> Option<ServerMessage> {
    frame::server_message(v)
}

/// What the widget uses of `GET /v1/campaigns/{id}/availability`. Decoded here rather than
/// into `c2c_wire::Availability`, so fields the gateway adds later cannot break the widget.
pub(crate) struct Offered {
    /// Inside business hours.
    pub open: bool,
    /// Destinations free now.
    pub agents_available: u32,
    /// Expected wait, seconds; 0 when the gateway does not know (the field is absent).
    pub estimated_wait_s: u32,
    /// A call may wait in the queue when nobody is free (`queues`, false when absent).
    pub queues: bool,
    /// What to offer instead of a call.
    pub fallback: Fallback,
    /// Unix seconds of the next opening, when closed (`opens_at`).
    pub opens_at: Option<f64>,
    /// The campaign's look (`theme`, every field optional).
    pub theme: CampaignTheme,
}

/// `GET /v1/campaigns/{id}/availability`.
pub(crate) fn availability(v: &JsValue) -> Option<Offered> {
    let fallback = get(v, "fallback");
    let fallback = match string(&fallback, "kind")?.as_str() {
        "message" => Fallback::Message {
            text: string(&fallback, "text")?,
        },
        "callback" => Fallback::Callback,
        _ => return None,
    };
    let theme = get(v, "theme");
    Some(Offered {
        open: get(v, "open").as_bool()?,
        agents_available: number(v, "agents_available")? as u32,
        estimated_wait_s: number(v, "estimated_wait_s").unwrap_or(0.0) as u32,
        queues: get(v, "queues").as_bool().unwrap_or(false),
        fallback,
        opens_at: number(v, "opens_at"),
        theme: CampaignTheme {
            label: string(&theme, "label"),
            color: string(&theme, "color"),
            text_color: string(&theme, "text_color"),
            position: string(&theme, "position"),
        },
    })
}

/// The body of `POST /v1/callbacks`: `{campaign, phone, name?, consent}`.
pub(crate) fn callback_request(
    campaign: &str,
    phone: &str,
    name: &str,
    consent: bool,
) -> Option<String> {
    let obj = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&obj, &JsValue::from_str(k), v);
    set("campaign", &campaign.into()).ok()?;
    set("phone", &phone.into()).ok()?;
    if !name.trim().is_empty() {
        set("name", &name.trim().into()).ok()?;
    }
    set("consent", &JsValue::from_bool(consent)).ok()?;
    js_sys::JSON::stringify(&obj).ok()?.as_string()
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
