//! The agents' side of a call routed to a campaign's agents: who rings and in what order
//! (the router's plan over every agent's live state, read from the database so that every
//! node decides on the same), and each agent's claim while it rings and carries the call.
//!
//! An agent is claimed before its device rings (atomically, cluster-wide: two calls on two
//! nodes cannot both ring an agent with one line), marked on the call when it answers, and
//! released when its attempt or the call ends; an answered call starts its wrap-up.

use c2c_routing::{needs_for, AgentState, RingPlan, WebContext};
use c2c_sbc::context::CallContext;
use c2c_sbc::shell::AgentDevice;
use c2c_store::{AgentLive, Store, WebSession};
use c2c_token::clock::unix_ms;
use c2c_token::VerifiedCall;
use c2c_web::{agent_state, device};

use super::{Gateway, MAX_CALL};

/// One agent to ring, on one of its devices, and why the router picked it.
#[derive(Debug, Clone)]
pub(super) struct AgentTarget {
    /// The agent's id.
    pub agent: String,
    /// Its display name (for the call's record).
    pub name: String,
    /// Calls it carries at once.
    pub max_calls: u32,
    /// The registered device its call goes to.
    pub device: AgentDevice,
    /// Why the router picked it (for the call's record).
    pub why: String,
}

/// Who a call routed to agents rings.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// The agents, in order; empty when none can take the call now.
    pub targets: Vec<AgentTarget>,
    /// Ring them all at once (ring_all) rather than one after another.
    pub at_once: bool,
    /// The call's place in the queue's order, from the campaign's rules (higher first).
    pub priority: i32,
}

/// The agents to ring for `call`.
pub(super) async fn plan(
    gw: &Gateway,
    call: &VerifiedCall,
    session: Option<&WebSession>,
) -> Result<Plan, String> {
    let campaign = gw
        .campaigns
        .get(call.campaign())
        .ok_or("the campaign is gone")?;
    let routing = &campaign.config.routing;
    let now_ms = unix_ms();
    let live: Vec<AgentLive> = gw
        .store
        .org_agent_states(call.org(), now_ms)
        .await
        .map_err(|e| format!("agent states: {e}"))?
        .into_iter()
        .filter(|a| routing.agents.is_empty() || routing.agents.contains(&a.agent.id))
        .collect();
    let states: Vec<AgentState> = live.iter().map(agent_state).collect();
    let context = call_context(session);
    let page_path = page_path(&context.page_url);
    let context = WebContext {
        page_path: &page_path,
        language: None,
        utm: &context.utm,
        visitor: None,
    };
    let required = routing.required_skills();
    let (needs, priority) = needs_for(&required, &routing.rules, &context);
    let plan = match gw.router.lock() {
        Ok(mut router) => {
            router.ring_order(call.campaign(), routing.strategy, &states, &needs, now_ms)
        }
        Err(_) => return Err("the router's state was poisoned".into()),
    };
    let (picks, at_once) = match plan {
        RingPlan::Sequential(picks) => (picks, false),
        RingPlan::Simultaneous(picks) => (picks, true),
        RingPlan::NotRouted => return Err("the campaign calls its destinations".into()),
    };
    let targets = picks
        .into_iter()
        .filter_map(|pick| {
            let a = live.get(pick.index)?;
            Some(AgentTarget {
                agent: a.agent.id.clone(),
                name: a.agent.display_name.clone(),
                max_calls: u32::try_from(a.agent.max_calls).unwrap_or(1),
                device: device_of(a)?,
                why: pick.why,
            })
        })
        .collect();
    Ok(Plan {
        targets,
        at_once,
        priority,
    })
}

/// The agent's device to ring: its most lately refreshed registration.
fn device_of(a: &AgentLive) -> Option<AgentDevice> {
    a.registrations
        .iter()
        .filter_map(|r| Some((r.expires_at, device(r)?)))
        .max_by_key(|(expires_at, _)| *expires_at)
        .map(|(_, d)| d)
}

/// The path of the visitor's page (`/pricing` of `https://shop.example/pricing?x=1`).
fn page_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}

/// What the call carries of the visitor's web session: its page, referrer and UTM values
/// (keys without the `utm_` prefix).
pub(super) fn call_context(session: Option<&WebSession>) -> CallContext {
    let Some(s) = session else {
        return CallContext::default();
    };
    let utm = s.utm.as_ref().map_or_else(Vec::new, |utm| {
        [
            ("source", &utm.source),
            ("medium", &utm.medium),
            ("campaign", &utm.campaign),
            ("term", &utm.term),
            ("content", &utm.content),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), v.clone()?)))
        .collect()
    });
    CallContext {
        page_url: s.page_url.clone(),
        referrer: s.referrer.clone(),
        utm,
    }
}

/// An agent ringing for, or on, a call; released when dropped (an answered call starts the
/// agent's wrap-up).
pub(super) struct AgentClaim {
    store: Store,
    agent: String,
    call_id: String,
    answered: bool,
    wrap_up_ms: i64,
}

impl AgentClaim {
    /// Claims one of `target`'s lines for `call_id`; None when all are taken (another call,
    /// on any node, got there first).
    pub async fn take(
        gw: &Gateway,
        target: &AgentTarget,
        call_id: &str,
        wrap_up_s: u32,
    ) -> Result<Option<AgentClaim>, String> {
        let until = c2c_token::clock::unix_now() + MAX_CALL.as_secs() as i64;
        let slot = gw
            .store
            .claim_agent(
                &target.agent,
                call_id,
                &gw.node,
                target.max_calls,
                unix_ms(),
                until,
            )
            .await
            .map_err(|e| format!("agent claim: {e}"))?;
        Ok(slot.map(|_| AgentClaim {
            store: gw.store.clone(),
            agent: target.agent.clone(),
            call_id: call_id.to_owned(),
            answered: false,
            wrap_up_ms: i64::from(wrap_up_s) * 1000,
        }))
    }

    /// The agent answered: it is on the call now.
    pub fn answered(&mut self) {
        if self.answered {
            return;
        }
        self.answered = true;
        let (store, agent, call_id) =
            (self.store.clone(), self.agent.clone(), self.call_id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.agent_answered(&agent, &call_id, unix_ms()).await {
                tracing::warn!(error = %e, %agent, call = %call_id, "agent not marked on the call");
            }
        });
    }
}

impl Drop for AgentClaim {
    fn drop(&mut self) {
        let (store, agent, call_id) = (
            self.store.clone(),
            std::mem::take(&mut self.agent),
            std::mem::take(&mut self.call_id),
        );
        let (answered, wrap_up_ms) = (self.answered, self.wrap_up_ms);
        // Should this fail, the claim expires with the longest call, or at the node's restart.
        tokio::spawn(async move {
            if let Err(e) = store
                .release_agent(&agent, &call_id, answered, unix_ms(), wrap_up_ms)
                .await
            {
                tracing::warn!(error = %e, %agent, call = %call_id, "agent not released");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_path_and_utm_values_feed_the_rules() {
        assert_eq!(
            page_path("https://shop.example/pricing?x=1#top"),
            "/pricing"
        );
        assert_eq!(page_path("not a url"), "");
    }
}
