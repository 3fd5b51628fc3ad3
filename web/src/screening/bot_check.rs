//! The optional bot check: the widget's Turnstile / hCaptcha / reCAPTCHA answer is verified
//! with the provider before a token is minted. Off unless a campaign configures it.
//!
//! All three providers share one protocol: a form POST of `secret`, `response` and `remoteip`
//! answered with JSON `{"success": bool}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the provider may take; a check that cannot complete refuses the call (fail closed).
const VERIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// A campaign's bot-check settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BotCheckConfig {
    /// The provider's verify endpoint, e.g. `https://challenges.cloudflare.com/turnstile/v0/siteverify`.
    pub url: String,
    /// The site's secret key at the provider.
    pub secret: String,
}

/// Why a bot check refused the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotCheckError {
    /// The request carried no answer.
    #[error("no bot-check answer")]
    Missing,
    /// The provider said no.
    #[error("bot check failed")]
    Failed,
    /// The provider could not be asked.
    #[error("bot check unavailable: {0}")]
    Unavailable(String),
}

#[derive(Deserialize)]
struct Verdict {
    success: bool,
}

/// Asks the provider whether `answer` (from `ip`) is a human.
pub async fn verify(
    client: &reqwest::Client,
    config: &BotCheckConfig,
    answer: Option<&str>,
    ip: &str,
) -> Result<(), BotCheckError> {
    let answer = answer
        .filter(|a| !a.is_empty() && a.len() <= 4096)
        .ok_or(BotCheckError::Missing)?;
    let form = [
        ("secret", config.secret.as_str()),
        ("response", answer),
        ("remoteip", ip),
    ];
    let resp = client
        .post(&config.url)
        .form(&form)
        .timeout(VERIFY_TIMEOUT)
        .send()
        .await
        .map_err(|e| BotCheckError::Unavailable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(BotCheckError::Unavailable(format!(
            "HTTP {}",
            resp.status()
        )));
    }
    let verdict: Verdict = resp
        .json()
        .await
        .map_err(|e| BotCheckError::Unavailable(e.to_string()))?;
    if verdict.success {
        Ok(())
    } else {
        Err(BotCheckError::Failed)
    }
}
