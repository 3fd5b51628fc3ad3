//! Agents without I/O: the checks of what admins type (SIP username, skills), the SIP
//! password and its stored HA1 values, the registrar facts the dashboard shows, and the
//! router's view of an agent's live state. Shared by the dashboard, the CLI and the call path.

use c2c_routing::AgentState;
use c2c_sbc::digest::{self, Algorithm};
use c2c_store::{AgentLive, AgentRegistration, SipAccount};

/// Most characters of a SIP username.
pub const MAX_SIP_USERNAME: usize = 64;

/// Most skill lines one agent has.
pub const MAX_SKILLS: usize = 50;

/// Characters of a generated SIP password.
const PASSWORD_LEN: usize = 20;

/// Checks a SIP username: 1 to [`MAX_SIP_USERNAME`] ASCII letters, digits, `.`, `-` or `_`;
/// the error names the field and the fix.
pub fn check_sip_username(username: &str) -> Result<(), String> {
    let ok = !username.is_empty()
        && username.len() <= MAX_SIP_USERNAME
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "username {username:?}: use 1 to {MAX_SIP_USERNAME} letters, digits, '.', '-' or '_'"
        ))
    }
}

/// Skills written one `TAG=LEVEL` per line (blank lines skipped): tags lowercased, levels 1
/// to 5, each tag once. The error names the line and the fix, e.g. `skills: line 2
/// "lang:de": write TAG=LEVEL, e.g. lang:de=5`.
pub fn parse_skill_lines(text: &str) -> Result<Vec<(String, u8)>, String> {
    let mut out: Vec<(String, u8)> = Vec::new();
    let mut lines_of: Vec<usize> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        let (tag, level) = crate::parse_skill(line).map_err(|e| {
            // parse_skill says `skill "TEXT": FIX`; keep the fix, name the line instead.
            let fix = e
                .strip_prefix(&format!("skill {line:?}: "))
                .unwrap_or(&e)
                .to_owned();
            format!("skills: line {n} {line:?}: {fix}")
        })?;
        if let Some(at) = out.iter().position(|(t, _)| *t == tag) {
            let first = lines_of[at];
            return Err(format!(
                "skills: line {n} {line:?}: {tag} is on line {first} already; keep one"
            ));
        }
        if out.len() == MAX_SKILLS {
            return Err(format!(
                "skills: line {n}: keep to {MAX_SKILLS} skills per agent"
            ));
        }
        out.push((tag, level));
        lines_of.push(n);
    }
    Ok(out)
}

/// A fresh SIP password: 20 characters of letters and digits without look-alikes (about 116
/// bits), shown once and stored only as HA1.
pub fn new_sip_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..PASSWORD_LEN)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

/// The account to store for `username` with `password` in `realm`: both HA1 values, never
/// the password.
pub fn sip_account(username: &str, realm: &str, password: &str) -> SipAccount {
    SipAccount {
        username: username.to_owned(),
        realm: realm.to_owned(),
        ha1_md5: digest::ha1(Algorithm::Md5, username, realm, password),
        ha1_sha256: digest::ha1(Algorithm::Sha256, username, realm, password),
    }
}

/// What the dashboard tells about the registrar agents' phones register with (filled from
/// `[registrar]` and `[sip]` by the app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarInfo {
    /// `[registrar] realm`: new passwords are hashed for it.
    pub realm: String,
    /// The SIP port phones send REGISTER to (`[sip] listen`).
    pub sip_port: u16,
    /// Whether the registrar takes registrations (`[registrar] networks` set).
    pub enabled: bool,
}

impl Default for RegistrarInfo {
    /// The defaults of `[registrar]` and `[sip]`, registrar off.
    fn default() -> Self {
        RegistrarInfo {
            realm: "c2c".into(),
            sip_port: 5060,
            enabled: false,
        }
    }
}

/// Whether the router can ring this device: registered over UDP or TCP from an `ip:port`.
pub fn ringable(r: &AgentRegistration) -> bool {
    device(r).is_some()
}

/// The device a registration rings: its Contact, at its source, over UDP or TCP; None for
/// a row no call can use.
pub fn device(r: &AgentRegistration) -> Option<c2c_sbc::shell::AgentDevice> {
    let transport = match r.transport.as_str() {
        "udp" => c2c_sbc::trunk::Transport::Udp,
        "tcp" => c2c_sbc::trunk::Transport::Tcp,
        _ => return None,
    };
    Some(c2c_sbc::shell::AgentDevice {
        username: r.username.clone(),
        contact: r.contact.clone(),
        source: r.source.parse().ok()?,
        transport,
    })
}

/// The router's view of an agent's live state; reachable when at least one registered
/// device is [`ringable`] (phone and console contacts are not rung yet).
pub fn agent_state(a: &AgentLive) -> AgentState {
    AgentState {
        agent: a.agent.id.clone(),
        skills: a
            .agent
            .skills
            .iter()
            .map(|(tag, level)| (tag.clone(), u8::try_from(*level).unwrap_or(0)))
            .collect(),
        max_calls: u32::try_from(a.agent.max_calls).unwrap_or(1),
        away: a.agent.away,
        reachable: a.registrations.iter().any(ringable),
        ringing: a.ringing,
        on_call: a.on_call,
        idle_since_ms: a.idle_since_ms,
        wrap_up_until_ms: a.wrap_up_until_ms,
        answered: a.answered_today,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use c2c_routing::Presence;
    use c2c_store::Agent;

    #[test]
    fn usernames_are_checked_with_the_fix_named() {
        for ok in ["alice", "a.b-c_d", "A1", &"x".repeat(MAX_SIP_USERNAME)] {
            assert!(check_sip_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "al ice",
            "al\u{e9}",
            "a@b",
            "<b>",
            &"x".repeat(MAX_SIP_USERNAME + 1),
        ] {
            let err = check_sip_username(bad).expect_err(bad);
            assert!(err.starts_with("username"), "{err}");
            assert!(err.contains("letters, digits, '.', '-' or '_'"), "{err}");
        }
    }

    #[test]
    fn skill_lines_name_the_line_and_the_fix() {
        assert_eq!(
            parse_skill_lines("Lang:DE=5\n\n  product:billing = 2 \r\n"),
            Ok(vec![("lang:de".into(), 5), ("product:billing".into(), 2)])
        );
        assert_eq!(parse_skill_lines("  \n"), Ok(vec![]));
        for (text, says) in [
            (
                "lang:en=3\nlang:de",
                "skills: line 2 \"lang:de\": write TAG=LEVEL",
            ),
            (
                "lang:de=9",
                "skills: line 1 \"lang:de=9\": the level is 1 to 5",
            ),
            ("a b=3", "without spaces"),
            (
                "lang:de=5\nx=1\nLANG:DE=2",
                "skills: line 3 \"LANG:DE=2\": lang:de is on line 1 already",
            ),
        ] {
            let err = parse_skill_lines(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
        let many: String = (0..=MAX_SKILLS).map(|i| format!("t{i}=1\n")).collect();
        assert!(parse_skill_lines(&many)
            .expect_err("too many")
            .contains("keep to"));
    }

    #[test]
    fn passwords_are_long_fresh_and_hashed_for_the_realm() {
        let a = new_sip_password();
        assert_eq!(a.chars().count(), PASSWORD_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, new_sip_password());
        let acc = sip_account("alice", "c2c", &a);
        assert_eq!(acc.realm, "c2c");
        assert_eq!(acc.ha1_md5, digest::ha1(Algorithm::Md5, "alice", "c2c", &a));
        assert_eq!(
            acc.ha1_sha256,
            digest::ha1(Algorithm::Sha256, "alice", "c2c", &a)
        );
        assert!(!acc.ha1_md5.contains(&a) && !acc.ha1_sha256.contains(&a));
    }

    fn live(away: bool, transports: &[&str]) -> AgentLive {
        AgentLive {
            agent: Agent {
                id: "ag_1".into(),
                org: "acme".into(),
                display_name: "Ann".into(),
                max_calls: 2,
                away,
                skills: vec![("lang:de".into(), 5)],
                contacts: vec![],
            },
            registrations: transports
                .iter()
                .map(|t| AgentRegistration {
                    username: "ann".into(),
                    contact: "sip:ann@10.0.0.1".into(),
                    agent: "ag_1".into(),
                    org: "acme".into(),
                    source: "198.51.100.7:5060".into(),
                    transport: (*t).into(),
                    node: "n".into(),
                    expires_at: 0,
                })
                .collect(),
            ringing: 0,
            on_call: 0,
            idle_since_ms: 5,
            wrap_up_until_ms: 0,
            answered_today: 3,
        }
    }

    #[test]
    fn the_router_view_follows_the_live_state() {
        let now = 1_000_000;
        assert_eq!(
            agent_state(&live(false, &[])).presence(now),
            Presence::Offline
        );
        assert_eq!(
            agent_state(&live(false, &["tls"])).presence(now),
            Presence::Offline,
            "a TLS device is not rung yet"
        );
        let s = agent_state(&live(false, &["tls", "udp"]));
        assert_eq!(s.presence(now), Presence::Available);
        assert_eq!(s.skills, vec![("lang:de".into(), 5)]);
        assert_eq!((s.max_calls, s.answered, s.idle_since_ms), (2, 3, 5));
        assert_eq!(
            agent_state(&live(true, &["tcp"])).presence(now),
            Presence::Away
        );
        let mut busy = live(false, &["udp"]);
        busy.on_call = 1;
        assert_eq!(agent_state(&busy).presence(now), Presence::OnCall);
        busy.on_call = 0;
        busy.wrap_up_until_ms = now + 1;
        assert_eq!(agent_state(&busy).presence(now), Presence::WrapUp);
        let mut bad = live(false, &["udp"]);
        bad.registrations[0].source = "not an address".into();
        assert_eq!(agent_state(&bad).presence(now), Presence::Offline);
    }
}
