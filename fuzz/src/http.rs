//! `http_json`: what anonymous callers send the public HTTP API: the JSON bodies of
//! `POST /v1/calls/token` (`TokenRequest`) and `POST /v1/callbacks` (`CallbackRequest`),
//! deserialised as axum's `Json` does (serde_json), with the checks the handlers run on them,
//! and the `Origin` header both check against the campaign.

use std::sync::OnceLock;

use c2c_web::{normalise_e164, Campaign, CampaignConfig};
use c2c_wire::{CallbackRequest, TokenRequest};

/// The campaign whose origins are checked.
fn campaign() -> &'static Campaign {
    static C: OnceLock<Campaign> = OnceLock::new();
    C.get_or_init(|| {
        let config: CampaignConfig = toml::from_str(
            r#"
public_id = "sales"
org = "o1"
allowed_origins = ["https://shop.example", "http://localhost:8080"]
trunk = "main"
destination = "+4930123456"
number_pool = { first = "+4930999000", count = 5 }
"#,
        )
        .unwrap_or_else(|e| panic!("fixture campaign: {e}"));
        Campaign::new(config).unwrap_or_else(|e| panic!("fixture campaign: {e}"))
    })
}

/// The first line is the `Origin` header, the rest the request body (read as both bodies).
pub fn http_json(data: &[u8]) {
    let (origin, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b""[..], data),
    };
    // An axum `HeaderValue::to_str` is visible ASCII only; anything else never gets here.
    if let Ok(origin) = std::str::from_utf8(origin) {
        if origin.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            let allowed = campaign().allows_origin(origin);
            if allowed {
                // The URL parser, like browsers, ignores leading spaces and control bytes.
                let trimmed = origin.trim_start_matches(|c: char| c <= ' ');
                let scheme = trimmed.get(..4).unwrap_or_default();
                assert!(
                    scheme.eq_ignore_ascii_case("http"),
                    "only web origins are allowed"
                );
            }
        }
    }
    if let Ok(req) = serde_json::from_slice::<TokenRequest>(body) {
        // `screen_and_mint` keeps at most 2048 characters of each.
        let page: String = req.page_url.chars().take(2048).collect();
        let referrer: String = req.referrer.chars().take(2048).collect();
        assert!(page.len() <= 4 * 2048 && referrer.len() <= 4 * 2048);
        round_trip(&req);
    }
    if let Ok(req) = serde_json::from_slice::<CallbackRequest>(body) {
        if let Some(phone) = normalise_e164(&req.phone) {
            assert!(
                phone.starts_with('+') && (9..=16).contains(&phone.len()),
                "{phone}"
            );
            assert!(phone[1..].bytes().all(|b| b.is_ascii_digit()), "{phone}");
            assert_eq!(
                normalise_e164(&phone).as_deref(),
                Some(phone.as_str()),
                "idempotent"
            );
        }
        // The stored name, as `callbacks::request` cleans it.
        let name: String = req
            .name
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        assert!(name.chars().count() <= 100);
        round_trip(&req);
    }
}

/// What we parsed serialises and parses back to the same value.
fn round_trip<T>(value: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_vec(value).unwrap_or_else(|e| panic!("serialise: {e}"));
    let again: T = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("parse back: {e}"));
    assert_eq!(&again, value);
}
