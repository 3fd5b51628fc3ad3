//! Who a call rings: the route's destinations, or the agents routing picked (one after
//! another, or all at once for ring_all), and the claims on the agents it rings now.

use c2c_sbc::shell::{Attempt, TrunkCall};
use c2c_token::VerifiedCall;

use super::agent_side::{AgentClaim, Plan};
use super::trunk_side::place_from;
use super::Gateway;
use crate::cdr::CallRecorder;

/// Who a call rings, in order, and the agents it rings now.
pub(super) struct Callees {
    /// The agents routing picked; None: the route's destinations.
    pub(super) agents: Option<Plan>,
    /// The agents being rung or on the call (their index in the plan), claimed until
    /// dropped.
    claims: Vec<(usize, AgentClaim)>,
    /// The campaign's wrap-up after an answered call, seconds.
    wrap_up_s: u32,
}

impl Callees {
    pub(super) fn new(gw: &Gateway, v: &VerifiedCall, agents: Option<Plan>) -> Self {
        let wrap_up_s = gw
            .campaigns
            .get(v.campaign())
            .map_or(0, |c| c.config.routing.wrap_up_s);
        Callees {
            agents,
            claims: Vec::new(),
            wrap_up_s,
        }
    }

    /// How many the flow calls one after another (agents rung at once are one).
    pub(super) fn count(&self, v: &VerifiedCall) -> usize {
        match &self.agents {
            Some(plan) if plan.at_once => 1,
            Some(plan) => plan.targets.len(),
            None => v.route().destinations.len(),
        }
    }

    /// Places the call on the first callee from `attempt`'s index on that takes it (every
    /// free agent at once, for ring_all); the leg, with the attempt moved to the callee it
    /// called.
    pub(super) async fn place_from(
        &mut self,
        gw: &Gateway,
        v: &VerifiedCall,
        attempt: &mut Attempt,
        cdr: &CallRecorder,
    ) -> Result<TrunkCall, String> {
        let Some(plan) = &self.agents else {
            return place_from(gw, v, attempt, cdr).await;
        };
        // The agents rung before are free again (or keep their call, if one answered).
        self.claims.clear();
        if plan.at_once {
            let mut claims = Vec::new();
            for (i, target) in plan.targets.iter().enumerate() {
                match AgentClaim::take(gw, target, cdr.id(), self.wrap_up_s).await? {
                    Some(claim) => {
                        cdr.event("route", &format!("agent {}: {}", target.name, target.why));
                        claims.push((i, claim));
                    }
                    None => cdr.event(
                        "route",
                        &format!("agent {} is busy now: skipped", target.name),
                    ),
                }
            }
            let devices: Vec<_> = claims
                .iter()
                .filter_map(|(i, _)| plan.targets.get(*i).map(|t| t.device.clone()))
                .collect();
            if devices.is_empty() {
                return Err("no agent could take the call".into());
            }
            cdr.attempt(1, 1, &format!("ring_all:{}", devices.len()));
            let leg = gw
                .sbc
                .ring_devices(v, &devices, &attempt.context, &attempt.sdp_offer)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(session = %v.session(), agents = devices.len(), call_id = %leg.call_id(), "agents rung at once");
            cdr.placed(leg.call_id());
            self.claims = claims;
            return Ok(leg);
        }
        let mut last_error = String::from("no agent could take the call");
        for (i, target) in plan.targets.iter().enumerate().skip(attempt.destination) {
            attempt.destination = i;
            let Some(claim) = AgentClaim::take(gw, target, cdr.id(), self.wrap_up_s).await? else {
                cdr.event(
                    "route",
                    &format!("agent {} is busy now: skipped", target.name),
                );
                continue;
            };
            cdr.attempt(
                i + 1,
                plan.targets.len(),
                &format!("agent:{}", target.agent),
            );
            cdr.event("route", &format!("agent {}: {}", target.name, target.why));
            match gw
                .sbc
                .place_agent_call(v, &target.device, &attempt.context, &attempt.sdp_offer)
                .await
            {
                Ok(leg) => {
                    tracing::info!(session = %v.session(), agent = %target.agent, call_id = %leg.call_id(), "agent rung");
                    cdr.placed(leg.call_id());
                    self.claims = vec![(i, claim)];
                    return Ok(leg);
                }
                Err(e) => {
                    tracing::warn!(session = %v.session(), agent = %target.agent, error = %e, "agent could not be called");
                    cdr.event("error", &e.to_string());
                    last_error = e.to_string();
                }
            }
        }
        Err(last_error)
    }

    /// Callee `destination` answered (for agents rung at once, the index among those rung):
    /// that agent is on the call, the others rung with it are free again.
    pub(super) fn connected(&mut self, destination: usize, cdr: &CallRecorder) {
        let Some(plan) = &self.agents else {
            return;
        };
        let answered = match plan.at_once {
            true => self.claims.get(destination).map(|(i, _)| *i),
            false => Some(destination),
        };
        let Some(answered) = answered else {
            return;
        };
        if let Some(target) = plan.targets.get(answered) {
            if plan.at_once {
                cdr.destination(&format!("agent:{}", target.agent));
            }
            cdr.event("route", &format!("agent {} answered", target.name));
        }
        self.claims.retain(|(i, _)| *i == answered);
        for (_, claim) in &mut self.claims {
            claim.answered();
        }
    }
}
