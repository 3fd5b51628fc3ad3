//! What an agent offers against what a call [`Needs`]: eligibility (a free line and every
//! required skill at its minimum level), the skills score, and why an agent was left out.
//!
//! Score = Σ over required and preferred entries the agent has of `level × weight`, where a
//! required skill weighs [`REQUIRED_WEIGHT`] and a preferred one its own weight. It is monotone:
//! a higher level or one more matching skill never lowers it. Each entry of `needs` counts once
//! (`needs_for` already merged duplicate preferred tags).

use crate::needs::Needs;
use crate::presence::AgentState;

/// Weight of a required skill in the score: meeting the minimum is the gate, a higher level
/// still counts a little.
pub const REQUIRED_WEIGHT: u8 = 1;

/// Whether `agent` may be offered a call with these needs now.
pub fn eligible(agent: &AgentState, needs: &Needs, now_ms: i64) -> bool {
    agent.free_lines(now_ms) > 0 && meets_required(agent, needs)
}

/// Whether `agent` has every required skill at least at its minimum level.
pub fn meets_required(agent: &AgentState, needs: &Needs) -> bool {
    needs
        .skills
        .iter()
        .all(|(tag, min)| agent.level(tag).is_some_and(|level| level >= *min))
}

/// The skills score of `agent` for `needs` (see the module docs).
pub fn score(agent: &AgentState, needs: &Needs) -> u32 {
    parts(agent, needs).fold(0u32, |sum, (_, level, weight)| {
        sum.saturating_add(u32::from(level) * u32::from(weight))
    })
}

/// "score 13 (product:billing 3×1, lang:de 5×2)": the score and the entries that made it.
pub fn score_why(agent: &AgentState, needs: &Needs) -> String {
    let listed: Vec<String> = parts(agent, needs)
        .map(|(tag, level, weight)| format!("{tag} {level}×{weight}"))
        .collect();
    let total = score(agent, needs);
    if listed.is_empty() {
        format!("score {total}")
    } else {
        format!("score {total} ({})", listed.join(", "))
    }
}

/// Why `agent` is not in a plan for `needs` at `now_ms`, e.g. "away" or "lacks product:billing ≥ 3";
/// `None` when it is eligible.
pub fn explain_skip(agent: &AgentState, needs: &Needs, now_ms: i64) -> Option<String> {
    if agent.away {
        return Some("away".into());
    }
    if !agent.reachable {
        return Some("offline (no reachable contact)".into());
    }
    if agent.in_wrap_up(now_ms) {
        let left_s = agent
            .wrap_up_until_ms
            .saturating_sub(now_ms)
            .saturating_add(999)
            / 1000;
        return Some(format!("in wrap-up for {left_s} s more"));
    }
    if agent.free_lines(now_ms) == 0 {
        return Some(format!(
            "no free line ({} ringing, {} on call, max {})",
            agent.ringing, agent.on_call, agent.max_calls
        ));
    }
    for (tag, min) in &needs.skills {
        match agent.level(tag) {
            None => return Some(format!("lacks {tag}")),
            Some(level) if level < *min => {
                return Some(format!("{tag} level {level} below {min}"));
            }
            Some(_) => {}
        }
    }
    None
}

/// The (tag, agent level, weight) of every needs entry the agent has.
fn parts<'a>(
    agent: &'a AgentState,
    needs: &'a Needs,
) -> impl Iterator<Item = (&'a str, u8, u8)> + 'a {
    let required = needs.skills.iter().map(|(t, _)| (t, REQUIRED_WEIGHT));
    let preferred = needs.preferred.iter().map(|(t, w)| (t, *w));
    required
        .chain(preferred)
        .filter_map(|(tag, weight)| agent.level(tag).map(|level| (tag.as_str(), level, weight)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn skilled(skills: &[(&str, u8)]) -> AgentState {
        let mut a = AgentState::new("ag_1", NOW);
        a.skills = skills.iter().map(|&(t, l)| (t.to_owned(), l)).collect();
        a
    }

    fn needs(skills: &[(&str, u8)], preferred: &[(&str, u8)]) -> Needs {
        let own = |v: &[(&str, u8)]| v.iter().map(|&(t, l)| (t.to_owned(), l)).collect();
        Needs {
            skills: own(skills),
            preferred: own(preferred),
        }
    }

    #[test]
    fn required_skills_gate_at_their_minimum_level() {
        let n = needs(&[("product:billing", 3)], &[]);
        assert!(meets_required(&skilled(&[("product:billing", 3)]), &n));
        assert!(meets_required(&skilled(&[("PRODUCT:Billing", 5)]), &n));
        assert!(!meets_required(&skilled(&[("product:billing", 2)]), &n));
        assert!(!meets_required(&skilled(&[("lang:de", 5)]), &n));
        assert!(meets_required(&skilled(&[]), &Needs::default()));
    }

    #[test]
    fn score_sums_level_times_weight_and_explains_itself() {
        let a = skilled(&[("product:billing", 3), ("lang:de", 5), ("lang:fr", 4)]);
        let n = needs(&[("product:billing", 2)], &[("lang:de", 2), ("lang:it", 3)]);
        assert_eq!(score(&a, &n), 3 + 10);
        assert_eq!(
            score_why(&a, &n),
            "score 13 (product:billing 3×1, lang:de 5×2)"
        );
        assert_eq!(score_why(&skilled(&[]), &n), "score 0");
    }

    #[test]
    fn score_is_monotone_in_level() {
        let n = needs(&[], &[("lang:de", 2)]);
        let mut last = 0;
        for level in 1..=5 {
            let s = score(&skilled(&[("lang:de", level)]), &n);
            assert!(s > last);
            last = s;
        }
    }

    #[test]
    fn skips_say_why() {
        let n = needs(&[("product:billing", 3)], &[]);
        let mut a = skilled(&[("product:billing", 2)]);
        assert_eq!(
            explain_skip(&a, &n, NOW).as_deref(),
            Some("product:billing level 2 below 3")
        );
        a.skills.clear();
        assert_eq!(
            explain_skip(&a, &n, NOW).as_deref(),
            Some("lacks product:billing")
        );
        a.skills.push(("product:billing".into(), 4));
        assert_eq!(explain_skip(&a, &n, NOW), None);
        a.wrap_up_until_ms = NOW + 1_500;
        assert_eq!(
            explain_skip(&a, &n, NOW).as_deref(),
            Some("in wrap-up for 2 s more")
        );
        a.wrap_up_until_ms = 0;
        a.on_call = 1;
        assert_eq!(
            explain_skip(&a, &n, NOW).as_deref(),
            Some("no free line (0 ringing, 1 on call, max 1)")
        );
        a.reachable = false;
        assert!(explain_skip(&a, &n, NOW).is_some_and(|s| s.starts_with("offline")));
        a.away = true;
        assert_eq!(explain_skip(&a, &n, NOW).as_deref(), Some("away"));
    }
}
