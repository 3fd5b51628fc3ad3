//! OPTIONS pings to the devices bound over UDP, sans-IO: each is pinged every interval at the
//! address its REGISTER came from, which keeps its NAT binding open (as Kamailio's nathelper
//! does), and a device that misses [`MISSES_ALLOWED`] pings in a row is unbound: a phone that
//! lost power or network is offline at once, not when its registration lapses an hour later.
//!
//! Every lookup is by key or by the earliest time, so the SIP task's per-packet timer check
//! stays O(log n) however many devices are bound.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::sip::{Message, Method, Request};

/// How long a ping waits for its answer.
pub const ANSWER_WAIT: Duration = Duration::from_secs(8);
/// Pings a device may miss in a row before it is unbound.
pub const MISSES_ALLOWED: u32 = 2;

/// A bound device: its agent's username and its Contact.
type Key = (String, String);

#[derive(Debug)]
struct Target {
    source: SocketAddr,
    /// When the next ping goes.
    due: Instant,
    misses: u32,
    /// The ping in flight: its Call-ID and when it counts as missed.
    pending: Option<(String, Instant)>,
}

/// The pings of every device bound over UDP.
#[derive(Debug)]
pub struct Pings {
    local: SocketAddr,
    interval: Duration,
    targets: HashMap<Key, Target>,
    /// Next pings by time.
    schedule: BTreeSet<(Instant, Key)>,
    /// Pings in flight by the time they count as missed.
    deadlines: BTreeSet<(Instant, String)>,
    /// Pings in flight by Call-ID.
    in_flight: HashMap<String, Key>,
}

impl Pings {
    /// No devices yet; pings come from `local` every `interval`.
    pub fn new(local: SocketAddr, interval: Duration) -> Self {
        Self {
            local,
            interval,
            targets: HashMap::new(),
            schedule: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            in_flight: HashMap::new(),
        }
    }

    /// Pings `contact` of `user` at `source` from now on (a refresh from the same address
    /// keeps its schedule; from a new one, the pings follow it).
    pub fn track(&mut self, user: &str, contact: &str, source: SocketAddr, now: Instant) {
        let key = (user.to_owned(), contact.to_owned());
        if self.targets.get(&key).is_some_and(|t| t.source == source) {
            return;
        }
        self.forget(user, contact);
        let due = now + self.interval;
        self.schedule.insert((due, key.clone()));
        self.targets.insert(
            key,
            Target {
                source,
                due,
                misses: 0,
                pending: None,
            },
        );
    }

    /// Stops pinging `contact` of `user`.
    pub fn forget(&mut self, user: &str, contact: &str) {
        let key = (user.to_owned(), contact.to_owned());
        let Some(target) = self.targets.remove(&key) else {
            return;
        };
        self.schedule.remove(&(target.due, key));
        if let Some((call_id, deadline)) = target.pending {
            self.deadlines.remove(&(deadline, call_id.clone()));
            self.in_flight.remove(&call_id);
        }
    }

    /// When [`Pings::handle_timeout`] is next due.
    pub fn next_timeout(&self) -> Option<Instant> {
        let next = self.schedule.first().map(|(at, _)| *at);
        let missed = self.deadlines.first().map(|(at, _)| *at);
        next.into_iter().chain(missed).min()
    }

    /// Sends the pings due at `now` (returned with where they go) and counts the missed
    /// ones; the devices that missed too many are forgotten and returned, to be unbound.
    pub fn handle_timeout(&mut self, now: Instant) -> (Vec<(Vec<u8>, SocketAddr)>, Vec<Key>) {
        let mut unreachable = Vec::new();
        while self.deadlines.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, call_id)) = self.deadlines.pop_first() else {
                break;
            };
            let Some(key) = self.in_flight.remove(&call_id) else {
                continue;
            };
            let Some(target) = self.targets.get_mut(&key) else {
                continue;
            };
            target.pending = None;
            target.misses += 1;
            if target.misses >= MISSES_ALLOWED {
                self.forget(&key.0, &key.1);
                unreachable.push(key);
            }
        }
        let mut pings = Vec::new();
        while self.schedule.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.schedule.pop_first() else {
                break;
            };
            let local = self.local;
            let Some(target) = self.targets.get_mut(&key) else {
                continue;
            };
            target.due = now + self.interval;
            self.schedule.insert((target.due, key.clone()));
            // One ping in flight at a time: a slow answer is not a second miss.
            if target.pending.is_some() {
                continue;
            }
            let call_id = format!("{:016x}", rand::rng().random::<u64>());
            pings.push((ping(local, &key.1, &call_id), target.source));
            let deadline = now + ANSWER_WAIT;
            target.pending = Some((call_id.clone(), deadline));
            self.deadlines.insert((deadline, call_id.clone()));
            self.in_flight.insert(call_id, key);
        }
        (pings, unreachable)
    }

    /// Takes a response that may answer a ping; false when it is not one (any final
    /// answer, even 404 or 405, shows the device is there).
    pub fn handle_response(&mut self, msg: &Message) -> bool {
        let (Some(status), Some(call_id)) = (msg.status(), msg.call_id()) else {
            return false;
        };
        if status < 200 {
            return self.in_flight.contains_key(call_id);
        }
        let Some(key) = self.in_flight.remove(call_id) else {
            return false;
        };
        if let Some(target) = self.targets.get_mut(&key) {
            if let Some((id, deadline)) = target.pending.take() {
                self.deadlines.remove(&(deadline, id));
            }
            target.misses = 0;
        }
        true
    }

    /// Devices pinged.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when no device is pinged.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// An OPTIONS to `contact` (RFC 3261 §11), its own Call-ID each time.
fn ping(local: SocketAddr, contact: &str, call_id: &str) -> Vec<u8> {
    let branch = format!("z9hG4bK{:016x}", rand::rng().random::<u64>());
    let mut req = Request::new(Method::Options, contact.to_owned());
    let h = &mut req.headers;
    h.push("Via", format!("SIP/2.0/UDP {local};branch={branch};rport"));
    h.push("Max-Forwards", "70");
    h.push("From", format!("<sip:c2c@{local}>;tag={}", &call_id[..8]));
    h.push("To", format!("<{contact}>"));
    h.push("Call-ID", call_id);
    h.push("CSeq", "1 OPTIONS");
    Message::Request(req).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_message, response_to};

    const EVERY: Duration = Duration::from_secs(30);

    fn pings() -> Pings {
        Pings::new("192.0.2.2:5060".parse().expect("addr"), EVERY)
    }

    fn phone() -> SocketAddr {
        "198.51.100.7:40001".parse().expect("addr")
    }

    fn answer(p: &mut Pings, bytes: &[u8], status: u16) -> bool {
        let Ok(Message::Request(req)) = parse_message(bytes) else {
            panic!("a ping is a request");
        };
        p.handle_response(&Message::Response(response_to(
            &req,
            status,
            "X",
            Some("t"),
        )))
    }

    #[test]
    fn an_answering_device_is_pinged_every_interval_and_stays() {
        let t0 = Instant::now();
        let mut p = pings();
        p.track("alice", "sip:alice@10.0.0.5", phone(), t0);
        assert_eq!(p.next_timeout(), Some(t0 + EVERY));
        for n in 1..=5 {
            let at = t0 + EVERY * n;
            let (sent, gone) = p.handle_timeout(at);
            assert!(gone.is_empty());
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].1, phone(), "to where it registered from");
            let text = String::from_utf8_lossy(&sent[0].0).into_owned();
            assert!(
                text.starts_with("OPTIONS sip:alice@10.0.0.5 SIP/2.0"),
                "{text}"
            );
            assert!(
                answer(&mut p, &sent[0].0, 405),
                "any final answer shows it is there"
            );
        }
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_silent_device_is_given_up_after_its_misses() {
        let t0 = Instant::now();
        let mut p = pings();
        p.track("alice", "sip:alice@10.0.0.5", phone(), t0);
        let (sent, _) = p.handle_timeout(t0 + EVERY);
        assert_eq!(sent.len(), 1);
        let (_, gone) = p.handle_timeout(t0 + EVERY + ANSWER_WAIT);
        assert!(gone.is_empty(), "one miss is forgiven");
        let (sent, _) = p.handle_timeout(t0 + EVERY * 2);
        assert_eq!(sent.len(), 1);
        let (_, gone) = p.handle_timeout(t0 + EVERY * 2 + ANSWER_WAIT);
        assert_eq!(
            gone,
            vec![("alice".to_owned(), "sip:alice@10.0.0.5".to_owned())]
        );
        assert!(p.is_empty());
        assert_eq!(p.next_timeout(), None, "nothing left behind");
    }

    #[test]
    fn forgetting_or_moving_a_device_leaves_no_stale_ping() {
        let t0 = Instant::now();
        let mut p = pings();
        p.track("alice", "sip:a@x", phone(), t0);
        let (sent, _) = p.handle_timeout(t0 + EVERY);
        p.forget("alice", "sip:a@x");
        assert_eq!(p.next_timeout(), None);
        assert!(
            !answer(&mut p, &sent[0].0, 200),
            "a late answer is not ours any more"
        );
        // Re-registered from a new port: the pings follow it.
        p.track("alice", "sip:a@x", phone(), t0);
        let moved: SocketAddr = "198.51.100.7:40002".parse().expect("addr");
        p.track("alice", "sip:a@x", moved, t0 + Duration::from_secs(1));
        let (sent, _) = p.handle_timeout(t0 + Duration::from_secs(1) + EVERY);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, moved);
    }
}
