//! The one error type of the HTTP API, mapped once to a status and a JSON body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The response header that carries the id of an internal error's log line.
pub const REQUEST_ID: &str = "x-request-id";

/// Why an API request was refused; each variant has its status and a stable `error` code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such campaign, or it is not active.
    #[error("campaign not found")]
    CampaignNotFound,
    /// The request's Origin is not on the campaign's allow-list.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// Closed, busy or capped: a machine code and a sentence for the visitor.
    #[error("{0}")]
    Unavailable(&'static str, &'static str),
    /// A field is invalid: the field and what to do.
    #[error("{0}: {1}")]
    Invalid(&'static str, &'static str),
    /// The bot check refused the request (or could not run: we fail closed).
    #[error("{0}")]
    BotCheck(crate::screening::BotCheckError),
    /// Missing or wrong API key.
    #[error("unauthorized")]
    Unauthorized,
    /// Nothing here (or not yours).
    #[error("not found")]
    NotFound,
    /// The campaign's number pool has no free number.
    #[error("number pool exhausted")]
    PoolExhausted,
    /// The campaign routes to agents and none of them could take a call now.
    #[error("no agent available")]
    NoAgent,
    /// Too many requests; retry after this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    /// The body did not parse.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The node is draining (stopping): the load balancer should send this elsewhere.
    #[error("draining")]
    Draining,
    /// Our fault.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The JSON `error` code (also the metrics label of a refusal).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::CampaignNotFound => (
                StatusCode::NOT_FOUND,
                "campaign_not_found",
                "No active campaign with this id.".into(),
            ),
            ApiError::OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "This website is not allowed to place calls for this campaign.".into(),
            ),
            ApiError::Unavailable(code, why) => (StatusCode::CONFLICT, code, (*why).into()),
            ApiError::Invalid(field, why) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                invalid_code(field),
                (*why).to_string(),
            ),
            ApiError::BotCheck(_) => (
                StatusCode::FORBIDDEN,
                "bot_check_failed",
                "We could not confirm you are not a robot; please reload the page and try again."
                    .into(),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A valid API key is required.".into(),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Nothing found.".into()),
            ApiError::PoolExhausted => (
                StatusCode::CONFLICT,
                "pool_exhausted",
                "All caller-ID numbers of this campaign are in use; try again shortly.".into(),
            ),
            ApiError::NoAgent => (
                StatusCode::CONFLICT,
                "no_agent",
                "Nobody can take your call right now; please try again shortly.".into(),
            ),
            ApiError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many call requests; try again shortly.".into(),
            ),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            ApiError::Draining => (
                StatusCode::SERVICE_UNAVAILABLE,
                "draining",
                "This server is restarting; please try again in a moment.".into(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side.".into(),
            ),
        }
    }
}

/// `invalid_<field>`, so a form can mark the field.
fn invalid_code(field: &str) -> &'static str {
    match field {
        "phone" => "invalid_phone",
        "consent" => "invalid_consent",
        "name" => "invalid_name",
        _ => "invalid",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, mut message) = self.parts();
        let mut request_id = None;
        match &self {
            ApiError::Internal(detail) => {
                // The detail (database errors, hosts, names) stays in the log; the caller gets
                // the id that finds it there.
                let id = format!("req_{:016x}", rand::random::<u64>());
                tracing::error!(%detail, request_id = %id, "api internal error");
                message = format!("{message} (reference {id})");
                request_id = Some(id);
            }
            other => {
                tracing::info!(reason = %other, status = status.as_u16(), "api request refused")
            }
        }
        let body = c2c_wire::ApiError {
            error: error.into(),
            message,
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        if let ApiError::RateLimited(secs) = self {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_show_a_reference_and_never_the_detail() {
        let resp =
            ApiError::Internal("connection to db.internal:5432 refused".into()).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = resp
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .expect("request id header");
        let body = axum::body::to_bytes(resp.into_body(), 4096)
            .await
            .expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("db.internal"), "{body}");
        assert!(body.contains(&id), "the body quotes the reference: {body}");
        assert!(body.contains("\"error\":\"internal\""), "{body}");
    }
}
