//! The gateway's public HTTP API as the widget uses it: availability, the call token and
//! callback requests.
//!
//! Requests are CORS without credentials: the widget runs on the customer's site, and the
//! gateway screens by `Origin`, not by cookies.

use c2c_wire::{TokenRequest, TokenResponse};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, RequestMode, Response};

use crate::json::{self, Offered};
use crate::state::Failure;

/// `GET {gateway}/v1/campaigns/{campaign}/availability`.
pub(crate) async fn availability(gateway: &str, campaign: &str) -> Result<Offered, Failure> {
    let url = format!("{gateway}/v1/campaigns/{}/availability", encode(campaign));
    let init = RequestInit::new();
    init.set_method("GET");
    let body = send(&url, &init).await?;
    json::availability(&body).ok_or_else(|| Failure::local("bad_response"))
}

/// `POST {gateway}/v1/calls/token` with the page context.
pub(crate) async fn token(gateway: &str, campaign: &str) -> Result<TokenResponse, Failure> {
    let window = web_sys::window().ok_or_else(|| Failure::local("no_window"))?;
    let document = window
        .document()
        .ok_or_else(|| Failure::local("no_window"))?;
    let body = TokenRequest {
        campaign: campaign.to_owned(),
        page_url: window.location().href().unwrap_or_default(),
        referrer: document.referrer(),
        utm: None,
        // A site using a bot check puts the check's answer in `C2C.botToken`.
        bot_token: js_sys::Reflect::get(&window, &"C2C".into())
            .and_then(|c2c| js_sys::Reflect::get(&c2c, &"botToken".into()))
            .ok()
            .and_then(|t| t.as_string())
            .filter(|t| !t.is_empty()),
    };
    let body = json::token_request(&body).ok_or_else(|| Failure::local("failed"))?;
    let body = post(&format!("{gateway}/v1/calls/token"), body).await?;
    json::token_response(&body).ok_or_else(|| Failure::local("bad_response"))
}

/// `POST {gateway}/v1/callbacks`; the 202 body is not needed.
pub(crate) async fn callback(
    gateway: &str,
    campaign: &str,
    phone: &str,
    name: &str,
    consent: bool,
) -> Result<(), Failure> {
    let body = json::callback_request(campaign, phone, name, consent)
        .ok_or_else(|| Failure::local("failed"))?;
    post(&format!("{gateway}/v1/callbacks"), body)
        .await
        .map(|_| ())
}

/// POSTs a JSON body.
async fn post(url: &str, body: String) -> Result<JsValue, Failure> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let headers = web_sys::Headers::new().map_err(|_| Failure::local("failed"))?;
    headers
        .set("content-type", "application/json")
        .map_err(|_| Failure::local("failed"))?;
    init.set_headers(&headers);
    send(url, &init).await
}

/// Sends the request and returns a 2xx body parsed as JSON; any other status becomes the API's
/// `{error, message}` (or `http_<status>` when the body is not one).
async fn send(url: &str, init: &RequestInit) -> Result<JsValue, Failure> {
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    let network = |_| Failure::local("network");
    let window = web_sys::window().ok_or_else(|| Failure::local("no_window"))?;
    let request = Request::new_with_str_and_init(url, init).map_err(network)?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network)?
        .unchecked_into();
    let body = match response.json() {
        Ok(p) => JsFuture::from(p).await.ok(),
        Err(_) => None,
    };
    match body {
        Some(body) if response.ok() => Ok(body),
        None if response.ok() => Ok(JsValue::NULL),
        body => Err(match body.as_ref().and_then(json::api_error) {
            Some(e) => Failure {
                code: e.error,
                message: Some(e.message),
            },
            None => Failure::local(&format!("http_{}", response.status())),
        }),
    }
}

/// Percent-encodes a path segment (campaign ids come from the page's markup).
fn encode(segment: &str) -> String {
    js_sys::encode_uri_component(segment).into()
}
