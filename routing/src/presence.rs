//! An agent as routing sees it ([`AgentState`]): skills, capacity, the calls it carries now, and
//! the [`Presence`] derived from them at a given time.
//!
//! Presence is derived, never stored: the counts and timestamps come from the shared database,
//! and every node computing `presence(now_ms)` from the same row agrees.

use serde::{Deserialize, Serialize};

/// Concurrent calls an agent takes unless configured otherwise.
pub const DEFAULT_MAX_CALLS: u32 = 1;

/// What an agent is doing now, as shown to admins and used to explain routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// No registered device, console or phone contact: nothing to ring.
    Offline,
    /// Reachable and with at least the chance of a free line.
    Available,
    /// An offered call is ringing at the agent.
    Ringing,
    /// The agent carries at least one answered call.
    OnCall,
    /// After a call, inside the campaign's wrap-up time.
    WrapUp,
    /// Set away by the agent or an admin.
    Away,
}

impl Presence {
    /// The snake_case name used in JSON, the database and the dashboard.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Offline => "offline",
            Presence::Available => "available",
            Presence::Ringing => "ringing",
            Presence::OnCall => "on_call",
            Presence::WrapUp => "wrap_up",
            Presence::Away => "away",
        }
    }
}

/// One agent's routing-relevant state, loaded from the database for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    /// The agent's id (unique within the organisation); the final tie-break of every order.
    pub agent: String,
    /// Skills as (tag, level 1–5), e.g. `("lang:de", 5)`; tags compare ASCII case-insensitively.
    pub skills: Vec<(String, u8)>,
    /// Concurrent calls the agent may carry (ringing ones included).
    pub max_calls: u32,
    /// Set away by the agent or an admin.
    pub away: bool,
    /// Has a registered device, an open console or a phone contact.
    pub reachable: bool,
    /// Calls ringing at the agent now.
    pub ringing: u32,
    /// Answered calls the agent carries now.
    pub on_call: u32,
    /// Unix ms of the last call's end, or of becoming reachable; smaller = idle longer.
    pub idle_since_ms: i64,
    /// Unix ms until which the agent is in wrap-up (in the past when not).
    pub wrap_up_until_ms: i64,
    /// Calls answered in the current counting period (for `fewest_calls`).
    pub answered: u32,
}

impl AgentState {
    /// A reachable, idle agent with no skills and [`DEFAULT_MAX_CALLS`], idle since `now_ms`.
    pub fn new(agent: impl Into<String>, now_ms: i64) -> Self {
        AgentState {
            agent: agent.into(),
            skills: Vec::new(),
            max_calls: DEFAULT_MAX_CALLS,
            away: false,
            reachable: true,
            ringing: 0,
            on_call: 0,
            idle_since_ms: now_ms,
            wrap_up_until_ms: 0,
            answered: 0,
        }
    }

    /// The presence at `now_ms`; precedence away > offline > on_call > ringing > wrap_up > available.
    pub fn presence(&self, now_ms: i64) -> Presence {
        if self.away {
            Presence::Away
        } else if !self.reachable {
            Presence::Offline
        } else if self.on_call > 0 {
            Presence::OnCall
        } else if self.ringing > 0 {
            Presence::Ringing
        } else if self.in_wrap_up(now_ms) {
            Presence::WrapUp
        } else {
            Presence::Available
        }
    }

    /// Lines free for a new offer: 0 when unreachable, away or in wrap-up, else what is left of
    /// `max_calls` after ringing and answered calls.
    pub fn free_lines(&self, now_ms: i64) -> u32 {
        if !self.reachable || self.away || self.in_wrap_up(now_ms) {
            return 0;
        }
        self.max_calls
            .saturating_sub(self.ringing)
            .saturating_sub(self.on_call)
    }

    /// Whether `now_ms` is before the end of the wrap-up time.
    pub fn in_wrap_up(&self, now_ms: i64) -> bool {
        now_ms < self.wrap_up_until_ms
    }

    /// Whole seconds idle at `now_ms` (0 when the clock reads earlier than `idle_since_ms`).
    pub fn idle_s(&self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.idle_since_ms).max(0) / 1000
    }

    /// The agent's level in `tag` (the highest if listed twice), `None` without it.
    pub fn level(&self, tag: &str) -> Option<u8> {
        self.skills
            .iter()
            .filter(|(t, _)| t.eq_ignore_ascii_case(tag))
            .map(|&(_, level)| level)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn agent() -> AgentState {
        AgentState::new("ag_1", NOW - 60_000)
    }

    #[test]
    fn names_are_snake_case_in_serde_and_as_str() {
        for p in [
            Presence::Offline,
            Presence::Available,
            Presence::Ringing,
            Presence::OnCall,
            Presence::WrapUp,
            Presence::Away,
        ] {
            let json = serde_json::to_string(&p).expect("serialise");
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            let back: Presence = serde_json::from_str(&json).expect("parse");
            assert_eq!(back, p);
        }
        assert_eq!(Presence::OnCall.as_str(), "on_call");
        assert_eq!(Presence::WrapUp.as_str(), "wrap_up");
    }

    #[test]
    fn a_fresh_agent_is_available_with_one_line() {
        let a = agent();
        assert_eq!(a.presence(NOW), Presence::Available);
        assert_eq!(a.free_lines(NOW), 1);
        assert_eq!(a.idle_s(NOW), 60);
    }

    #[test]
    fn presence_precedence() {
        let mut a = agent();
        a.away = true;
        a.reachable = false;
        a.on_call = 1;
        a.ringing = 1;
        a.wrap_up_until_ms = NOW + 1;
        assert_eq!(a.presence(NOW), Presence::Away);
        a.away = false;
        assert_eq!(a.presence(NOW), Presence::Offline);
        a.reachable = true;
        assert_eq!(a.presence(NOW), Presence::OnCall);
        a.on_call = 0;
        assert_eq!(a.presence(NOW), Presence::Ringing);
        a.ringing = 0;
        assert_eq!(a.presence(NOW), Presence::WrapUp);
        // Wrap-up ends exactly at its deadline.
        assert_eq!(a.presence(NOW + 1), Presence::Available);
    }

    #[test]
    fn free_lines_count_ringing_and_answered_calls() {
        let mut a = agent();
        a.max_calls = 3;
        a.ringing = 1;
        a.on_call = 1;
        assert_eq!(a.free_lines(NOW), 1);
        a.on_call = 5; // more than allowed (a stale count) never underflows
        assert_eq!(a.free_lines(NOW), 0);
        a.max_calls = 0;
        a.on_call = 0;
        a.ringing = 0;
        assert_eq!(a.free_lines(NOW), 0);
    }

    #[test]
    fn away_offline_and_wrap_up_have_no_free_line() {
        let mut a = agent();
        a.max_calls = 2;
        a.away = true;
        assert_eq!(a.free_lines(NOW), 0);
        a.away = false;
        a.reachable = false;
        assert_eq!(a.free_lines(NOW), 0);
        a.reachable = true;
        a.wrap_up_until_ms = NOW + 30_000;
        assert_eq!(a.free_lines(NOW), 0);
        assert_eq!(a.free_lines(NOW + 30_000), 2);
    }

    #[test]
    fn idle_time_never_goes_negative() {
        let a = AgentState::new("ag_1", NOW + 5_000);
        assert_eq!(a.idle_s(NOW), 0);
        let old = AgentState::new("ag_1", i64::MIN);
        assert_eq!(old.idle_s(NOW), i64::MAX / 1000);
    }

    #[test]
    fn levels_match_case_insensitively_and_take_the_highest() {
        let mut a = agent();
        a.skills = vec![("lang:DE".into(), 3), ("lang:de".into(), 5)];
        assert_eq!(a.level("lang:de"), Some(5));
        assert_eq!(a.level("lang:fr"), None);
    }
}
