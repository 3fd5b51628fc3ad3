//! A campaign's routing (`[campaigns.routing]`): which agents take its calls and in what
//! order. Without it a campaign calls its `destinations`, as before agents existed.
//!
//! ```toml
//! [campaigns.routing]
//! strategy = "longest_idle"       # ring_all, round_robin, fewest_calls, skills, destinations
//! agents = ["ag_1f…", "ag_9c…"]   # the queue's agents; empty: every agent of the organisation
//! skills = ["lang:de=3"]          # required, with a minimum level 1-5
//! wrap_up_s = 10                  # after a call, before the agent's next one rings
//! queue = true                    # wait for an agent when none is free (false: refuse)
//! max_wait_s = 120                # the longest a call waits; then it ends as no_agent
//! hold_music = "/srv/hold.wav"    # what the caller hears meanwhile (a tone pattern if absent)
//! ```

use serde::{Deserialize, Serialize};

use c2c_routing::{Rule, Strategy};

/// Most agents a campaign's queue may name.
pub const MAX_QUEUE_AGENTS: usize = 1000;
/// Longest wrap-up, seconds.
const MAX_WRAP_UP_S: u32 = 3600;

/// How a campaign's calls find an agent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// How agents are picked; `destinations` (the default) calls the campaign's destinations.
    #[serde(default)]
    pub strategy: Strategy,
    /// The agents of its queue, by id; empty: every agent of the organisation.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Skills every call needs, `TAG=LEVEL` with a minimum level of 1 to 5.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Rules on the web context that prefer some skills, or raise a call's priority.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Seconds an agent stays in wrap-up after a call before the next one rings.
    #[serde(default = "default_wrap_up")]
    pub wrap_up_s: u32,
    /// With no agent free, the call waits in the queue (false: it is refused, `no_agent`).
    #[serde(default = "yes")]
    pub queue: bool,
    /// The longest a call waits in the queue, seconds; then it ends as `no_agent`.
    #[serde(default = "default_max_wait")]
    pub max_wait_s: u32,
    /// A WAV file the caller hears while waiting; a generated tone pattern when absent.
    #[serde(default)]
    pub hold_music: Option<std::path::PathBuf>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            agents: Vec::new(),
            skills: Vec::new(),
            rules: Vec::new(),
            wrap_up_s: default_wrap_up(),
            queue: true,
            max_wait_s: default_max_wait(),
            hold_music: None,
        }
    }
}

fn default_wrap_up() -> u32 {
    10
}

fn yes() -> bool {
    true
}

fn default_max_wait() -> u32 {
    120
}

/// Longest queue wait, seconds.
const MAX_WAIT_S: u32 = 3600;

impl RoutingConfig {
    /// Whether the campaign's agents take its calls (rather than its destinations).
    pub fn to_agents(&self) -> bool {
        self.strategy != Strategy::Destinations
    }

    /// The required skills, parsed (checked when the campaign was loaded).
    pub fn required_skills(&self) -> Vec<(String, u8)> {
        self.skills
            .iter()
            .filter_map(|s| parse_skill(s).ok())
            .collect()
    }

    /// Checks the section; the error names the key (under `routing.`) and the fix.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.agents.len() > MAX_QUEUE_AGENTS {
            return Err((
                "routing.agents",
                format!(
                    "name at most {MAX_QUEUE_AGENTS} agents, or none for all of the organisation's"
                ),
            ));
        }
        for skill in &self.skills {
            parse_skill(skill).map_err(|e| ("routing.skills", e))?;
        }
        if !(1..=MAX_WAIT_S).contains(&self.max_wait_s) {
            return Err((
                "routing.max_wait_s",
                format!("use 1 to {MAX_WAIT_S} seconds"),
            ));
        }
        if let Some(file) = &self.hold_music {
            if !file.is_file() {
                return Err((
                    "routing.hold_music",
                    format!("{}: no such file; give a 16-bit PCM WAV", file.display()),
                ));
            }
        }
        if let Some(file) = &self.hold_music {
            if !file.is_file() {
                return Err((
                    "routing.hold_music",
                    format!("{}: no such file; give a 16-bit PCM WAV", file.display()),
                ));
            }
        }
        if self.wrap_up_s > MAX_WRAP_UP_S {
            return Err((
                "routing.wrap_up_s",
                format!("use 0 to {MAX_WRAP_UP_S} seconds"),
            ));
        }
        Ok(())
    }
}

/// A skill written `TAG=LEVEL` (`lang:de=5`): the tag lowercased, the level 1 to 5; the
/// error says how to write it.
pub fn parse_skill(text: &str) -> Result<(String, u8), String> {
    let (tag, level) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("skill {text:?}: write TAG=LEVEL, e.g. lang:de=5"))?;
    let level: u8 = level
        .trim()
        .parse()
        .ok()
        .filter(|l| (1..=5).contains(l))
        .ok_or_else(|| format!("skill {text:?}: the level is 1 to 5"))?;
    let tag = tag.trim().to_lowercase();
    if tag.is_empty() || tag.len() > 64 || tag.chars().any(char::is_whitespace) {
        return Err(format!(
            "skill {text:?}: a tag is 1 to 64 characters without spaces"
        ));
    }
    Ok((tag, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_parse_with_a_fix_named() {
        assert_eq!(parse_skill(" Lang:DE=5"), Ok(("lang:de".into(), 5)));
        for (text, says) in [
            ("lang:de", "TAG=LEVEL"),
            ("lang:de=9", "1 to 5"),
            ("lang:de=x", "1 to 5"),
            ("=3", "1 to 64"),
            ("a b=3", "without spaces"),
        ] {
            let err = parse_skill(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn the_default_calls_the_destinations() {
        let r: RoutingConfig = toml::from_str("").expect("empty");
        assert!(!r.to_agents());
        let r: RoutingConfig =
            toml::from_str("strategy = \"longest_idle\"\nskills = [\"lang:de=3\"]").expect("ok");
        assert!(r.to_agents());
        assert_eq!(r.required_skills(), vec![("lang:de".into(), 3)]);
        assert!(r.check().is_ok());
        let bad = RoutingConfig {
            skills: vec!["lang:de".into()],
            ..r
        };
        assert_eq!(bad.check().map_err(|e| e.0), Err("routing.skills"));
    }
}
