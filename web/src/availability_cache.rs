//! Who of a campaign's agents could take a call now, cached per campaign for at most
//! [`AGENTS_TTL`], so a busy site's page views (availability) and token requests cost no
//! database round trip each: the first request after the value went stale loads the agents'
//! live state (`Store::org_agent_states`), and every request for the same campaign arriving
//! meanwhile waits for that one load instead of starting its own.
//!
//! The handle times behind the wait estimate change slowly (an hour's mean) and are read
//! from the `calls` table, which has no index for them: they are cached for
//! [`HANDLE_STATS_TTL`] and read only when nobody is free.
//!
//! The caches belong to the campaign object (`Arc<Campaign>`): a campaign reloaded with new
//! settings starts afresh, and one whose settings did not change keeps its cache, like its
//! rate limiters. They are kept in a registry here, next to the catalog rather than in it,
//! and dropped with the last handle on their campaign.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use c2c_routing::score::{eligible, meets_required};
use c2c_routing::{needs_for, AgentState, WebContext};
use c2c_token::clock::{unix_ms, unix_now};

use crate::{AppState, Campaign};

/// The oldest agent counts a request is answered from.
pub const AGENTS_TTL: Duration = Duration::from_secs(1);
/// The oldest handle-time mean a wait estimate uses.
pub const HANDLE_STATS_TTL: Duration = Duration::from_secs(30);
/// The period the handle-time mean covers, seconds.
pub const HANDLE_STATS_WINDOW_S: i64 = 3600;

/// A campaign's agents, counted at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounts {
    /// Agents who could be offered a call now: reachable, not away, out of wrap-up, with a
    /// free line and every skill the campaign requires.
    pub available: u32,
    /// Agents logged in who could serve the campaign: reachable, not away, with the required
    /// skills, whether busy or not (the wait model's "agents serving").
    pub staffed: u32,
    /// Calls waiting in the campaign's queue, on every node: they go before a new caller.
    pub queued: u32,
}

impl AgentCounts {
    /// Agents a new caller could have now: those free, after the calls already waiting.
    pub fn free_for_newcomer(&self) -> u32 {
        self.available.saturating_sub(self.queued)
    }

    /// The wait a new caller can expect, behind the calls already waiting.
    pub fn newcomer_wait_s(&self, avg_handle_s: Option<f64>) -> Option<u32> {
        c2c_routing::wait_estimate_s(
            self.queued.saturating_add(1),
            self.available,
            self.staffed,
            avg_handle_s,
        )
    }
}

impl AgentCounts {
    /// Counts `agents` (the campaign's own) for `required` skills at `now_ms`.
    pub fn of(agents: &[AgentState], required: &[(String, u8)], now_ms: i64) -> AgentCounts {
        // Availability knows no page: only the campaign's required skills, no rules.
        let (needs, _) = needs_for(required, &[], &WebContext::default());
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        AgentCounts {
            available: count(
                agents
                    .iter()
                    .filter(|a| eligible(a, &needs, now_ms))
                    .count(),
            ),
            staffed: count(
                agents
                    .iter()
                    .filter(|a| a.reachable && !a.away && meets_required(a, &needs))
                    .count(),
            ),
            queued: 0,
        }
    }
}

/// The agent counts of `campaign` (one routed to agents), at most [`AGENTS_TTL`] old; the
/// error (a database failure, also cached for [`AGENTS_TTL`]) is for the log.
pub async fn agent_counts(
    store: &c2c_store::Store,
    campaign: &Arc<Campaign>,
) -> Result<AgentCounts, String> {
    let cache = cache_of(campaign);
    let mut slot = cache.agents.lock().await;
    if let Some((at, counts)) = &*slot {
        if at.elapsed() < AGENTS_TTL {
            return counts.clone();
        }
    }
    cache.loads.fetch_add(1, Ordering::Relaxed);
    // Aged from the load's start: the counts are as old as the first query.
    let started = Instant::now();
    let counts = load_counts(store, campaign).await;
    *slot = Some((started, counts.clone()));
    counts
}

/// The mean seconds an answered call of `campaign` took over the last
/// [`HANDLE_STATS_WINDOW_S`] (talk time plus the campaign's wrap-up when it routes to
/// agents), at most [`HANDLE_STATS_TTL`] old; None without an answered call (or when the
/// database failed: logged, retried after [`AGENTS_TTL`]).
pub async fn recent_handle_s(store: &c2c_store::Store, campaign: &Arc<Campaign>) -> Option<f64> {
    let cache = cache_of(campaign);
    let mut slot = cache.handle.lock().await;
    if let Some((at, ttl, mean)) = &*slot {
        if at.elapsed() < *ttl {
            return *mean;
        }
    }
    let started = Instant::now();
    let since = unix_now() - HANDLE_STATS_WINDOW_S;
    let (ttl, mean) = match store
        .campaign_handle_stats(&campaign.config.public_id, since)
        .await
    {
        Ok(stats) => (HANDLE_STATS_TTL, stats.avg_handle_s),
        Err(e) => {
            tracing::warn!(error = %e, campaign = %campaign.config.public_id,
                "handle times not loaded: the wait is unknown");
            (AGENTS_TTL, None)
        }
    };
    let routing = &campaign.config.routing;
    let wrap_up = if routing.to_agents() {
        f64::from(routing.wrap_up_s)
    } else {
        0.0
    };
    let mean = mean.map(|talk| talk + wrap_up);
    *slot = Some((started, ttl, mean));
    mean
}

/// How many times the agents of the campaign `public_id` were loaded from the database
/// since its cache began (tests: concurrent and repeated requests share loads).
#[doc(hidden)]
pub fn loads(state: &AppState, public_id: &str) -> u64 {
    state
        .campaigns
        .get(public_id)
        .map_or(0, |c| cache_of(&c).loads.load(Ordering::Relaxed))
}

/// Loads and counts the campaign's agents.
async fn load_counts(store: &c2c_store::Store, campaign: &Campaign) -> Result<AgentCounts, String> {
    let routing = &campaign.config.routing;
    let now_ms = unix_ms();
    let live = store
        .org_agent_states(&campaign.config.org, now_ms)
        .await
        .map_err(|e| format!("agent states of {}: {e}", campaign.config.org))?;
    let agents: Vec<AgentState> = live
        .iter()
        .filter(|a| routing.agents.is_empty() || routing.agents.contains(&a.agent.id))
        .map(crate::agents::agent_state)
        .collect();
    let queued = store
        .queue_length(&campaign.config.public_id, now_ms / 1000)
        .await
        .map_err(|e| format!("queue of {}: {e}", campaign.config.public_id))?;
    Ok(AgentCounts {
        queued,
        ..AgentCounts::of(&agents, &routing.required_skills(), now_ms)
    })
}

/// One campaign's caches.
#[derive(Default)]
struct CampaignCache {
    /// The last agent counts (or load failure) and when they were loaded.
    agents: tokio::sync::Mutex<Option<(Instant, Result<AgentCounts, String>)>>,
    /// The last handle-time mean, when it was loaded and how long it holds.
    handle: tokio::sync::Mutex<Option<(Instant, Duration, Option<f64>)>>,
    /// Agent loads so far.
    loads: AtomicU64,
}

/// Every live campaign object's caches, by the object's address (its `Weak` tells whether
/// the address still holds that object).
type Registry = HashMap<usize, (Weak<Campaign>, Arc<CampaignCache>)>;

static CACHES: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

/// The caches of this campaign object, made on first use.
fn cache_of(campaign: &Arc<Campaign>) -> Arc<CampaignCache> {
    let key = Arc::as_ptr(campaign) as usize;
    let mut caches = CACHES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((owner, cache)) = caches.get(&key) {
        if owner.upgrade().is_some_and(|c| Arc::ptr_eq(&c, campaign)) {
            return cache.clone();
        }
    }
    // A new object (perhaps where a dropped one was): forget the caches of dropped ones.
    caches.retain(|_, (owner, _)| owner.strong_count() > 0);
    let cache = Arc::new(CampaignCache::default());
    caches.insert(key, (Arc::downgrade(campaign), cache.clone()));
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn agent(id: &str, edit: impl FnOnce(&mut AgentState)) -> AgentState {
        let mut a = AgentState::new(id, NOW - 60_000);
        edit(&mut a);
        a
    }

    #[test]
    fn only_free_agents_with_the_required_skills_count_as_available() {
        let de = vec![("lang:de".to_owned(), 3)];
        let agents = [
            agent("free", |a| a.skills = vec![("lang:de".into(), 4)]),
            agent("novice", |a| a.skills = vec![("lang:de".into(), 2)]),
            agent("away", |a| {
                a.skills = vec![("lang:de".into(), 5)];
                a.away = true
            }),
            agent("offline", |a| {
                a.skills = vec![("lang:de".into(), 5)];
                a.reachable = false
            }),
            agent("busy", |a| {
                a.skills = vec![("lang:de".into(), 5)];
                a.on_call = 1
            }),
            agent("wrapping", |a| {
                a.skills = vec![("lang:de".into(), 5)];
                a.wrap_up_until_ms = NOW + 1
            }),
        ];
        assert_eq!(
            AgentCounts::of(&agents, &de, NOW),
            AgentCounts {
                available: 1,
                staffed: 3,
                queued: 0
            }
        );
        // Without required skills the novice counts too.
        assert_eq!(
            AgentCounts::of(&agents, &[], NOW),
            AgentCounts {
                available: 2,
                staffed: 4,
                queued: 0
            }
        );
        // Wrap-up ends.
        assert_eq!(AgentCounts::of(&agents, &de, NOW + 1).available, 2);
    }
}
