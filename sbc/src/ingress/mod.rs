//! Ingress screening: everything that arrives on a SIP socket passes here first, sans-IO.
//!
//! In order: the source check (only trunk addresses may talk to us), the size limit, the
//! strict parser, the per-source rate limit, then the checks that apply to any request. What
//! comes out is a message for call logic with every identity header removed, a stateless
//! reply (400, 403, 501, 505, 513 …), or a silent drop. Nothing here panics, blocks or grows
//! without bound: the rate limiter's table is capped and messages are capped in size.
//!
//! A trunk's address is trivially spoofed, so its rate limit must not be able to cost its
//! calls: only what could start something new (a request outside every known call) or earn
//! an answer (a malformed message) spends the trunk's tokens. Responses and requests within
//! a call we hold pass free; a forged one is parsed and dropped, never answered. A stranger's
//! tokens are spent before parsing, since nothing a stranger sends is ever let in.
//!
//! Agents' devices (sources in the registrar's networks) are answered like trunks, under a
//! rate of their own spent by every message before parsing: one office NAT may carry many
//! phones, so the rate is high, yet it bounds what a spoofed flood from there costs.

mod identity;
mod out_of_dialog;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::Rng;
use serde::Deserialize;
use tracing::debug;

use c2c_guard::{RateLimit, RateLimiter};
pub use identity::{is_identity_header, strip_identity, IDENTITY_HEADERS, OWN_HEADER_PREFIX};
pub use out_of_dialog::{answer_out_of_dialog, unsupported_requires, ACCEPT, ALLOW, SUPPORTED};

use crate::networks::Networks;
use crate::sip::{
    self, error_response, salvage_request, FrameError, Message, Method, Request, Response,
    Salvaged, SipError,
};

/// Largest SIP message we accept, headers and body (RFC 3261 §21.5.4 answers 513 above it).
/// A call's INVITE with SDP is about 1-2 KiB; 16 KiB leaves room and bounds memory per message.
pub const MAX_INGRESS_MESSAGE: usize = 16 * 1024;
/// The RFC 3261 §8.1.1.7 magic cookie; a branch made of it alone identifies nothing.
const MAGIC_COOKIE: &str = "z9hG4bK";

/// What to do with requests from addresses that are not a configured trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UntrustedPolicy {
    /// Say nothing: no amplification, no fingerprinting.
    #[default]
    Drop,
    /// Answer requests with 403 Forbidden (never ACKs or responses).
    Forbidden,
}

/// Ingress settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressConfig {
    /// Treatment of sources that are not a trunk.
    pub untrusted: UntrustedPolicy,
    /// Rate per trunk address.
    pub trusted_rate: RateLimit,
    /// Rate per other address (only matters with [`UntrustedPolicy::Forbidden`]).
    pub untrusted_rate: RateLimit,
    /// Largest message accepted.
    pub max_message: usize,
    /// Where agents' SIP devices may register from; None when the registrar is off.
    pub agent_networks: Option<Networks>,
    /// Rate per agent source address (every message counts).
    pub agent_rate: RateLimit,
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            untrusted: UntrustedPolicy::Drop,
            trusted_rate: RateLimit {
                per_second: 500.0,
                burst: 1000.0,
            },
            untrusted_rate: RateLimit {
                per_second: 5.0,
                burst: 20.0,
            },
            max_message: MAX_INGRESS_MESSAGE,
            agent_networks: None,
            agent_rate: RateLimit {
                per_second: 200.0,
                burst: 1000.0,
            },
        }
    }
}

/// The outcome of screening one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screened {
    /// Say nothing; the reason is for logs and tests.
    Drop(&'static str),
    /// Send this back to the source, on the transport it came in on.
    Reply(Vec<u8>),
    /// A well-formed request from a trunk, identity headers removed.
    Request(Request),
    /// A well-formed response from a trunk, identity headers removed.
    Response(Response),
}

/// The screening state: trusted addresses and rate limiters.
#[derive(Debug)]
pub struct Ingress {
    config: IngressConfig,
    trusted: HashSet<IpAddr>,
    trusted_rate: RateLimiter,
    untrusted_rate: RateLimiter,
    agent_rate: RateLimiter,
}

/// A fresh tag for the To header of a stateless response (RFC 3261 §8.2.6.2).
pub fn new_tag() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

impl Ingress {
    /// Screening with `config` and no trusted address yet.
    pub fn new(config: IngressConfig) -> Self {
        Self {
            trusted_rate: RateLimiter::new(config.trusted_rate),
            untrusted_rate: RateLimiter::new(config.untrusted_rate),
            agent_rate: RateLimiter::new(config.agent_rate),
            config,
            trusted: HashSet::new(),
        }
    }

    /// Lets `ip` (a trunk's address) send us requests and responses.
    pub fn trust(&mut self, ip: IpAddr) {
        self.trusted.insert(canonical_ip(ip));
    }

    /// Replaces the trusted addresses (the trunk set changed at run time).
    pub fn set_trusted(&mut self, ips: impl IntoIterator<Item = IpAddr>) {
        self.trusted = ips.into_iter().map(canonical_ip).collect();
    }

    /// True when `ip` is a trunk's address.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(&canonical_ip(ip))
    }

    /// True when `ip` is in the networks agents' devices may register from.
    fn in_agent_networks(&self, ip: IpAddr) -> bool {
        self.config
            .agent_networks
            .as_ref()
            .is_some_and(|n| n.allows(ip))
    }

    /// True when messages from `ip` get real answers: a trunk's or an agent device's.
    pub fn answers(&self, ip: IpAddr) -> bool {
        self.is_trusted(ip) || self.in_agent_networks(ip)
    }

    /// The largest message accepted (for stream framers).
    pub fn max_message(&self) -> usize {
        self.config.max_message
    }

    /// True when a new connection from `ip` should even be read from.
    pub fn admits_connection(&self, ip: IpAddr) -> bool {
        self.answers(ip) || self.config.untrusted == UntrustedPolicy::Forbidden
    }

    /// Screens one datagram or one framed stream message from `from`; `known_call` says
    /// whether a Call-ID is a call we hold (its messages never spend the trunk's tokens).
    pub fn screen(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
        now: Instant,
        known_call: impl Fn(&str) -> bool,
    ) -> Screened {
        let trunk = self.is_trusted(from.ip());
        // A trunk stays a trunk inside the agents' networks: its calls pass free.
        let agent = !trunk && self.in_agent_networks(from.ip());
        if agent {
            if !self.agent_rate.allow(from.ip(), now) {
                return Screened::Drop("rate limit");
            }
        } else if !trunk {
            if self.config.untrusted == UntrustedPolicy::Drop {
                return Screened::Drop("untrusted source");
            }
            if !self.untrusted_rate.allow(from.ip(), now) {
                return Screened::Drop("rate limit");
            }
        }
        // Trunks and agents are answered; strangers get a 403 at most.
        let trusted = trunk || agent;
        // Spends one of the trunk's tokens, for what could start a transaction or earn a reply.
        let spend = |ingress: &mut Self| !trunk || ingress.trusted_rate.allow(from.ip(), now);
        if bytes.len() > self.config.max_message {
            if !spend(self) {
                return Screened::Drop("rate limit");
            }
            return reply_salvaged(bytes, trusted, 513, "Message Too Large");
        }
        let msg = match sip::parse_message(bytes) {
            Ok(msg) => msg,
            Err(SipError::Empty) => return Screened::Drop("keep-alive"),
            Err(err) => {
                if !spend(self) {
                    return Screened::Drop("rate limit");
                }
                debug!(%from, %err, "malformed SIP message");
                let Some(salvaged) = salvage_request(bytes) else {
                    return Screened::Drop("malformed, unanswerable");
                };
                let (status, reason) = status_for(&err, &salvaged);
                return reply_to(&salvaged, trusted, status, reason);
            }
        };
        let free = trunk
            && match &msg {
                Message::Response(_) => true,
                Message::Request(_) => msg.call_id().is_some_and(&known_call),
            };
        if !free && !spend(self) {
            return Screened::Drop("rate limit");
        }
        match msg {
            Message::Response(mut resp) if trusted => {
                strip_identity(&mut resp.headers);
                Screened::Response(resp)
            }
            Message::Response(_) => Screened::Drop("response from untrusted source"),
            Message::Request(req) if req.method == Method::Ack && !trusted => {
                Screened::Drop("ACK from untrusted source")
            }
            Message::Request(req) if !trusted => reply(&req, 403, "Forbidden"),
            Message::Request(mut req) => {
                if let Method::Extension(_) = req.method {
                    let mut resp = sip::response_to(&req, 501, "Not Implemented", Some(&new_tag()));
                    resp.headers.push("Allow", ALLOW);
                    return Screened::Reply(Message::Response(resp).to_bytes());
                }
                let branch = Message::Request(req.clone()).top_via_branch();
                if branch.as_deref() == Some(MAGIC_COOKIE) {
                    return if req.method == Method::Ack {
                        Screened::Drop("ACK without transaction id")
                    } else {
                        reply(&req, 400, "Missing Transaction Identifier")
                    };
                }
                strip_identity(&mut req.headers);
                Screened::Request(req)
            }
        }
    }

    /// Answers a stream that can no longer be framed (the connection is closed after it).
    pub fn screen_frame_error(
        &self,
        pending: &[u8],
        err: FrameError,
        from: SocketAddr,
    ) -> Screened {
        let trusted = self.answers(from.ip());
        let (status, reason) = match err {
            FrameError::TooLarge => (513, "Message Too Large"),
            FrameError::MissingContentLength | FrameError::BadContentLength => (400, "Bad Request"),
        };
        reply_salvaged(pending, trusted, status, reason)
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4 (dual-stack sockets report them so).
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn status_for(err: &SipError, salvaged: &Salvaged) -> (u16, &'static str) {
    match err {
        SipError::UnsupportedVersion(_) => (505, "Version Not Supported"),
        SipError::TooLarge(_) => (513, "Message Too Large"),
        // An unknown method is the first thing a UAS reports (RFC 4475 §3.1.2.18).
        SipError::CSeqMismatch
            if matches!(Method::parse(&salvaged.method), Ok(Method::Extension(_))) =>
        {
            (501, "Not Implemented")
        }
        _ => (400, "Bad Request"),
    }
}

fn reply_to(salvaged: &Salvaged, trusted: bool, status: u16, reason: &str) -> Screened {
    if salvaged.method == "ACK" {
        return Screened::Drop("malformed ACK");
    }
    let status = if trusted { status } else { 403 };
    let reason = if trusted { reason } else { "Forbidden" };
    Screened::Reply(error_response(salvaged, status, reason, &new_tag()))
}

fn reply_salvaged(bytes: &[u8], trusted: bool, status: u16, reason: &str) -> Screened {
    match salvage_request(bytes) {
        Some(salvaged) => reply_to(&salvaged, trusted, status, reason),
        None => Screened::Drop("unanswerable"),
    }
}

fn reply(req: &Request, status: u16, reason: &str) -> Screened {
    let resp = sip::response_to(req, status, reason, Some(&new_tag()));
    Screened::Reply(Message::Response(resp).to_bytes())
}

#[cfg(test)]
mod tests;
