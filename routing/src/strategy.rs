//! Ring strategies ([`Strategy`]) and the [`Router`] that turns free agents into a [`RingPlan`]:
//! who is rung, in what order, and why (each [`Pick`] carries a reason for the admin).
//!
//! Only agents with a free line and every required skill at its minimum level are in a plan
//! ([`crate::score::eligible`]). Every order ends with the agent id, then the index, as
//! tie-breaks, so the same input always gives the same plan.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::needs::Needs;
use crate::presence::AgentState;
use crate::score;

/// How a campaign's queue offers a call to its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The campaign's fixed destination list; routing is not involved.
    #[default]
    Destinations,
    /// Every free agent at once; the first to answer takes the call.
    RingAll,
    /// One after another by agent id, starting after the agent this queue handed out last.
    RoundRobin,
    /// The agent idle longest first.
    LongestIdle,
    /// The agent with the fewest answered calls first, ties idle longest.
    FewestCalls,
    /// The best skills score first, ties idle longest.
    Skills,
}

impl Strategy {
    /// Every strategy, in declaration order.
    pub const ALL: [Strategy; 6] = [
        Strategy::Destinations,
        Strategy::RingAll,
        Strategy::RoundRobin,
        Strategy::LongestIdle,
        Strategy::FewestCalls,
        Strategy::Skills,
    ];

    /// The snake_case name used in configuration and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Destinations => "destinations",
            Strategy::RingAll => "ring_all",
            Strategy::RoundRobin => "round_robin",
            Strategy::LongestIdle => "longest_idle",
            Strategy::FewestCalls => "fewest_calls",
            Strategy::Skills => "skills",
        }
    }

    /// The strategy named `name` (as [`Strategy::as_str`] spells it), `None` for anything else.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One agent in a plan: its index in the `agents` slice and why it was picked there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// Index into the `agents` slice given to [`Router::ring_order`].
    pub index: usize,
    /// Why, for the admin: "idle 312 s", "score 13 (lang:de 5×2, product:billing 3×1), idle 4 s".
    pub why: String,
}

/// Whom to ring for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingPlan {
    /// Ring one after another (each for the ring timeout), in this order.
    Sequential(Vec<Pick>),
    /// Ring all of these at once (`ring_all`).
    Simultaneous(Vec<Pick>),
    /// The campaign uses its fixed destinations (`destinations`).
    NotRouted,
}

impl RingPlan {
    /// The picked agents in order; empty for `NotRouted` and when nobody is free.
    pub fn picks(&self) -> &[Pick] {
        match self {
            RingPlan::Sequential(p) | RingPlan::Simultaneous(p) => p,
            RingPlan::NotRouted => &[],
        }
    }

    /// The picked agents' indices in order.
    pub fn indices(&self) -> Vec<usize> {
        self.picks().iter().map(|p| p.index).collect()
    }
}

/// The routing decision maker; holds the round-robin cursor of each queue.
///
/// The cursor is the id of the agent a queue handed out last. It is this node's memory only;
/// a shell that wants every node to share it stores [`Router::cursor`] and restores it with
/// [`Router::set_cursor`].
#[derive(Debug, Clone, Default)]
pub struct Router {
    cursor: HashMap<String, String>,
}

impl Router {
    /// A router with no round-robin memory.
    pub fn new() -> Self {
        Router::default()
    }

    /// The plan for one call of `queue` at `now_ms`.
    ///
    /// `round_robin` moves the queue's cursor to the first agent of the plan; when a later one
    /// of the plan is the one that took the call, [`Router::set_cursor`] records that instead.
    pub fn ring_order(
        &mut self,
        queue: &str,
        strategy: Strategy,
        agents: &[AgentState],
        needs: &Needs,
        now_ms: i64,
    ) -> RingPlan {
        if strategy == Strategy::Destinations {
            return RingPlan::NotRouted;
        }
        let mut free: Vec<(usize, &AgentState)> = agents
            .iter()
            .enumerate()
            .filter(|(_, a)| score::eligible(a, needs, now_ms))
            .collect();
        // An agent who never had a call has no idle time to tell (it counts as longest).
        let idle = |a: &AgentState| match a.idle_since_ms {
            0 => "no call yet".to_owned(),
            _ => format!("idle {} s", a.idle_s(now_ms)),
        };
        match strategy {
            Strategy::Destinations => RingPlan::NotRouted,
            Strategy::RingAll => {
                free.sort_by(longest_idle);
                RingPlan::Simultaneous(picks(&free, |_, a| format!("free, {}", idle(a))))
            }
            Strategy::LongestIdle => {
                free.sort_by(longest_idle);
                RingPlan::Sequential(picks(&free, |_, a| idle(a)))
            }
            Strategy::FewestCalls => {
                free.sort_by(|x, y| {
                    x.1.answered
                        .cmp(&y.1.answered)
                        .then_with(|| longest_idle(x, y))
                });
                RingPlan::Sequential(picks(&free, |_, a| {
                    format!("{} answered, {}", a.answered, idle(a))
                }))
            }
            Strategy::Skills => {
                let mut scored: Vec<(u32, (usize, &AgentState))> = free
                    .into_iter()
                    .map(|entry| (score::score(entry.1, needs), entry))
                    .collect();
                scored.sort_by(|(sx, x), (sy, y)| sy.cmp(sx).then_with(|| longest_idle(x, y)));
                let ordered: Vec<(usize, &AgentState)> =
                    scored.into_iter().map(|(_, e)| e).collect();
                RingPlan::Sequential(picks(&ordered, |_, a| {
                    format!("{}, {}", score::score_why(a, needs), idle(a))
                }))
            }
            Strategy::RoundRobin => {
                free.sort_by(by_id);
                let last = self.cursor.get(queue).cloned();
                if let Some(last) = &last {
                    let start = free.partition_point(|(_, a)| a.agent.as_str() <= last.as_str());
                    free.rotate_left(start);
                }
                let after = match &last {
                    Some(last) => format!("after {last}"),
                    None => "no previous pick".to_owned(),
                };
                let plan = picks(&free, |turn, _| format!("round robin turn {turn}, {after}"));
                if let Some((_, first)) = free.first() {
                    self.set_cursor(queue, &first.agent);
                }
                RingPlan::Sequential(plan)
            }
        }
    }

    /// The agent `queue` handed out last, if any.
    pub fn cursor(&self, queue: &str) -> Option<&str> {
        self.cursor.get(queue).map(String::as_str)
    }

    /// Records `agent` as the one `queue` handed out last; round robin starts after it next.
    pub fn set_cursor(&mut self, queue: &str, agent: &str) {
        match self.cursor.get_mut(queue) {
            Some(last) => agent.clone_into(last),
            None => {
                self.cursor.insert(queue.to_owned(), agent.to_owned());
            }
        }
    }

    /// Drops the memory of `queue` (its campaign was deleted).
    pub fn forget(&mut self, queue: &str) {
        self.cursor.remove(queue);
    }
}

/// Agent id, then index: the last tie-break of every order.
fn by_id(x: &(usize, &AgentState), y: &(usize, &AgentState)) -> Ordering {
    x.1.agent.cmp(&y.1.agent).then(x.0.cmp(&y.0))
}

/// Idle longest (smallest `idle_since_ms`) first, then [`by_id`].
fn longest_idle(x: &(usize, &AgentState), y: &(usize, &AgentState)) -> Ordering {
    x.1.idle_since_ms
        .cmp(&y.1.idle_since_ms)
        .then_with(|| by_id(x, y))
}

/// Picks in the given order; `why` gets the 1-based turn and the agent.
fn picks(
    ordered: &[(usize, &AgentState)],
    why: impl Fn(usize, &AgentState) -> String,
) -> Vec<Pick> {
    ordered
        .iter()
        .enumerate()
        .map(|(turn, &(index, agent))| Pick {
            index,
            why: why(turn + 1, agent),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const Q: &str = "cmp_support";

    /// An available agent idle for `idle_s` seconds.
    fn agent(id: &str, idle_s: i64) -> AgentState {
        AgentState::new(id, NOW - idle_s * 1000)
    }

    fn with_skills(mut a: AgentState, skills: &[(&str, u8)]) -> AgentState {
        a.skills = skills.iter().map(|&(t, l)| (t.to_owned(), l)).collect();
        a
    }

    fn ids(plan: &RingPlan, agents: &[AgentState]) -> Vec<String> {
        plan.indices()
            .into_iter()
            .map(|i| agents[i].agent.clone())
            .collect()
    }

    fn order(strategy: Strategy, agents: &[AgentState], needs: &Needs) -> Vec<String> {
        let plan = Router::new().ring_order(Q, strategy, agents, needs, NOW);
        ids(&plan, agents)
    }

    fn routed() -> impl Iterator<Item = Strategy> {
        Strategy::ALL
            .into_iter()
            .filter(|s| *s != Strategy::Destinations)
    }

    #[test]
    fn names_default_and_serde() {
        assert_eq!(Strategy::default(), Strategy::Destinations);
        for s in Strategy::ALL {
            assert_eq!(Strategy::from_name(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).expect("serialise");
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Strategy>(&json).expect("parse"), s);
        }
        assert_eq!(Strategy::from_name("RingAll"), None);
        assert!(serde_json::from_str::<Strategy>("\"random\"").is_err());
    }

    #[test]
    fn destinations_is_not_routed() {
        let agents = [agent("a", 10)];
        let plan =
            Router::new().ring_order(Q, Strategy::Destinations, &agents, &Needs::default(), NOW);
        assert_eq!(plan, RingPlan::NotRouted);
        assert!(plan.picks().is_empty());
    }

    #[test]
    fn busy_away_offline_and_wrapping_up_agents_are_never_in_a_plan() {
        let mut away = agent("away", 900);
        away.away = true;
        let mut offline = agent("offline", 900);
        offline.reachable = false;
        let mut wrap = agent("wrap", 900);
        wrap.wrap_up_until_ms = NOW + 10_000;
        let mut on_call = agent("on_call", 900);
        on_call.on_call = 1;
        let mut ringing = agent("ringing", 900);
        ringing.ringing = 1;
        let mut second_line = agent("second_line", 5);
        second_line.max_calls = 2;
        second_line.on_call = 1;
        let agents = [
            away,
            offline,
            wrap,
            on_call,
            ringing,
            agent("free", 1),
            second_line,
        ];
        for s in routed() {
            let mut got = order(s, &agents, &Needs::default());
            got.sort();
            assert_eq!(got, ["free", "second_line"], "{}", s.as_str());
        }
    }

    #[test]
    fn required_skills_filter_every_strategy() {
        let agents = [
            with_skills(agent("junior", 50), &[("product:billing", 2)]),
            with_skills(agent("senior", 10), &[("product:billing", 4)]),
            with_skills(agent("linguist", 99), &[("lang:de", 5)]),
            with_skills(agent("both", 5), &[("product:billing", 3), ("lang:de", 1)]),
        ];
        let needs = Needs {
            skills: vec![("product:billing".into(), 3)],
            preferred: Vec::new(),
        };
        for s in routed() {
            let mut got = order(s, &agents, &needs);
            got.sort();
            assert_eq!(got, ["both", "senior"], "{}", s.as_str());
        }
    }

    #[test]
    fn nobody_free_gives_an_empty_plan() {
        let mut a = agent("a", 1);
        a.away = true;
        let mut router = Router::new();
        for s in routed() {
            let plan = router.ring_order(Q, s, std::slice::from_ref(&a), &Needs::default(), NOW);
            assert!(plan.picks().is_empty(), "{}", s.as_str());
            assert_ne!(plan, RingPlan::NotRouted);
        }
        assert_eq!(router.cursor(Q), None);
    }

    #[test]
    fn ring_all_rings_everyone_at_once() {
        let agents = [agent("b", 10), agent("a", 300), agent("c", 10)];
        let plan = Router::new().ring_order(Q, Strategy::RingAll, &agents, &Needs::default(), NOW);
        let RingPlan::Simultaneous(picks) = &plan else {
            panic!("ring_all is simultaneous: {plan:?}");
        };
        assert_eq!(ids(&plan, &agents), ["a", "b", "c"]);
        assert_eq!(picks[0].why, "free, idle 300 s");
    }

    #[test]
    fn longest_idle_first_ties_by_id() {
        let agents = [
            agent("c", 10),
            agent("b", 10),
            agent("a", 5),
            agent("d", 400),
        ];
        let plan =
            Router::new().ring_order(Q, Strategy::LongestIdle, &agents, &Needs::default(), NOW);
        assert!(matches!(plan, RingPlan::Sequential(_)));
        assert_eq!(ids(&plan, &agents), ["d", "b", "c", "a"]);
        assert_eq!(plan.picks()[0].why, "idle 400 s");
        let mut fresh = agent("e", 0);
        fresh.idle_since_ms = 0;
        let agents = [agent("d", 400), fresh];
        let plan =
            Router::new().ring_order(Q, Strategy::LongestIdle, &agents, &Needs::default(), NOW);
        assert_eq!(
            ids(&plan, &agents),
            ["e", "d"],
            "never called counts as longest idle"
        );
        assert_eq!(plan.picks()[0].why, "no call yet");
    }

    #[test]
    fn fewest_calls_first_ties_longest_idle_then_id() {
        let mut agents = [
            agent("a", 10),
            agent("b", 20),
            agent("c", 20),
            agent("d", 99),
        ];
        for (a, n) in agents.iter_mut().zip([1, 1, 1, 4]) {
            a.answered = n;
        }
        let plan =
            Router::new().ring_order(Q, Strategy::FewestCalls, &agents, &Needs::default(), NOW);
        assert_eq!(ids(&plan, &agents), ["b", "c", "a", "d"]);
        assert_eq!(plan.picks()[0].why, "1 answered, idle 20 s");
    }

    #[test]
    fn skills_highest_score_first_ties_longest_idle_then_id() {
        let agents = [
            with_skills(agent("de_low", 500), &[("lang:de", 2)]),
            with_skills(
                agent("de_high", 10),
                &[("lang:de", 5), ("product:billing", 3)],
            ),
            with_skills(agent("none", 900), &[]),
            with_skills(agent("tie_b", 30), &[("lang:de", 4)]),
            with_skills(agent("tie_a", 30), &[("lang:de", 4)]),
            with_skills(agent("tie_idle", 60), &[("lang:de", 4)]),
        ];
        let needs = Needs {
            skills: vec![("product:billing".into(), 0)],
            preferred: vec![("lang:de".into(), 2)],
        };
        // product:billing at level 0 is still required: "none" and the tie group lack the tag.
        assert_eq!(order(Strategy::Skills, &agents, &needs), ["de_high"]);

        let needs = Needs {
            skills: Vec::new(),
            preferred: vec![("lang:de".into(), 2), ("product:billing".into(), 1)],
        };
        let plan = Router::new().ring_order(Q, Strategy::Skills, &agents, &needs, NOW);
        assert_eq!(
            ids(&plan, &agents),
            ["de_high", "tie_idle", "tie_a", "tie_b", "de_low", "none"]
        );
        assert_eq!(
            plan.picks()[0].why,
            "score 13 (lang:de 5×2, product:billing 3×1), idle 10 s"
        );
        assert_eq!(plan.picks()[5].why, "score 0, idle 900 s");
    }

    #[test]
    fn skills_without_needs_is_longest_idle() {
        let agents = [agent("a", 1), agent("b", 30), agent("c", 7)];
        assert_eq!(
            order(Strategy::Skills, &agents, &Needs::default()),
            order(Strategy::LongestIdle, &agents, &Needs::default())
        );
    }

    #[test]
    fn plans_are_deterministic() {
        let agents: Vec<AgentState> = (0..20)
            .map(|n| {
                let mut a = agent(&format!("ag_{:02}", (n * 7) % 20), n % 3);
                a.answered = (n % 4) as u32;
                with_skills(a, &[("lang:de", (n % 5 + 1) as u8)])
            })
            .collect();
        let needs = Needs {
            skills: Vec::new(),
            preferred: vec![("lang:de".into(), 2)],
        };
        for s in routed() {
            let first = Router::new().ring_order(Q, s, &agents, &needs, NOW);
            let again = Router::new().ring_order(Q, s, &agents, &needs, NOW);
            assert_eq!(first, again, "{}", s.as_str());
        }
    }

    #[test]
    fn round_robin_rotates_across_calls() {
        let agents = [agent("c", 1), agent("a", 1), agent("b", 1)];
        let mut router = Router::new();
        let mut next = || {
            let plan = router.ring_order(Q, Strategy::RoundRobin, &agents, &Needs::default(), NOW);
            ids(&plan, &agents)
        };
        assert_eq!(next(), ["a", "b", "c"]);
        assert_eq!(next(), ["b", "c", "a"]);
        assert_eq!(next(), ["c", "a", "b"]);
        assert_eq!(next(), ["a", "b", "c"]);
        assert_eq!(router.cursor(Q), Some("a"));
    }

    #[test]
    fn round_robin_explains_the_turn() {
        let agents = [agent("a", 1), agent("b", 1)];
        let mut router = Router::new();
        let first = router.ring_order(Q, Strategy::RoundRobin, &agents, &Needs::default(), NOW);
        assert_eq!(first.picks()[0].why, "round robin turn 1, no previous pick");
        let second = router.ring_order(Q, Strategy::RoundRobin, &agents, &Needs::default(), NOW);
        assert_eq!(second.picks()[1].why, "round robin turn 2, after a");
    }

    #[test]
    fn round_robin_survives_agents_coming_and_going() {
        let mut router = Router::new();
        let mut rr = |agents: &[AgentState]| {
            let plan = router.ring_order(Q, Strategy::RoundRobin, agents, &Needs::default(), NOW);
            ids(&plan, agents)
        };
        let abcd = [agent("a", 1), agent("b", 1), agent("c", 1), agent("d", 1)];
        assert_eq!(rr(&abcd), ["a", "b", "c", "d"]);
        assert_eq!(rr(&abcd), ["b", "c", "d", "a"]);
        // b (the cursor) goes on a call and c goes away: the turn passes to the next id after b.
        let mut gone = abcd.clone();
        gone[1].on_call = 1;
        gone[2].away = true;
        assert_eq!(rr(&gone), ["d", "a"]);
        // A newcomer whose id sorts right after the cursor is next in turn.
        let mut joined = abcd.to_vec();
        joined.push(agent("da", 1));
        assert_eq!(rr(&joined), ["da", "a", "b", "c", "d"]);
        // The cursor past every id wraps to the start.
        assert_eq!(rr(&abcd[..2]), ["a", "b"]);
    }

    #[test]
    fn round_robin_keeps_one_cursor_per_queue() {
        let agents = [agent("a", 1), agent("b", 1)];
        let mut router = Router::new();
        let none = Needs::default();
        router.ring_order("q1", Strategy::RoundRobin, &agents, &none, NOW);
        let q2 = router.ring_order("q2", Strategy::RoundRobin, &agents, &none, NOW);
        assert_eq!(ids(&q2, &agents), ["a", "b"]);
        let q1 = router.ring_order("q1", Strategy::RoundRobin, &agents, &none, NOW);
        assert_eq!(ids(&q1, &agents), ["b", "a"]);
        // Other strategies leave the cursor alone.
        router.ring_order("q1", Strategy::LongestIdle, &agents, &none, NOW);
        assert_eq!(router.cursor("q1"), Some("b"));
        router.forget("q1");
        assert_eq!(router.cursor("q1"), None);
    }

    #[test]
    fn set_cursor_records_who_really_took_the_call() {
        let agents = [agent("a", 1), agent("b", 1), agent("c", 1)];
        let mut router = Router::new();
        router.ring_order(Q, Strategy::RoundRobin, &agents, &Needs::default(), NOW);
        // a did not answer, b did: the next call starts after b.
        router.set_cursor(Q, "b");
        let plan = router.ring_order(Q, Strategy::RoundRobin, &agents, &Needs::default(), NOW);
        assert_eq!(ids(&plan, &agents), ["c", "a", "b"]);
    }
}
