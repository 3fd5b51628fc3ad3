//! `TrunkLeg`: one outbound call toward a trunk, sans-IO (RFC 3261 UAC: INVITE client
//! transaction §17.1.1, CANCEL §9.1, the dialog §12 and BYE §15 with non-INVITE timers §17.1.2).
//!
//! Shaped like str0m: feed it datagrams ([`TrunkLeg::handle_datagram`]), timeouts
//! ([`TrunkLeg::handle_timeout`]) and the local hang-up ([`TrunkLeg::hangup`]), then drain
//! [`TrunkLeg::poll_output`] until it returns `None`. **Always drain after every input**: the
//! last output before `None` is the `Timeout` at which to call `handle_timeout` next.
//!
//! ```no_run
//! # use std::time::{Duration, Instant};
//! # use c2c_sbc::leg::{LegError, LegParams, Output, TrunkLeg};
//! # fn send(_: &[u8], _: std::net::SocketAddr) {}
//! # fn example(params: LegParams) -> Result<(), LegError> {
//! let mut leg = TrunkLeg::new(params, Instant::now())?;
//! while let Some(output) = leg.poll_output() {
//!     match output {
//!         Output::Transmit { bytes, to } => send(&bytes, to),
//!         Output::Event(event) => println!("{event:?}"),
//!         Output::Timeout(_at) => {} // sleep until `_at` (or a datagram), then feed the leg
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use thiserror::Error;
use tracing::{debug, warn};

mod auth;
mod dialog;
mod event;
mod interrupted;
mod outcome;
mod reinvite;
pub(crate) mod transaction;

pub use auth::MAX_AUTH_ATTEMPTS;
pub use c2c_wire::EndReason;
pub(crate) use dialog::in_dialog_next_hop;
pub use event::{reason_for_status, LegEvent, Output};
pub use transaction::{CANCEL_WAIT, LINGER, T1, T2, TIMER_B, TIMER_F};

use crate::context::{context_headers, CallContext};
use crate::destination::{Destination, DestinationError};
use crate::networks::Networks;
use crate::sdp::RemoteMedia;
use crate::sip::{self, Message, Method, Request, Response};
use crate::trunk::{CallerIdHeader, Transport, TrunkConfig};
use c2c_token::VerifiedCall;
use dialog::Dialog;
use transaction::ClientTx;

/// The anonymous From of RFC 3323 §4.1.1.3.
const ANONYMOUS_FROM: &str = "\"Anonymous\" <sip:anonymous@anonymous.invalid>";
/// Privacy value asking to withhold the asserted identity (RFC 3325 §9.3).
const PRIVACY_ID: &str = "id";
/// Why a forked call's other devices are cancelled (RFC 3326 §2, RFC 3261 §9.1).
pub const COMPLETED_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";
/// Methods we accept inside the dialog (advertised in Allow).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO";

/// Everything needed to place one call.
#[derive(Debug, Clone)]
pub struct LegParams {
    /// The trunk the call goes through.
    pub trunk: TrunkConfig,
    /// The trunk's resolved address.
    pub trunk_addr: SocketAddr,
    /// Our address as the trunk should see it (Via sent-by and Contact).
    pub local_addr: SocketAddr,
    /// The call the token granted: its session number is the caller ID, its session and
    /// campaign go in X-C2C-Session and X-C2C-Campaign, its route says whether to ask for
    /// `Privacy: id`.
    pub call: VerifiedCall,
    /// Who to call: one of the route's destinations (a number or user part at the trunk, or
    /// an agent's `sip:` URI).
    pub destination: String,
    /// The visitor's web context (page, referrer, UTM), sent as the trunk's
    /// `context_headers` ask.
    pub context: CallContext,
    /// Our SDP offer (see [`crate::sdp::build_offer`]).
    pub sdp_offer: String,
    /// End the attempt (as a timeout) when the trunk sent nothing at all for this long, so
    /// the next trunk can be tried; None waits for Timer B.
    pub give_up_after: Option<Duration>,
    /// Continue the call of an earlier attempt on another trunk (same Call-ID and From tag,
    /// higher CSeq, RFC 3261 §8.1.3.4).
    pub continues: Option<Continuation>,
    /// Where the leg may send (`[sip] trunk_networks`): a Contact or Record-Route target, or
    /// an SDP media address, outside it gets no packet, and the call is ended or the media
    /// refused.
    pub networks: Networks,
    /// An agent's device rather than a trunk: every request of the call goes to
    /// `trunk_addr`, where its REGISTER came from, whatever its Contact or Record-Route say
    /// (a phone behind NAT writes its private address there; RFC 5626 §5.3).
    pub pinned: bool,
}

/// What a new attempt keeps from the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The Call-ID of the call.
    pub call_id: String,
    /// Our From tag.
    pub local_tag: String,
    /// The last CSeq number used.
    pub cseq: u32,
}

/// Why a leg could not be created.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegError {
    /// The destination or caller number is unusable.
    #[error(transparent)]
    Destination(#[from] DestinationError),
}

/// Who a leg is in its dialog: what every request it sends carries.
#[derive(Debug)]
struct Identity {
    call_id: String,
    local_tag: String,
    /// The INVITE's CSeq number.
    cseq: u32,
    request_uri: String,
    from: String,
    to: String,
    local_addr: SocketAddr,
    trunk_addr: SocketAddr,
    transport: Transport,
    /// Where the leg may send besides the trunk address.
    networks: Networks,
    /// Every request goes to `trunk_addr` (an agent's device, see [`LegParams::pinned`]).
    pinned: bool,
}

/// Where the INVITE client transaction is (RFC 3261 Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InviteState {
    Calling,
    Proceeding,
    Completed,
    Terminated,
}

/// One outbound call toward a trunk.
#[derive(Debug)]
pub struct TrunkLeg {
    id: Identity,
    invite: ClientTx,
    invite_state: InviteState,
    invite_via: String,
    /// When to give up on a silent trunk (see [`LegParams::give_up_after`]).
    give_up_at: Option<Instant>,
    /// The trunk answered the INVITE at all (even 100 Trying).
    any_response: bool,
    /// Our current SDP, restated when the trunk sends a new offer.
    local_sdp: String,
    /// Our `o=` version, bumped with every SDP we send (RFC 3264 §8).
    sdp_version: u64,
    /// The highest CSeq the trunk used in the dialog (RFC 3261 §12.2.2).
    remote_cseq: Option<u32>,
    /// The trunk's re-INVITE or UPDATE being answered.
    reoffer: Option<reinvite::Reoffer>,
    /// PRACKs sent so far (each takes the next CSeq, RFC 3262 §7.1).
    pracks: u32,
    /// RSeq of the last reliable provisional response acknowledged (RFC 3262 §4).
    last_rseq: Option<u32>,
    /// The PRACK in flight.
    prack: Option<ClientTx>,
    /// The INVITE as last sent, to resend with credentials (RFC 3261 §22.2).
    invite_request: Request,
    /// Account for digest authentication, when the trunk has one.
    credentials: Option<(String, String)>,
    /// The only realm we give credentials to, when configured.
    realm: Option<String>,
    auth_attempts: u32,
    /// Branch and ACK of the challenged INVITE, to re-ACK a retransmitted 401/407.
    prior_invite: Option<(String, Vec<u8>)>,
    non2xx_ack: Option<Vec<u8>>,
    hangup_requested: bool,
    /// The `Reason` our CANCEL or BYE carries (RFC 3326), when the hang-up has one.
    hangup_reason: Option<&'static str>,
    cancel: Option<ClientTx>,
    cancel_deadline: Option<Instant>,
    dialog: Option<Dialog>,
    bye: Option<ClientTx>,
    said_trying: bool,
    said_ringing: bool,
    early_media: Option<RemoteMedia>,
    ended: bool,
    linger_until: Option<Instant>,
    terminated: bool,
    outputs: VecDeque<Output>,
    timeout_reported: bool,
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// A fresh RFC 3261 branch (magic cookie `z9hG4bK`, §8.1.1.7).
fn new_branch() -> String {
    format!("z9hG4bK{}", random_hex(10))
}

/// A Via value for a request we send (RFC 3261 §18.1.1 sent-protocol, RFC 3581 rport).
fn via_value(transport: Transport, local: SocketAddr, branch: &str) -> String {
    let proto = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
        Transport::Tls => "TLS",
    };
    // Over TLS we have no listener of our own: `alias` asks the trunk to send its requests
    // back over the connection we opened (RFC 5923 §5).
    let alias = if transport == Transport::Tls {
        ";alias"
    } else {
        ""
    };
    format!("SIP/2.0/{proto} {local};branch={branch}{alias};rport")
}

/// Checks what [`TrunkLeg::new`] would refuse, without building anything.
pub fn check_params(params: &LegParams) -> Result<(), LegError> {
    Destination::parse(&params.destination, "destination")?;
    Ok(())
}

/// A fresh call identity: random Call-ID and From tag, before the first CSeq.
pub fn new_call_identity() -> Continuation {
    Continuation {
        call_id: random_hex(16),
        local_tag: random_hex(8),
        cseq: 0,
    }
}

impl TrunkLeg {
    /// Builds the INVITE and queues its first transmission.
    pub fn new(params: LegParams, now: Instant) -> Result<Self, LegError> {
        let destination = Destination::parse(&params.destination, "destination")?;
        let privacy = params.call.route().privacy;
        let trunk = &params.trunk;
        let host = trunk.uri_host();
        let domain = trunk.from_domain();
        // `+` and digits only (a SessionNumber): nothing in it needs escaping.
        let caller = params.call.number().as_str();
        let user_phone = if trunk.user_phone { ";user=phone" } else { "" };
        // `sip:` with transport=tls rather than `sips:`: a `sips:` Request-URI demands TLS on
        // every hop to the callee (RFC 5630 §3.1.3), which no PSTN call can have.
        let transport_param = match trunk.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        // No port when none is configured: the trunk's domain is resolved by SRV (RFC 3263).
        let port = match trunk.port {
            0 => String::new(),
            port => format!(":{port}"),
        };
        let request_uri = match &destination {
            Destination::Number(n) => {
                let dest = sip::escape_user(n);
                format!("sip:{dest}@{host}{port}{user_phone}{transport_param}")
            }
            // An agent's own address: the trunk is only the next hop (outbound proxy), so
            // neither its port nor its transport belong in the URI.
            Destination::Uri { user, host, port } => {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("sip:{}@{host}{port}", sip::escape_user(user))
            }
        };
        let (call_id, local_tag, cseq) = match params.continues.clone() {
            Some(c) => (c.call_id, c.local_tag, c.cseq.saturating_add(1)),
            None => (random_hex(16), random_hex(8), 1),
        };
        let from = match trunk.caller_id_header {
            // With privacy the identity travels in P-Asserted-Identity only and From is
            // anonymous (RFC 3323 §4.1.1.3); a From-only trunk has nowhere else to read it.
            CallerIdHeader::Both if privacy => {
                format!("{ANONYMOUS_FROM};tag={local_tag}")
            }
            CallerIdHeader::From | CallerIdHeader::Both => {
                format!("\"Web caller\" <sip:{caller}@{domain}>;tag={local_tag}")
            }
            CallerIdHeader::Pai => match trunk.username.as_deref() {
                Some(user) => format!("<sip:{}@{domain}>;tag={local_tag}", sip::escape_user(user)),
                None => format!("{ANONYMOUS_FROM};tag={local_tag}"),
            },
        };
        let branch = new_branch();
        let reliable = trunk.transport != Transport::Udp;
        let invite_via = via_value(trunk.transport, params.local_addr, &branch);
        let invite_tx =
            ClientTx::new(branch, Vec::new(), params.trunk_addr, TIMER_B, None, now).over(reliable);
        let mut leg = Self::at_rest(
            Identity {
                call_id,
                local_tag,
                cseq,
                to: format!("<{request_uri}>"),
                request_uri,
                from,
                local_addr: params.local_addr,
                trunk_addr: params.trunk_addr,
                transport: trunk.transport,
                networks: params.networks.clone(),
                pinned: params.pinned,
            },
            invite_tx,
        );
        leg.give_up_at = params.give_up_after.map(|d| now + d);
        leg.invite_via = invite_via;
        leg.local_sdp = params.sdp_offer.clone();
        leg.credentials = trunk.username.clone().zip(trunk.password.clone());
        leg.realm = trunk.realm.clone();
        let mut invite = leg.base_request(
            Method::Invite,
            &leg.id.request_uri,
            &leg.invite_via,
            &leg.id.to,
            &[],
        );
        let h = &mut invite.headers;
        if matches!(
            trunk.caller_id_header,
            CallerIdHeader::Pai | CallerIdHeader::Both
        ) {
            h.push("P-Asserted-Identity", format!("<sip:{caller}@{domain}>"));
        }
        if privacy {
            // RFC 3325 §9.3: the trusted network removes the asserted identity before the
            // callee sees it.
            h.push("Privacy", PRIVACY_ID);
        }
        h.push("Contact", leg.contact());
        h.push("Allow", ALLOW);
        h.push("Supported", "100rel");
        for (name, value) in context_headers(
            trunk.context_headers,
            params.call.session(),
            params.call.campaign(),
            &params.context,
        ) {
            h.push(name, value);
        }
        h.push("Content-Type", "application/sdp");
        invite.body = params.sdp_offer.into_bytes();
        leg.invite.bytes = Message::Request(invite.clone()).to_bytes();
        leg.invite_request = invite;
        leg.transmit(leg.invite.bytes.clone(), leg.id.trunk_addr);
        Ok(leg)
    }

    /// A leg with this identity and every other state at rest (nothing sent, no dialog).
    fn at_rest(id: Identity, invite: ClientTx) -> Self {
        Self {
            id,
            invite,
            invite_state: InviteState::Calling,
            invite_via: String::new(),
            give_up_at: None,
            any_response: false,
            local_sdp: String::new(),
            sdp_version: 1,
            remote_cseq: None,
            reoffer: None,
            pracks: 0,
            last_rseq: None,
            prack: None,
            invite_request: Request::new(Method::Invite, ""),
            credentials: None,
            realm: None,
            auth_attempts: 0,
            prior_invite: None,
            non2xx_ack: None,
            hangup_requested: false,
            hangup_reason: None,
            cancel: None,
            cancel_deadline: None,
            dialog: None,
            bye: None,
            said_trying: false,
            said_ringing: false,
            early_media: None,
            ended: false,
            linger_until: None,
            terminated: false,
            outputs: VecDeque::new(),
            timeout_reported: false,
        }
    }

    /// Our Contact, with the transport when it is not UDP (RFC 3261 §19.1.4).
    fn contact(&self) -> String {
        match self.id.transport {
            Transport::Udp => format!("<sip:c2c@{}>", self.id.local_addr),
            Transport::Tcp => format!("<sip:c2c@{};transport=tcp>", self.id.local_addr),
            Transport::Tls => format!("<sip:c2c@{};transport=tls>", self.id.local_addr),
        }
    }

    /// What a follow-up attempt on another trunk needs to continue this call.
    pub fn continuation(&self) -> Continuation {
        Continuation {
            call_id: self.id.call_id.clone(),
            local_tag: self.id.local_tag.clone(),
            cseq: self.id.cseq,
        }
    }

    /// True when the call may move to another trunk: the trunk failed (silence, 5xx, Timer B)
    /// before anyone was reached, and we did not hang up.
    pub fn may_fail_over(&self) -> bool {
        !self.hangup_requested
            && !self.said_ringing
            && self.early_media.is_none()
            && self.dialog.is_none()
    }

    /// Whether a message from `ip` may belong to this leg: the trunk's address, or the next
    /// hop of its dialog (an allowed Contact or Record-Route target). Anyone else, another
    /// trunk among them, cannot end or change the call.
    pub fn accepts_from(&self, ip: std::net::IpAddr) -> bool {
        ip == self.id.trunk_addr.ip() || self.dialog.as_ref().is_some_and(|d| d.next_hop.ip() == ip)
    }

    /// The Call-ID of this call (random; it carries no internal address).
    pub fn call_id(&self) -> &str {
        &self.id.call_id
    }

    /// True once the call ended and retransmissions no longer need answering: drop the leg.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// True when `msg` belongs to this attempt: a response to a request it sent (top Via
    /// branch, RFC 3261 §17.1.3) or a request inside its dialog (tags, §12.2.2). Attempts of
    /// one call share its Call-ID, so this tells them apart.
    pub fn owns(&self, msg: &Message) -> bool {
        match msg {
            Message::Response(_) => msg.top_via_branch().is_some_and(|b| self.sent_branch(&b)),
            Message::Request(req) => self.in_dialog(req),
        }
    }

    /// True when `branch` is that of a request we sent and may still get responses to.
    fn sent_branch(&self, branch: &str) -> bool {
        let prior = self.prior_invite.as_ref().map(|(b, _)| b);
        let txs = [Some(&self.invite), self.bye.as_ref(), self.prack.as_ref()];
        txs.into_iter()
            .flatten()
            .map(|tx| &tx.branch)
            .chain(prior)
            .any(|b| b == branch)
    }

    /// Feeds a message received from `from` that belongs to this call (same Call-ID).
    pub fn handle_datagram(&mut self, msg: Message, from: SocketAddr, now: Instant) {
        self.timeout_reported = false;
        if msg.call_id() != Some(self.id.call_id.as_str()) {
            debug!(call_id = ?msg.call_id(), "message for another call ignored");
            return;
        }
        match msg {
            Message::Request(req) => self.on_request(req, from, now),
            Message::Response(resp) => self.on_response(resp, now),
        }
    }

    /// Hangs up: CANCEL before the answer (after a 1xx, RFC 3261 §9.1), BYE after it.
    pub fn hangup(&mut self, now: Instant) {
        self.timeout_reported = false;
        if self.ended || self.hangup_requested {
            return;
        }
        self.hangup_requested = true;
        if self.dialog.is_some() {
            self.send_bye(now);
        } else if self.invite_state == InviteState::Proceeding {
            self.send_cancel(now);
        }
        // In Calling we must wait for a provisional response before CANCEL (§9.1).
    }

    /// Hangs up because another device took the call: the CANCEL (or the BYE, should it
    /// have answered too) says so (RFC 3326), so the phone shows the call as answered
    /// elsewhere and logs no missed call.
    pub fn hangup_elsewhere(&mut self, now: Instant) {
        if !(self.ended || self.hangup_requested) {
            self.hangup_reason = Some(COMPLETED_ELSEWHERE);
        }
        self.hangup(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeout_reported = false;
        if !self.any_response && !self.ended && self.give_up_at.is_some_and(|at| at <= now) {
            // The trunk is silent: stop here so the call can move to the next trunk.
            self.invite.stop();
            self.invite_state = InviteState::Terminated;
            self.end(EndReason::Timeout, None, now);
        }
        if let Some(at) = self.invite.next_send.filter(|at| *at <= now) {
            // Timer A: retransmit and double (RFC 3261 §17.1.1.2).
            self.invite.interval *= 2;
            self.invite.next_send = Some(at + self.invite.interval);
            self.transmit(self.invite.bytes.clone(), self.invite.to);
        }
        if self.invite.deadline.is_some_and(|at| at <= now) {
            self.invite.stop();
            self.invite_state = InviteState::Terminated;
            let reason = if self.hangup_requested {
                EndReason::HangupLocal
            } else {
                EndReason::Timeout
            };
            self.end(reason, None, now);
        }
        if self.cancel_deadline.is_some_and(|at| at <= now) {
            self.cancel_deadline = None;
            if self.dialog.is_none() {
                self.invite.stop();
                self.invite_state = InviteState::Terminated;
                self.end(EndReason::HangupLocal, None, now);
            }
        }
        if let Some(tx) = self.cancel.as_mut() {
            if tx.tick(now, &mut self.outputs) {
                debug!(call_id = %self.id.call_id, "CANCEL timed out");
            }
        }
        let bye_timed_out = match self.bye.as_mut() {
            Some(tx) => tx.tick(now, &mut self.outputs),
            None => false,
        };
        if bye_timed_out {
            warn!(call_id = %self.id.call_id, "BYE timed out (Timer F)");
            self.end(EndReason::HangupLocal, None, now);
        }
        self.tick_reoffer(now);
        if let Some(tx) = self.prack.as_mut() {
            if tx.tick(now, &mut self.outputs) {
                warn!(call_id = %self.id.call_id, "PRACK timed out");
            }
        }
        if self.linger_until.is_some_and(|at| at <= now) {
            self.linger_until = None;
            self.terminated = true;
        }
    }

    /// The next output: transmissions and events in order, then one `Timeout`, then `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(out) = self.outputs.pop_front() {
            return Some(out);
        }
        if self.timeout_reported {
            return None;
        }
        self.timeout_reported = true;
        self.next_timeout().map(Output::Timeout)
    }

    fn next_timeout(&self) -> Option<Instant> {
        let ok = self.reoffer.as_ref().and_then(|r| r.ok_tx.as_ref());
        let txs = [
            Some(&self.invite),
            self.cancel.as_ref(),
            self.bye.as_ref(),
            ok,
            self.prack.as_ref(),
        ];
        txs.into_iter()
            .flatten()
            .flat_map(|tx| [tx.next_send, tx.deadline])
            .chain([self.cancel_deadline, self.linger_until])
            .chain([self
                .give_up_at
                .filter(|_| !self.any_response && !self.ended)])
            .flatten()
            .min()
    }

    fn transmit(&mut self, bytes: Vec<u8>, to: SocketAddr) {
        self.outputs.push_back(Output::Transmit { bytes, to });
    }

    fn event(&mut self, event: LegEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Whether RTP may go to `media`'s address: inside the networks, or no address at all
    /// (0.0.0.0 is a hold, nothing is sent there).
    fn media_allowed(&self, media: &RemoteMedia) -> bool {
        let ip = media.addr.ip();
        ip.is_unspecified() || self.id.networks.allows(ip)
    }

    /// Reports that the trunk named an address we will not send to.
    fn refuse(&mut self, what: &str, addr: SocketAddr) {
        warn!(call_id = %self.id.call_id, %addr, what, "address outside [sip] trunk_networks refused");
        self.event(LegEvent::Refused(format!(
            "the trunk's {what} {addr} is outside [sip] trunk_networks: nothing was sent there"
        )));
    }

    /// Keeps an ended leg for another [`LINGER`] after it had to act again (a late final
    /// response to ACK, a late answer to end): Timer D runs from then (RFC 3261 §17.1.1.2).
    fn linger_from(&mut self, now: Instant) {
        if self.ended {
            self.linger_until = Some(now + LINGER);
        }
    }

    fn end(&mut self, reason: EndReason, status: Option<u16>, now: Instant) {
        if self.ended {
            return;
        }
        debug!(call_id = %self.id.call_id, reason = reason.as_str(), ?status, "leg ended");
        self.ended = true;
        self.linger_until = Some(now + LINGER);
        self.event(LegEvent::Ended { reason, status });
    }

    /// Via, Max-Forwards, From, To, Call-ID, CSeq and Route for a request we send.
    fn base_request(
        &self,
        method: Method,
        uri: &str,
        via: &str,
        to: &str,
        routes: &[String],
    ) -> Request {
        // In-dialog requests after the INVITE count up from its CSeq (RFC 3261 §12.2.1.1).
        let number = match method {
            Method::Bye => self.id.cseq + self.pracks + 1,
            Method::Prack => self.id.cseq + self.pracks,
            _ => self.id.cseq,
        };
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push("Via", via);
        h.push("Max-Forwards", "70");
        h.push("From", self.id.from.as_str());
        h.push("To", to);
        h.push("Call-ID", self.id.call_id.as_str());
        h.push("CSeq", format!("{number} {method}"));
        for route in routes {
            h.push("Route", route.as_str());
        }
        req
    }

    fn fresh_via(&self) -> (String, String) {
        let branch = new_branch();
        let via = via_value(self.id.transport, self.id.local_addr, &branch);
        (branch, via)
    }

    fn send_cancel(&mut self, now: Instant) {
        if self.cancel.is_some() {
            return;
        }
        // CANCEL reuses the INVITE's Request-URI, Via (branch) and CSeq number (§9.1).
        let mut req = self.base_request(
            Method::Cancel,
            &self.id.request_uri,
            &self.invite_via,
            &self.id.to,
            &[],
        );
        if let Some(reason) = self.hangup_reason {
            req.headers.push("Reason", reason);
        }
        let bytes = Message::Request(req).to_bytes();
        let branch = self.invite.branch.clone();
        self.transmit(bytes.clone(), self.id.trunk_addr);
        let reliable = self.id.transport != Transport::Udp;
        self.cancel = Some(
            ClientTx::new(branch, bytes, self.id.trunk_addr, TIMER_F, Some(T2), now).over(reliable),
        );
        self.cancel_deadline = Some(now + CANCEL_WAIT);
    }

    fn send_bye(&mut self, now: Instant) {
        let Some(dialog) = self.dialog.clone() else {
            return;
        };
        if self.bye.is_some() {
            return;
        }
        let (branch, via) = self.fresh_via();
        let mut req = self.base_request(
            Method::Bye,
            &dialog.target,
            &via,
            &dialog.remote_to,
            &dialog.routes,
        );
        if let Some(reason) = self.hangup_reason {
            req.headers.push("Reason", reason);
        }
        let bytes = Message::Request(req).to_bytes();
        self.transmit(bytes.clone(), dialog.next_hop);
        let reliable = self.id.transport != Transport::Udp;
        self.bye = Some(
            ClientTx::new(branch, bytes, dialog.next_hop, TIMER_F, Some(T2), now).over(reliable),
        );
    }

    fn on_response(&mut self, resp: Response, now: Instant) {
        let msg = Message::Response(resp);
        let (Some(cseq), Some(branch)) = (msg.cseq(), msg.top_via_branch()) else {
            return;
        };
        let status = msg.status().unwrap_or_default();
        match cseq.method {
            Method::Invite if branch == self.invite.branch && cseq.number == self.id.cseq => {
                self.on_invite_response(status, &msg, now)
            }
            Method::Invite
                if self
                    .prior_invite
                    .as_ref()
                    .is_some_and(|(b, _)| *b == branch) =>
            {
                if let Some((_, ack)) = self.prior_invite.clone() {
                    self.transmit(ack, self.id.trunk_addr); // a retransmitted challenge
                }
            }
            Method::Prack
                if self.prack.as_ref().is_some_and(|tx| tx.branch == branch) && status >= 200 =>
            {
                if let Some(tx) = self.prack.as_mut() {
                    tx.stop();
                }
            }
            Method::Cancel if branch == self.invite.branch && status >= 200 => {
                if let Some(tx) = self.cancel.as_mut() {
                    tx.stop();
                }
            }
            Method::Bye
                if self.bye.as_ref().is_some_and(|tx| tx.branch == branch) && status >= 200 =>
            {
                if let Some(tx) = self.bye.as_mut() {
                    tx.stop();
                }
                self.end(EndReason::HangupLocal, None, now);
            }
            _ => debug!(call_id = %self.id.call_id, status, "stray response ignored"),
        }
    }
}
