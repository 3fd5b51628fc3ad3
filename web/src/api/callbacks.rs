//! `POST /v1/callbacks`: a visitor asks to be called back when no call could be placed.

use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use c2c_wire::CallbackRequest;

use crate::screening::ClientIp;
use crate::{ApiError, AppState};
use c2c_token::clock::unix_now;

/// Stores a callback request from a page the campaign allows.
pub(crate) async fn request(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    body: Result<Json<CallbackRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(req) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let campaign = state.campaign(&req.campaign)?;
    super::allowed_origin(&headers, &campaign)?;
    campaign
        .ip_limiter
        .check(
            &format!("cb:{}", crate::screening::client_key(client_ip)),
            Instant::now(),
        )
        .map_err(|wait| ApiError::RateLimited(wait.as_secs()))?;
    let phone = normalise_e164(&req.phone).ok_or(ApiError::Invalid(
        "phone",
        "Enter the number with country code, e.g. +49 30 1234567.",
    ))?;
    if !req.consent {
        return Err(ApiError::Invalid(
            "consent",
            "Please agree to be called back.",
        ));
    }
    let name: String = req
        .name
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let id = state
        .store
        .insert_callback(
            &campaign.config.public_id,
            &phone,
            &name,
            &client_ip.to_string(),
            unix_now(),
        )
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(campaign = %campaign.config.public_id, callback = %id, "callback requested");
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id }))))
}

/// `+` and 8–15 digits (ITU-T E.164), ignoring spaces, dots, dashes and brackets.
/// Public (hidden) only for the `http_json` fuzz target, which runs it on request bodies.
#[doc(hidden)]
pub fn normalise_e164(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let rest = trimmed.strip_prefix('+')?;
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return None,
        }
    }
    (8..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
        .filter(|d| !d.starts_with("+0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(
            normalise_e164("+49 (30) 123-4567").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalise_e164("+1.555.010.0000").as_deref(),
            Some("+15550100000")
        );
        for bad in [
            "030 1234567",
            "+123",
            "+0123456789",
            "+49 30 12a4567",
            "+1234567890123456",
            "",
        ] {
            assert_eq!(normalise_e164(bad), None, "{bad}");
        }
    }
}
