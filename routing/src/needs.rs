//! What a call needs from an agent ([`Needs`]), derived from the campaign's required skills, the
//! page's language and the campaign's [`Rule`]s on the web context ([`needs_for`]).
//!
//! The page language adds the preferred skill `lang:<primary subtag>` with weight
//! [`LANGUAGE_WEIGHT`] (`de-AT` → `lang:de`). A matching rule adds its skill as preferred (weight
//! 0: the rule only sets the priority) and raises the queue priority to its own if higher.
//!
//! Rules live in a campaign's configuration. In TOML:
//!
//! ```toml
//! [[rules]]
//! when = { path_prefix = "/billing" }
//! add = ["product:billing", 3]
//!
//! [[rules]]
//! when = { utm = { key = "utm_campaign", value = "spring" } }
//! add = ["product:offers", 2]
//! priority = 1            # optional, default 0; higher waits less
//!
//! [[rules]]
//! when = { language = "fr" }    # matches fr, fr-CA, fr-BE…
//! add = ["lang:fr", 3]
//!
//! [[rules]]
//! when = { visitor = "vip" }    # the value the site passed in, exactly
//! add = ["tier:gold", 1]
//! priority = 10
//! ```
//!
//! and the same in JSON: `{"when": {"path_prefix": "/billing"}, "add": ["product:billing", 3]}`.
//! Unknown keys are refused so a typo does not silently disable a rule.

use serde::{Deserialize, Serialize};

/// Weight of the `lang:xx` preference the page language adds on its own.
pub const LANGUAGE_WEIGHT: u8 = 2;

/// What a call needs: skills an agent must have, and skills that make an agent a better fit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Required: (tag, minimum level); an agent lacking one is never offered the call.
    pub skills: Vec<(String, u8)>,
    /// Scored but not required: (tag, weight), e.g. `("lang:de", 2)`.
    pub preferred: Vec<(String, u8)>,
}

/// A campaign rule: when the web context matches, prefer a skill and set the queue priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What the web context must show.
    pub when: Condition,
    /// The preferred skill added: (tag, weight); weight 0 adds none.
    pub add: (String, u8),
    /// Queue priority of a matching call (higher is served first); default 0.
    #[serde(default)]
    pub priority: i32,
}

/// A test on the web context of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The page path starts with this (case-sensitive, like paths).
    PathPrefix(String),
    /// A UTM parameter has this value (key and value ASCII case-insensitive).
    Utm {
        /// The parameter, e.g. `utm_source`.
        key: String,
        /// Its value, e.g. `newsletter`.
        value: String,
    },
    /// The page language is this tag or a subtag of it (`de` matches `de-AT`).
    Language(String),
    /// The visitor value the site passed in equals this exactly.
    Visitor(String),
}

/// The web context of a call, as the widget reported it.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebContext<'a> {
    /// Path of the page the call started from (no scheme or host).
    pub page_path: &'a str,
    /// The page's language tag, e.g. `de-AT`.
    pub language: Option<&'a str>,
    /// UTM parameters as (key, value).
    pub utm: &'a [(String, String)],
    /// The value the site passed in for this visitor.
    pub visitor: Option<&'a str>,
}

impl Condition {
    /// Whether the context matches this condition.
    pub fn matches(&self, ctx: &WebContext) -> bool {
        match self {
            Condition::PathPrefix(prefix) => ctx.page_path.starts_with(prefix.as_str()),
            Condition::Utm { key, value } => {
                // `utm_campaign` and `campaign` name the same value: the context has no prefix.
                let key = utm_key(key);
                ctx.utm.iter().any(|(k, v)| {
                    utm_key(k).eq_ignore_ascii_case(key) && v.eq_ignore_ascii_case(value)
                })
            }
            Condition::Language(tag) => ctx.language.is_some_and(|lang| language_within(lang, tag)),
            Condition::Visitor(value) => ctx.visitor == Some(value.as_str()),
        }
    }
}

/// A UTM key without its `utm_` prefix.
fn utm_key(key: &str) -> &str {
    match key.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("utm_") => key.get(4..).unwrap_or_default(),
        _ => key,
    }
}

/// The needs of a call and its queue priority (the highest of the matching rules', 0 when none).
pub fn needs_for(required: &[(String, u8)], rules: &[Rule], ctx: &WebContext) -> (Needs, i32) {
    let mut needs = Needs {
        skills: required.to_vec(),
        preferred: Vec::new(),
    };
    if let Some(primary) = ctx.language.and_then(primary_language) {
        prefer(
            &mut needs.preferred,
            &format!("lang:{primary}"),
            LANGUAGE_WEIGHT,
        );
    }
    let mut priority = None;
    for rule in rules.iter().filter(|r| r.when.matches(ctx)) {
        let (tag, weight) = &rule.add;
        if *weight > 0 {
            prefer(&mut needs.preferred, tag, *weight);
        }
        priority = Some(priority.map_or(rule.priority, |p: i32| p.max(rule.priority)));
    }
    (needs, priority.unwrap_or(0))
}

/// Adds a preferred tag, or raises the weight of the one already there (two reasons to want a
/// skill do not make it twice as important).
fn prefer(preferred: &mut Vec<(String, u8)>, tag: &str, weight: u8) {
    match preferred
        .iter_mut()
        .find(|(t, _)| t.eq_ignore_ascii_case(tag))
    {
        Some((_, w)) => *w = (*w).max(weight),
        None => preferred.push((tag.to_owned(), weight)),
    }
}

/// The lower-cased primary subtag of a language tag (`de-AT` → `de`), or `None` when it is not
/// 2–3 ASCII letters: the value comes from the browser and must not mint arbitrary tags.
fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_', ',', ';']).next()?.trim();
    let ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    ok.then(|| primary.to_ascii_lowercase())
}

/// Whether `lang` is `range` or one of its subtags (`de-AT` is within `de`), ignoring case.
fn language_within(lang: &str, range: &str) -> bool {
    let (lang, range) = (lang.trim(), range.trim());
    if range.is_empty() {
        return false;
    }
    match (lang.get(..range.len()), lang.get(range.len()..)) {
        (Some(head), Some(rest)) => {
            head.eq_ignore_ascii_case(range) && (rest.is_empty() || rest.starts_with(['-', '_']))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: Condition, tag: &str, weight: u8, priority: i32) -> Rule {
        Rule {
            when,
            add: (tag.to_owned(), weight),
            priority,
        }
    }

    fn ctx<'a>(
        path: &'a str,
        lang: Option<&'a str>,
        utm: &'a [(String, String)],
    ) -> WebContext<'a> {
        WebContext {
            page_path: path,
            language: lang,
            utm,
            visitor: None,
        }
    }

    #[test]
    fn page_language_prefers_its_primary_subtag() {
        let required = vec![("product:billing".to_owned(), 2)];
        let (needs, priority) = needs_for(&required, &[], &ctx("/", Some("de-AT"), &[]));
        assert_eq!(needs.skills, required);
        assert_eq!(
            needs.preferred,
            vec![("lang:de".to_owned(), LANGUAGE_WEIGHT)]
        );
        assert_eq!(priority, 0);
        for lang in ["DE_at", "de", " de-CH "] {
            let (n, _) = needs_for(&[], &[], &ctx("/", Some(lang), &[]));
            assert_eq!(n.preferred, vec![("lang:de".to_owned(), 2)], "{lang}");
        }
    }

    #[test]
    fn junk_languages_add_nothing() {
        for lang in ["", "x", "deutsch", "d3", "*", "<script>"] {
            let (n, _) = needs_for(&[], &[], &ctx("/", Some(lang), &[]));
            assert!(n.preferred.is_empty(), "{lang}");
        }
    }

    #[test]
    fn each_condition_matches_its_part_of_the_context() {
        let utm = vec![("utm_source".to_owned(), "Newsletter".to_owned())];
        let c = WebContext {
            page_path: "/billing/invoices",
            language: Some("fr-CA"),
            utm: &utm,
            visitor: Some("vip"),
        };
        let yes = [
            Condition::PathPrefix("/billing".into()),
            Condition::PathPrefix(String::new()),
            Condition::Utm {
                key: "UTM_SOURCE".into(),
                value: "newsletter".into(),
            },
            // The gateway's context names the keys without the prefix.
            Condition::Utm {
                key: "source".into(),
                value: "newsletter".into(),
            },
            Condition::Language("fr".into()),
            Condition::Language("FR-ca".into()),
            Condition::Visitor("vip".into()),
        ];
        let no = [
            Condition::PathPrefix("/Billing".into()),
            Condition::PathPrefix("/shop".into()),
            Condition::Utm {
                key: "utm_source".into(),
                value: "ads".into(),
            },
            Condition::Utm {
                key: "utm_medium".into(),
                value: "newsletter".into(),
            },
            Condition::Language("f".into()),
            Condition::Language("fr-FR".into()),
            Condition::Language(String::new()),
            Condition::Visitor("VIP".into()),
        ];
        for cond in &yes {
            assert!(cond.matches(&c), "{cond:?}");
        }
        for cond in &no {
            assert!(!cond.matches(&c), "{cond:?}");
        }
        let bare = WebContext::default();
        assert!(!Condition::Language("fr".into()).matches(&bare));
        assert!(!Condition::Visitor(String::new()).matches(&bare));
    }

    #[test]
    fn matching_rules_add_preferences_and_the_highest_priority() {
        let rules = [
            rule(
                Condition::PathPrefix("/billing".into()),
                "product:billing",
                3,
                1,
            ),
            rule(Condition::PathPrefix("/shop".into()), "product:shop", 3, 9),
            rule(Condition::Language("de".into()), "lang:de", 4, -1),
            rule(Condition::PathPrefix("/".into()), "ignored", 0, 5),
        ];
        let (needs, priority) = needs_for(&[], &rules, &ctx("/billing", Some("de"), &[]));
        assert_eq!(
            needs.preferred,
            vec![
                ("lang:de".to_owned(), 4), // the rule's weight beats the page language's 2
                ("product:billing".to_owned(), 3),
            ]
        );
        assert_eq!(priority, 5);
    }

    #[test]
    fn priority_is_zero_without_a_match_and_may_be_negative_with_one() {
        let rules = [rule(Condition::Visitor("bot".into()), "x", 0, -3)];
        assert_eq!(needs_for(&[], &rules, &WebContext::default()).1, 0);
        let c = WebContext {
            visitor: Some("bot"),
            ..WebContext::default()
        };
        let (needs, priority) = needs_for(&[], &rules, &c);
        assert_eq!(priority, -3);
        assert!(needs.preferred.is_empty());
    }

    #[test]
    fn the_documented_toml_and_json_shapes_parse() {
        #[derive(Deserialize)]
        struct Campaign {
            rules: Vec<Rule>,
        }
        let doc = r#"
            [[rules]]
            when = { path_prefix = "/billing" }
            add = ["product:billing", 3]

            [[rules]]
            when = { utm = { key = "utm_campaign", value = "spring" } }
            add = ["product:offers", 2]
            priority = 1

            [[rules]]
            when = { language = "fr" }
            add = ["lang:fr", 3]

            [[rules]]
            when = { visitor = "vip" }
            add = ["tier:gold", 1]
            priority = 10
        "#;
        let parsed: Campaign = toml::from_str(doc).expect("documented TOML");
        assert_eq!(parsed.rules.len(), 4);
        assert_eq!(
            parsed.rules[0],
            rule(
                Condition::PathPrefix("/billing".into()),
                "product:billing",
                3,
                0
            )
        );
        assert_eq!(
            parsed.rules[1].when,
            Condition::Utm {
                key: "utm_campaign".into(),
                value: "spring".into()
            }
        );
        assert_eq!(parsed.rules[3].priority, 10);

        let json = r#"{"when": {"path_prefix": "/billing"}, "add": ["product:billing", 3]}"#;
        let r: Rule = serde_json::from_str(json).expect("documented JSON");
        assert_eq!(r, parsed.rules[0]);
        let back = serde_json::to_string(&r).expect("serialise");
        assert_eq!(serde_json::from_str::<Rule>(&back).expect("round trip"), r);
    }

    #[test]
    fn typos_in_rules_are_refused() {
        for bad in [
            r#"{"when": {"path_prefix": "/"}, "add": ["a", 1], "priorty": 2}"#,
            r#"{"when": {"pathprefix": "/"}, "add": ["a", 1]}"#,
            r#"{"when": {"utm": {"key": "a", "valeu": "b"}}, "add": ["a", 1]}"#,
            r#"{"when": {"path_prefix": "/"}, "add": ["a", 300]}"#,
        ] {
            assert!(serde_json::from_str::<Rule>(bad).is_err(), "{bad}");
        }
    }
}
