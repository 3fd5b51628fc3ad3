//! Campaigns: who may call, from which websites, to where, with which caller-ID numbers.

pub mod routing;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use c2c_sbc::destination::Destination;
use c2c_token::SessionNumber;
use c2c_wire::{Fallback, Theme};

use crate::screening::{RequestLimiter, WeeklyHours};
use routing::RoutingConfig;

/// A campaign as written in the config file (seed data until the dashboard owns it).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    /// The id site owners put in `data-campaign`.
    pub public_id: String,
    /// Owning organisation.
    #[serde(default = "default_org")]
    pub org: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Inactive campaigns issue no tokens.
    #[serde(default = "yes")]
    pub active: bool,
    /// Origins (`scheme://host[:port]`) whose pages may place calls.
    pub allowed_origins: Vec<String>,
    /// Name of the trunk calls leave through.
    pub trunk: String,
    /// Callees in the order they are tried: E.164 numbers, user parts or agents' `sip:`
    /// URIs. `destination = "…"` (one) is accepted for older config files.
    #[serde(alias = "destination", deserialize_with = "one_or_many")]
    pub destinations: Vec<String>,
    /// How long a destination rings before the next one is tried, seconds (the last one
    /// rings until the trunk gives up).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_s: u32,
    /// Caller-ID numbers lent to web sessions.
    pub number_pool: NumberPool,
    /// Button look.
    #[serde(default)]
    pub theme: Theme,
    /// Shown instead of the button when no call can be placed.
    #[serde(default = "default_fallback")]
    pub fallback_message: String,
    /// What the widget offers when no call can be placed: `message` or `callback`.
    #[serde(default)]
    pub fallback: FallbackKind,
    /// IANA time zone of `hours`.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Weekly opening hours, e.g. `["mon-fri 09:00-17:00"]`; empty means always open.
    #[serde(default)]
    pub hours: Vec<String>,
    /// Calls this campaign may have in progress at once.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_calls: u32,
    /// Tokens this campaign may issue per calendar day (in its time zone); 0 = no cap.
    #[serde(default)]
    pub daily_cap: u32,
    /// Token requests one client IP may make per minute.
    #[serde(default = "default_rate_ip")]
    pub rate_per_ip_per_minute: u32,
    /// Token requests the whole campaign may take per minute.
    #[serde(default = "default_rate_campaign")]
    pub rate_per_campaign_per_minute: u32,
    /// Tokens one client (IPv4 address, IPv6 /64) may hold without calling: each lends a
    /// session number until it expires. A visitor needs one; a retry a second.
    #[serde(default = "default_unused_tokens")]
    pub unused_tokens_per_client: u32,
    /// Verify a bot-check answer with this provider before issuing tokens; off when absent.
    #[serde(default)]
    pub bot_check: Option<crate::screening::BotCheckConfig>,
    /// Ask the trunk to withhold the caller ID from the callee (`Privacy: id`, RFC 3325).
    #[serde(default)]
    pub privacy_id: bool,
    /// Which agents take the calls (`[campaigns.routing]`); without it, the destinations.
    #[serde(default)]
    pub routing: RoutingConfig,
}

/// What the widget shows when the campaign cannot take a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackKind {
    /// `fallback_message`.
    #[default]
    Message,
    /// A callback request form.
    Callback,
}

/// A block of consecutive E.164 numbers: `first` and the `count` numbers from it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NumberPool {
    /// First number of a block, `+` and digits.
    #[serde(default)]
    pub first: String,
    /// How many numbers from `first`.
    #[serde(default)]
    pub count: u32,
    /// Individual numbers, instead of or besides a block.
    #[serde(default)]
    pub list: Vec<String>,
}

/// Most destinations a campaign may hunt through (each one rides in every token).
pub const MAX_DESTINATIONS: usize = 10;

/// A list, or a single string as a list of one.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn default_ring_timeout() -> u32 {
    20
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_max_concurrent() -> u32 {
    10
}

fn default_rate_ip() -> u32 {
    10
}
fn default_unused_tokens() -> u32 {
    3
}

fn default_rate_campaign() -> u32 {
    600
}

/// The organisation of config-file campaigns and trunks that name none.
pub const DEFAULT_ORG: &str = "default";

fn default_org() -> String {
    DEFAULT_ORG.into()
}

fn yes() -> bool {
    true
}

fn default_fallback() -> String {
    "We can't take calls right now. Please try again later.".into()
}

/// A validated campaign: origins normalised, pool expanded.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// The config it came from.
    pub config: CampaignConfig,
    /// Allowed origins in their canonical ASCII form.
    pub origins: Vec<String>,
    /// Every number of the pool.
    pub numbers: Vec<SessionNumber>,
    /// Opening hours.
    pub hours: WeeklyHours,
    /// Token requests per client IP.
    pub ip_limiter: Arc<RequestLimiter>,
    /// Token requests for the whole campaign.
    pub campaign_limiter: Arc<RequestLimiter>,
}

/// A campaign entry that cannot be used, with the key to fix.
#[derive(Debug, thiserror::Error)]
#[error("campaign {campaign}: {key}: {problem}")]
pub struct CampaignError {
    /// The campaign's public id.
    pub campaign: String,
    /// The offending key.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl Campaign {
    /// Validates a campaign from the config file.
    pub fn new(config: CampaignConfig) -> Result<Self, CampaignError> {
        let err = |key, problem: String| CampaignError {
            campaign: config.public_id.clone(),
            key,
            problem,
        };
        if config.public_id.is_empty()
            || !config
                .public_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err("public_id", "use letters, digits, '-' or '_'".into()));
        }
        let mut origins = Vec::new();
        for o in &config.allowed_origins {
            let canon = canonical_origin(o).ok_or_else(|| {
                err(
                    "allowed_origins",
                    format!("{o:?} is not an origin like https://shop.example"),
                )
            })?;
            origins.push(canon);
        }
        let numbers = expand_pool(&config.number_pool).ok_or_else(|| {
            err(
                "number_pool",
                "give first = \"+E164\" and count = 1..100000 for a block, and/or list = [\"+E164\", …]; numbers are + and 8 to 15 digits".into(),
            )
        })?;
        config
            .routing
            .check()
            .map_err(|(key, problem)| err(key, problem))?;
        let to_agents = config.routing.to_agents();
        if (config.destinations.is_empty() && !to_agents)
            || config.destinations.len() > MAX_DESTINATIONS
        {
            return Err(err(
                "destinations",
                format!("give 1 to {MAX_DESTINATIONS} destinations, tried in order, or route the calls to agents ([campaigns.routing] strategy)"),
            ));
        }
        for d in &config.destinations {
            Destination::parse(d, "destination").map_err(|_| {
                err(
                    "destinations",
                    format!("{d:?} is neither an E.164 number like +4930123456 nor a SIP URI like sip:sales@pbx.example"),
                )
            })?;
        }
        if !(5..=300).contains(&config.ring_timeout_s) {
            return Err(err("ring_timeout_s", "use 5 to 300 seconds".into()));
        }
        let hours = WeeklyHours::parse(&config.timezone, &config.hours)
            .map_err(|e| err("hours", e.to_string()))?;
        if config.max_concurrent_calls == 0 {
            return Err(err("max_concurrent_calls", "must be at least 1".into()));
        }
        if config.unused_tokens_per_client == 0 {
            return Err(err(
                "unused_tokens_per_client",
                "must be at least 1 (a visitor needs one token to call)".into(),
            ));
        }
        // Bursts let a visitor retry a few times quickly; the rate bounds sustained abuse.
        let ip_limiter = Arc::new(RequestLimiter::new(
            config.rate_per_ip_per_minute,
            config.rate_per_ip_per_minute.clamp(1, 5),
        ));
        let campaign_limiter = Arc::new(RequestLimiter::new(
            config.rate_per_campaign_per_minute,
            config.rate_per_campaign_per_minute.max(1),
        ));
        Ok(Campaign {
            config,
            origins,
            numbers,
            hours,
            ip_limiter,
            campaign_limiter,
        })
    }

    /// Whether a page with this `Origin` header may place calls.
    pub fn allows_origin(&self, origin: &str) -> bool {
        canonical_origin(origin).is_some_and(|o| self.origins.contains(&o))
    }

    /// The fallback to show when no call can be placed.
    pub fn fallback(&self) -> Fallback {
        match self.config.fallback {
            FallbackKind::Callback => Fallback::Callback,
            FallbackKind::Message => Fallback::Message {
                text: self.config.fallback_message.clone(),
            },
        }
    }

    /// Unix second when today began in the campaign's time zone (for the daily cap).
    pub fn day_start(&self, now: i64) -> i64 {
        let tz = jiff::tz::TimeZone::get(&self.config.timezone).unwrap_or(jiff::tz::TimeZone::UTC);
        jiff::Timestamp::from_second(now)
            .ok()
            .and_then(|t| t.to_zoned(tz).start_of_day().ok())
            .map_or(now - now.rem_euclid(86_400), |z| z.timestamp().as_second())
    }
}

/// The canonical form of an origin, or None for `null`, paths, userinfo and non-http schemes.
pub fn canonical_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !(url.path() == "/" || url.path().is_empty())
        || origin.ends_with('/')
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

/// Largest pool we expand; a bigger one is a configuration mistake, not a pool.
const MAX_POOL: usize = 100_000;

/// Every number of the pool (the block from `first`, then `list`), each `+` and 8–15 digits,
/// without duplicates; None when a number is malformed or the pool is empty or too large.
fn expand_pool(pool: &NumberPool) -> Option<Vec<SessionNumber>> {
    let mut out = Vec::new();
    if !pool.first.is_empty() || pool.count > 0 {
        let first = SessionNumber::parse(&pool.first).ok()?;
        if pool.count == 0 || pool.count as usize > MAX_POOL {
            return None;
        }
        let digits = first.digits();
        let start: u64 = digits.parse().ok()?;
        for i in 0..u64::from(pool.count) {
            let n = (start + i).to_string();
            // A block that would change length (…999 → 1000…) is a typo, not a pool.
            (n.len() == digits.len()).then_some(())?;
            out.push(SessionNumber::parse(&format!("+{n}")).ok()?);
        }
    }
    for n in &pool.list {
        out.push(SessionNumber::parse(n.trim()).ok()?);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    (!out.is_empty() && out.len() <= MAX_POOL).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool's numbers as text.
    fn expanded(pool: &NumberPool) -> Option<Vec<String>> {
        expand_pool(pool).map(|v| v.into_iter().map(String::from).collect())
    }

    #[test]
    fn origins_match_exactly_in_canonical_form() {
        assert_eq!(
            canonical_origin("https://Shop.Example:443").as_deref(),
            Some("https://shop.example")
        );
        assert_eq!(canonical_origin("null"), None);
        assert_eq!(canonical_origin("https://shop.example/"), None);
        assert_eq!(canonical_origin("https://shop.example/page"), None);
        assert_eq!(canonical_origin("file:///etc/passwd"), None);
        assert_eq!(canonical_origin("https://u:p@shop.example"), None);
    }

    #[test]
    fn a_pool_expands_without_changing_length() {
        let block = |first: &str, count| NumberPool {
            first: first.into(),
            count,
            list: vec![],
        };
        assert_eq!(
            expanded(&block("+15550100998", 3)),
            Some(vec![
                "+15550100998".into(),
                "+15550100999".into(),
                "+15550101000".into()
            ])
        );
        assert_eq!(
            expanded(&block("+15550199999", 2)),
            Some(vec!["+15550199999".into(), "+15550200000".into()])
        );
        assert_eq!(
            expanded(&block("+99999999", 2)),
            None,
            "length would change"
        );
        assert_eq!(expanded(&block("+999", 2)), None, "too short for E.164");
        assert_eq!(expanded(&block("15550100", 2)), None, "no +");
        assert_eq!(expanded(&block("+15550100", 0)), None, "empty");
    }

    #[test]
    fn a_pool_can_be_a_list_or_both_without_duplicates() {
        let p = NumberPool {
            first: "+4930999000".into(),
            count: 2,
            list: vec!["+4930555111".into(), " +4930999001 ".into()],
        };
        assert_eq!(
            expanded(&p),
            Some(vec![
                "+4930999000".into(),
                "+4930999001".into(),
                "+4930555111".into()
            ])
        );
        let bad = NumberPool {
            first: String::new(),
            count: 0,
            list: vec!["+49 30 555".into()],
        };
        assert_eq!(expanded(&bad), None);
    }
}
