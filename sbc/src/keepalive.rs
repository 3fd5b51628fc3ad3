//! OPTIONS keep-alive toward trunks, sans-IO: each trunk is pinged every `keepalive_s`; an
//! answer marks it up, silence within the interval (capped by Timer F, RFC 3261 §17.1.2.2)
//! or a 5xx marks it down, so calls go to healthy trunks first (see [`crate::failover`]).
//!
//! Any response but a 5xx counts as alive: many trunks answer OPTIONS with 404 or 405.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::leg::transaction::{ClientTx, T2, TIMER_F};
use crate::sip::{Message, Method, Request};

/// What a ping found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The trunk answered.
    Up(String),
    /// The trunk did not answer in time, or answered 5xx.
    Down(String),
}

#[derive(Debug)]
struct Probe {
    trunk: String,
    addr: SocketAddr,
    interval: Duration,
    next_ping: Instant,
    call_id: String,
    cseq: u32,
    tx: Option<ClientTx>,
}

/// The keep-alive state of every pinged trunk.
#[derive(Debug)]
pub struct KeepAlive {
    local: SocketAddr,
    probes: Vec<Probe>,
    transmits: VecDeque<(Vec<u8>, SocketAddr)>,
}

fn random_hex() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

impl KeepAlive {
    /// No probes yet; `local` goes into Via and From.
    pub fn new(local: SocketAddr) -> Self {
        Self {
            local,
            probes: Vec::new(),
            transmits: VecDeque::new(),
        }
    }

    /// Pings `trunk` at `addr` every `interval`, the first time at `now`.
    pub fn add(&mut self, trunk: &str, addr: SocketAddr, interval: Duration, now: Instant) {
        self.probes.push(Probe {
            trunk: trunk.to_owned(),
            addr,
            interval,
            next_ping: now,
            call_id: random_hex(),
            cseq: 0,
            tx: None,
        });
    }

    /// Makes the probes exactly `wanted` (trunk, address, interval): unchanged ones keep their
    /// schedule and transaction, gone ones stop, new ones ping first at `now`.
    pub fn replace(&mut self, wanted: &[(String, SocketAddr, Duration)], now: Instant) {
        self.probes.retain(|p| {
            wanted
                .iter()
                .any(|(t, a, i)| *t == p.trunk && *a == p.addr && *i == p.interval)
        });
        for (trunk, addr, interval) in wanted {
            let known = self
                .probes
                .iter()
                .any(|p| p.trunk == *trunk && p.addr == *addr && p.interval == *interval);
            if !known {
                self.add(trunk, *addr, *interval, now);
            }
        }
    }

    /// Sends due pings and retransmissions; returns trunks found down.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Health> {
        let mut found = Vec::new();
        for p in &mut self.probes {
            if let Some(tx) = p.tx.as_mut() {
                let mut out = VecDeque::new();
                let timed_out = tx.tick(now, &mut out);
                self.transmits
                    .extend(out.into_iter().filter_map(|o| match o {
                        crate::leg::Output::Transmit { bytes, to } => Some((bytes, to)),
                        _ => None,
                    }));
                if timed_out {
                    p.tx = None;
                    found.push(Health::Down(p.trunk.clone()));
                }
            }
            if p.next_ping <= now && p.tx.is_none() {
                p.cseq += 1;
                let branch = format!("z9hG4bK{}", random_hex());
                let mut req = Request::new(Method::Options, format!("sip:{}", p.addr));
                let h = &mut req.headers;
                h.push(
                    "Via",
                    format!("SIP/2.0/UDP {};branch={branch};rport", self.local),
                );
                h.push("Max-Forwards", "70");
                h.push(
                    "From",
                    format!("<sip:c2c@{}>;tag={}", self.local, &p.call_id[..8]),
                );
                h.push("To", format!("<sip:{}>", p.addr));
                h.push("Call-ID", p.call_id.as_str());
                h.push("CSeq", format!("{} OPTIONS", p.cseq));
                let bytes = Message::Request(req).to_bytes();
                self.transmits.push_back((bytes.clone(), p.addr));
                let timeout = p.interval.min(TIMER_F);
                p.tx = Some(ClientTx::new(branch, bytes, p.addr, timeout, Some(T2), now));
                p.next_ping = now + p.interval;
            }
        }
        found
    }

    /// A response that may answer one of our pings; None when it is not ours.
    pub fn handle_response(&mut self, msg: &Message) -> Option<Health> {
        let status = msg.status()?;
        let call_id = msg.call_id()?;
        let branch = msg.top_via_branch()?;
        let p = self.probes.iter_mut().find(|p| p.call_id == call_id)?;
        if status < 200 || p.tx.as_ref().is_none_or(|tx| tx.branch != branch) {
            return None;
        }
        p.tx = None;
        Some(if (500..600).contains(&status) {
            Health::Down(p.trunk.clone())
        } else {
            Health::Up(p.trunk.clone())
        })
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(Vec<u8>, SocketAddr)> {
        self.transmits.pop_front()
    }

    /// When to call [`KeepAlive::handle_timeout`] next.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.probes
            .iter()
            .flat_map(|p| {
                let tx = p.tx.as_ref();
                [
                    Some(p.next_ping),
                    tx.and_then(|t| t.next_send),
                    tx.and_then(|t| t.deadline),
                ]
            })
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_message, response_to};

    fn ping(k: &mut KeepAlive) -> Request {
        let (bytes, _) = k.poll_transmit().expect("a ping");
        match parse_message(&bytes) {
            Ok(Message::Request(r)) => r,
            other => panic!("not a request: {other:?}"),
        }
    }

    #[test]
    fn answers_mark_up_silence_and_5xx_mark_down() {
        let t0 = Instant::now();
        let mut k = KeepAlive::new("192.0.2.2:5060".parse().expect("addr"));
        k.add(
            "a",
            "192.0.2.1:5060".parse().expect("addr"),
            Duration::from_secs(10),
            t0,
        );
        assert_eq!(k.next_timeout(), Some(t0));
        assert!(k.handle_timeout(t0).is_empty());
        let req = ping(&mut k);
        assert_eq!(req.method, Method::Options);
        let ok = Message::Response(response_to(&req, 200, "OK", Some("x")));
        assert_eq!(k.handle_response(&ok), Some(Health::Up("a".into())));
        assert_eq!(
            k.handle_response(&ok),
            None,
            "a retransmitted answer is not news"
        );
        // Next ping after the interval; silence until the interval passes means down.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(k.next_timeout(), Some(t1));
        k.handle_timeout(t1);
        let req = ping(&mut k);
        let mut now = t1;
        let mut found = Vec::new();
        while found.is_empty() {
            now = k.next_timeout().expect("timer");
            found = k.handle_timeout(now);
        }
        assert_eq!(found, vec![Health::Down("a".into())]);
        assert_eq!(now, t1 + Duration::from_secs(10));
        let late = Message::Response(response_to(&req, 200, "OK", Some("x")));
        assert_eq!(k.handle_response(&late), None);
        let req = ping(&mut k); // retransmissions of the timed-out ping were queued too
        let _ = req;
        while let Some((bytes, _)) = k.poll_transmit() {
            let Ok(Message::Request(r)) = parse_message(&bytes) else {
                panic!("request")
            };
            let unavailable = Message::Response(response_to(&r, 503, "Unavailable", Some("x")));
            if let Some(h) = k.handle_response(&unavailable) {
                assert_eq!(h, Health::Down("a".into()));
            }
        }
    }
}
