//! The registrar for agents' SIP devices (RFC 3261 §10.3), sans-IO: a REGISTER and the
//! time go in, the response and the binding changes come out; expiry runs on the time given.
//!
//! An agent's username is the user part of its address-of-record (`sip:alice@…`) and its
//! digest username; we keep its HA1 per algorithm, never the password. Every REGISTER that
//! fails authentication, whatever part was wrong (no such user, a wrong password, another
//! user's name, a digest over another URI), gets the same fresh 401 challenge and counts
//! against the source address and the username alike. Past their allowance both back off:
//! a 403 with Retry-After, without a check, until a try is allowed again. A device
//! already bound from the same address is exempt from its user's back-off, so guessing at
//! a user's password from elsewhere cannot sign them out.
//!
//! A binding is reached at the address its REGISTER came from, over the same transport,
//! whatever its Contact says: a device behind NAT writes its private address there.

mod authorization;
mod contacts;
mod nonce;
mod pings;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::warn;

pub use authorization::{challenges, Credentials};
use c2c_guard::{RateLimit, RateLimiter, MAX_TRACKED_SOURCES};
pub use contacts::{asked, Asked, BadContacts, Wanted};
pub use nonce::{Freshness, Nonces};
pub use pings::{Pings, ANSWER_WAIT, MISSES_ALLOWED};

pub use crate::digest::Algorithm;
use crate::ingress::{new_tag, unsupported_requires};
use crate::sip::{name_addr_uri, response_to, uri_scheme, CSeq, Message, Request, Response};
use crate::trunk::Transport;

/// Registrar settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrarConfig {
    /// The digest realm; credentials are hashed for it.
    pub realm: String,
    /// The digest hashes offered, in order of preference (one challenge each). Many
    /// clients read only the first challenge: put MD5 first for a fleet of old phones.
    pub algorithms: Vec<Algorithm>,
    /// Shortest registration accepted (shorter ones get 423 with Min-Expires).
    pub min_expires: u32,
    /// Longest registration granted (longer ones are shortened to it).
    pub max_expires: u32,
    /// Length of a registration that names none.
    pub default_expires: u32,
    /// Most bindings one agent may hold.
    pub max_bindings: usize,
    /// How long a nonce may be answered.
    pub nonce_lifetime: Duration,
    /// Failed REGISTERs allowed per source address.
    pub source_failures: RateLimit,
    /// Failed REGISTERs allowed per username.
    pub user_failures: RateLimit,
    /// How often devices bound over UDP get an OPTIONS ping (keeps their NAT open; two
    /// missed in a row unbind them); zero: never.
    pub ping_interval: Duration,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            realm: "c2c".into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_bindings: 10,
            nonce_lifetime: Duration::from_secs(300),
            source_failures: RateLimit {
                per_second: 0.1,
                burst: 10.0,
            },
            user_failures: RateLimit {
                per_second: 1.0 / 30.0,
                burst: 5.0,
            },
            ping_interval: Duration::from_secs(30),
        }
    }
}

/// An agent's SIP account, as the registrar checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentCredential {
    /// The agent it signs in.
    pub agent: AgentRef,
    /// HA1 with MD5 for the registrar's realm, lowercase hex.
    pub ha1_md5: String,
    /// HA1 with SHA-256 for the registrar's realm, lowercase hex.
    pub ha1_sha256: String,
}

impl AgentCredential {
    fn ha1(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Which agent a credential or binding belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentRef {
    /// The owning organisation.
    pub org: String,
    /// The agent's id.
    pub agent: String,
    /// Its SIP username, unique on the registrar.
    pub username: String,
}

/// One registered contact of an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as the device registered it (the Request-URI of calls to it).
    pub contact: String,
    /// Where requests for it are sent: the source of its REGISTER.
    pub source: SocketAddr,
    /// The transport its REGISTER came over.
    pub transport: Transport,
    /// The Call-ID of its registrations.
    pub call_id: String,
    /// The CSeq of the last REGISTER that changed it.
    pub cseq: u32,
    /// When it lapses unless refreshed.
    pub expires_at: Instant,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbound {
    /// The device removed it (expires 0 or `*`).
    Removed,
    /// It was not refreshed in time.
    Expired,
    /// The agent's credentials were removed or changed.
    CredentialsGone,
    /// The connection it was registered over closed.
    FlowClosed,
    /// It stopped answering our OPTIONS pings.
    Unreachable,
}

/// A change of registration state, for presence and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A binding was added or refreshed.
    Bound {
        /// Whose.
        agent: AgentRef,
        /// The binding now.
        binding: Binding,
    },
    /// A binding is gone.
    Unbound {
        /// Whose.
        agent: AgentRef,
        /// Its contact URI.
        contact: String,
        /// Why.
        why: Unbound,
    },
}

/// An HA1 no password gives in practice: checked against when the user is unknown, so an
/// unknown user costs the same work as a known one.
const NO_HA1: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The registrar's state: credentials, bindings and failure allowances.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    nonces: Nonces,
    credentials: HashMap<String, AgentCredential>,
    bindings: HashMap<String, Vec<Binding>>,
    /// Every binding by when it lapses (with its username and contact), in step with
    /// `bindings`, so a packet's timer check costs no walk over every agent.
    expiries: BTreeSet<(Instant, String, String)>,
    source_failures: RateLimiter<IpAddr>,
    user_failures: RateLimiter<String>,
    changes: VecDeque<Change>,
    /// OPTIONS pings to the devices bound over UDP, when on ([`Registrar::ping_from`]).
    pings: Option<Pings>,
    /// Pings to send.
    transmits: VecDeque<(Vec<u8>, SocketAddr)>,
}

impl Registrar {
    /// A registrar with no agents; nonces are signed with `key` and count time from `now`.
    pub fn new(config: RegistrarConfig, key: &[u8; 32], now: Instant) -> Self {
        Self {
            nonces: Nonces::new(key, now, config.nonce_lifetime),
            source_failures: RateLimiter::with_capacity(
                config.source_failures,
                MAX_TRACKED_SOURCES,
            ),
            user_failures: RateLimiter::with_capacity(config.user_failures, MAX_TRACKED_SOURCES),
            config,
            credentials: HashMap::new(),
            bindings: HashMap::new(),
            expiries: BTreeSet::new(),
            changes: VecDeque::new(),
            pings: None,
            transmits: VecDeque::new(),
        }
    }

    /// Pings every device bound over UDP from `local` each `interval` (keeping its NAT
    /// binding open), and unbinds one that stops answering.
    pub fn ping_from(mut self, local: SocketAddr, interval: Duration) -> Self {
        self.pings = Some(Pings::new(local, interval));
        self
    }

    /// The next ping to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(Vec<u8>, SocketAddr)> {
        self.transmits.pop_front()
    }

    /// Takes a response that may answer one of our pings; false when it is not one.
    pub fn handle_response(&mut self, msg: &Message) -> bool {
        self.pings.as_mut().is_some_and(|p| p.handle_response(msg))
    }

    /// The realm credentials must be hashed for.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// Replaces the agents' credentials; bindings of an agent whose credentials went or
    /// changed are removed (a new password signs every device out).
    pub fn set_credentials(&mut self, credentials: impl IntoIterator<Item = AgentCredential>) {
        let new: HashMap<String, AgentCredential> = credentials
            .into_iter()
            .map(|c| (c.agent.username.clone(), c))
            .collect();
        let gone: Vec<String> = self
            .bindings
            .keys()
            .filter(|user| new.get(*user) != self.credentials.get(*user))
            .cloned()
            .collect();
        for user in gone {
            self.unbind_all(&user, Unbound::CredentialsGone);
        }
        self.credentials = new;
    }

    /// The current bindings of `username`.
    pub fn bindings(&self, username: &str) -> &[Binding] {
        self.bindings.get(username).map_or(&[], Vec::as_slice)
    }

    /// How many bindings there are in all (one lapse each in the index: no walk).
    pub fn binding_count(&self) -> usize {
        self.expiries.len()
    }

    /// The next registration change, if any.
    pub fn poll_change(&mut self) -> Option<Change> {
        self.changes.pop_front()
    }

    /// When the next binding lapses.
    pub fn next_timeout(&self) -> Option<Instant> {
        let lapse = self.expiries.first().map(|(at, _, _)| *at);
        let ping = self.pings.as_ref().and_then(Pings::next_timeout);
        lapse.into_iter().chain(ping).min()
    }

    /// Removes the bindings that lapsed by `now`, sends the pings due and unbinds the devices
    /// that stopped answering them.
    pub fn handle_timeout(&mut self, now: Instant) {
        while self.expiries.first().is_some_and(|(at, _, _)| *at <= now) {
            let Some((_, user, contact)) = self.expiries.pop_first() else {
                break;
            };
            self.unbind(&user, &contact, Unbound::Expired);
        }
        let Some(pings) = self.pings.as_mut() else {
            return;
        };
        let (sent, unreachable) = pings.handle_timeout(now);
        self.transmits.extend(sent);
        for (user, contact) in unreachable {
            if let Some(b) = self.bindings(&user).iter().find(|b| b.contact == contact) {
                let at = b.expires_at;
                self.expiries.remove(&(at, user.clone(), contact.clone()));
            }
            warn!(user = %crate::sip::sanitize_header_value(&user, 64), "registrar: a device stopped answering pings; unbound");
            self.unbind(&user, &contact, Unbound::Unreachable);
        }
    }

    /// Removes one binding (its lapse already taken from the index) and says why.
    fn unbind(&mut self, user: &str, contact: &str, why: Unbound) {
        if let Some(pings) = self.pings.as_mut() {
            pings.forget(user, contact);
        }
        let Some(list) = self.bindings.get_mut(user) else {
            return;
        };
        list.retain(|b| b.contact != contact);
        if list.is_empty() {
            self.bindings.remove(user);
        }
        if let Some(c) = self.credentials.get(user) {
            self.changes.push_back(Change::Unbound {
                agent: c.agent.clone(),
                contact: contact.to_owned(),
                why,
            });
        }
    }

    /// Removes the bindings registered over the connection from `peer` that just closed.
    pub fn flow_closed(&mut self, peer: SocketAddr) {
        self.remove_where(
            |b| b.source == peer && b.transport != Transport::Udp,
            Unbound::FlowClosed,
        );
    }

    /// Answers a REGISTER that came from `from` over `transport`.
    pub fn handle(
        &mut self,
        req: &Request,
        from: SocketAddr,
        transport: Transport,
        now: Instant,
    ) -> Response {
        let tag = new_tag();
        let reply = |status, reason| response_to(req, status, reason, Some(&tag));
        // §10.3 steps 1-2: the Request-URI names a domain we serve, and we grasp Require.
        let scheme = uri_scheme(&req.uri).unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
            return reply(416, "Unsupported URI Scheme");
        }
        let unsupported = unsupported_requires(req);
        if !unsupported.is_empty() {
            let mut resp = reply(420, "Bad Extension");
            resp.headers.push("Unsupported", unsupported.join(", "));
            return resp;
        }
        let Some(user) = address_of_record_user(req) else {
            return reply(404, "Not Found");
        };
        let Some(cseq) = req.headers.get("CSeq").and_then(|v| CSeq::parse(v).ok()) else {
            return reply(400, "Bad Request");
        };
        // §10.3 steps 3-4: who is asking, after the back-off that bounds guessing.
        let known_source = self
            .bindings(&user)
            .iter()
            .any(|b| b.source.ip() == from.ip());
        let backing_off = self.source_failures.peek(from.ip(), now).err().or_else(|| {
            (!known_source)
                .then(|| self.user_failures.peek(user.clone(), now).err())
                .flatten()
        });
        if let Some(wait) = backing_off {
            let mut resp = reply(403, "Forbidden");
            resp.headers
                .push("Retry-After", wait.as_secs().max(1).to_string());
            return resp;
        }
        let answer = req
            .headers
            .get_all("Authorization")
            .filter_map(Credentials::parse)
            .find(|c| c.realm == self.config.realm);
        let Some(answer) = answer else {
            return self.challenge(req, &tag, from, now, false);
        };
        let freshness = self.nonces.check(&answer.nonce, from, now);
        if freshness == Freshness::Foreign {
            // Not a guess at a password: a nonce from before a restart, or forged.
            return self.challenge(req, &tag, from, now, false);
        }
        let credential = self.credentials.get(&user);
        let ha1 = credential.map_or(NO_HA1, |c| c.ha1(answer.algorithm));
        let verified = answer.verify(ha1, req.method.as_str())
            && answer.username == user
            && answer.uri == req.uri;
        let agent = match credential {
            Some(c) if verified => c.agent.clone(),
            _ => {
                self.failed(from, &user, now);
                return self.challenge(req, &tag, from, now, false);
            }
        };
        if freshness == Freshness::Stale {
            return self.challenge(req, &tag, from, now, true);
        }
        // §10.3 steps 5-8: the bindings.
        let asked = match asked(req) {
            Ok(asked) => asked,
            Err(bad) => return reply(400, bad.reason()),
        };
        let call_id = req.headers.get("Call-ID").unwrap_or_default();
        if let Err((status, reason)) =
            self.apply(&agent, asked, call_id, cseq.number, from, transport, now)
        {
            let mut resp = reply(status, reason);
            if status == 423 {
                resp.headers
                    .push("Min-Expires", self.config.min_expires.to_string());
            }
            return resp;
        }
        let mut resp = reply(200, "OK");
        for b in self.bindings(&user) {
            let left = b.expires_at.saturating_duration_since(now).as_secs();
            resp.headers
                .push("Contact", format!("<{}>;expires={left}", b.contact));
        }
        resp
    }

    /// Carries out what an authenticated REGISTER asked, all of it or (on an error) none.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        agent: &AgentRef,
        asked: Asked,
        call_id: &str,
        cseq: u32,
        from: SocketAddr,
        transport: Transport,
        now: Instant,
    ) -> Result<(), (u16, &'static str)> {
        let user = agent.username.as_str();
        // §10.3 step 7: a REGISTER older than the one that last changed a binding is refused.
        let out_of_order = |b: &Binding| b.call_id == call_id && cseq <= b.cseq;
        let wanted = match asked {
            Asked::Query => return Ok(()),
            Asked::RemoveAll => {
                if self.bindings(user).iter().any(out_of_order) {
                    return Err((400, "CSeq Out of Order"));
                }
                self.unbind_all(user, Unbound::Removed);
                return Ok(());
            }
            Asked::Update(wanted) => wanted,
        };
        let mut granted = Vec::with_capacity(wanted.len());
        for w in &wanted {
            let seconds = w.expires.unwrap_or(self.config.default_expires);
            if seconds != 0 && seconds < self.config.min_expires {
                return Err((423, "Interval Too Brief"));
            }
            granted.push(seconds.min(self.config.max_expires));
        }
        let current = self.bindings(user);
        if wanted.iter().any(|w| {
            current
                .iter()
                .any(|b| b.contact == w.uri && out_of_order(b))
        }) {
            return Err((400, "CSeq Out of Order"));
        }
        let added = wanted
            .iter()
            .zip(&granted)
            .filter(|(w, s)| **s != 0 && !current.iter().any(|b| b.contact == w.uri))
            .count();
        let removed = wanted
            .iter()
            .zip(&granted)
            .filter(|(w, s)| **s == 0 && current.iter().any(|b| b.contact == w.uri))
            .count();
        if (current.len() + added).saturating_sub(removed) > self.config.max_bindings {
            return Err((403, "Too Many Bindings"));
        }
        let list = self.bindings.entry(user.to_owned()).or_default();
        for (w, seconds) in wanted.into_iter().zip(granted) {
            let at = list.iter().position(|b| b.contact == w.uri);
            if seconds == 0 {
                if let Some(i) = at {
                    let gone = list.remove(i);
                    self.expiries
                        .remove(&(gone.expires_at, user.to_owned(), gone.contact.clone()));
                    if let Some(pings) = self.pings.as_mut() {
                        pings.forget(user, &gone.contact);
                    }
                    self.changes.push_back(Change::Unbound {
                        agent: agent.clone(),
                        contact: gone.contact,
                        why: Unbound::Removed,
                    });
                }
                continue;
            }
            let binding = Binding {
                contact: w.uri,
                source: from,
                transport,
                call_id: call_id.to_owned(),
                cseq,
                expires_at: now + Duration::from_secs(u64::from(seconds)),
            };
            match at {
                Some(i) => {
                    let old = std::mem::replace(&mut list[i], binding.clone());
                    self.expiries
                        .remove(&(old.expires_at, user.to_owned(), old.contact));
                }
                None => list.push(binding.clone()),
            }
            self.expiries
                .insert((binding.expires_at, user.to_owned(), binding.contact.clone()));
            if let Some(pings) = self.pings.as_mut() {
                if transport == Transport::Udp {
                    pings.track(user, &binding.contact, from, now);
                } else {
                    // A TCP flow says itself when it closes.
                    pings.forget(user, &binding.contact);
                }
            }
            self.changes.push_back(Change::Bound {
                agent: agent.clone(),
                binding,
            });
        }
        if list.is_empty() {
            self.bindings.remove(user);
        }
        Ok(())
    }

    /// A 401 with a fresh nonce for `from`, in both hashes.
    fn challenge(
        &self,
        req: &Request,
        tag: &str,
        from: SocketAddr,
        now: Instant,
        stale: bool,
    ) -> Response {
        let mut resp = response_to(req, 401, "Unauthorized", Some(tag));
        let nonce = self.nonces.issue(from, now);
        for value in challenges(&self.config.realm, &nonce, stale, &self.config.algorithms) {
            resp.headers.push("WWW-Authenticate", value);
        }
        resp
    }

    /// Counts a failed authentication against the source and the username.
    fn failed(&mut self, from: SocketAddr, user: &str, now: Instant) {
        let _ = self.source_failures.take(from.ip(), now);
        let _ = self.user_failures.take(user.to_owned(), now);
        let source_out = self.source_failures.peek(from.ip(), now).is_err();
        let user_out = self.user_failures.peek(user.to_owned(), now).is_err();
        if source_out || user_out {
            warn!(
                %from, user = %crate::sip::sanitize_header_value(user, 64), source_out, user_out,
                "registrar: too many failed REGISTERs, backing off"
            );
        }
    }

    fn unbind_all(&mut self, user: &str, why: Unbound) {
        let Some(list) = self.bindings.remove(user) else {
            return;
        };
        for b in &list {
            self.expiries
                .remove(&(b.expires_at, user.to_owned(), b.contact.clone()));
            if let Some(pings) = self.pings.as_mut() {
                pings.forget(user, &b.contact);
            }
        }
        let Some(agent) = self.credentials.get(user).map(|c| c.agent.clone()) else {
            return;
        };
        for b in list {
            self.changes.push_back(Change::Unbound {
                agent: agent.clone(),
                contact: b.contact,
                why,
            });
        }
    }

    fn remove_where(&mut self, gone: impl Fn(&Binding) -> bool, why: Unbound) {
        let Registrar {
            bindings,
            expiries,
            credentials,
            changes,
            pings,
            ..
        } = self;
        bindings.retain(|user, list| {
            let agent = credentials.get(user).map(|c| c.agent.clone());
            list.retain(|b| {
                if !gone(b) {
                    return true;
                }
                expiries.remove(&(b.expires_at, user.clone(), b.contact.clone()));
                if let Some(pings) = pings.as_mut() {
                    pings.forget(user, &b.contact);
                }
                if let Some(agent) = &agent {
                    changes.push_back(Change::Unbound {
                        agent: agent.clone(),
                        contact: b.contact.clone(),
                        why,
                    });
                }
                false
            });
            !list.is_empty()
        });
    }
}

/// The user part of the To URI, the address-of-record (§10.3 step 5); None without one.
fn address_of_record_user(req: &Request) -> Option<String> {
    let uri = name_addr_uri(req.headers.get("To")?)?;
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let (user, _host) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or_default();
    (!user.is_empty()).then(|| user.to_owned())
}

#[cfg(test)]
mod tests;
