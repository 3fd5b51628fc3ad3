//! One call from the browser's point of view: token → answer → INVITE → states → ended.
//!
//! This ties the three parts together for one WebSocket: the SBC verifies the token and
//! places the trunk leg, a media loop bridges audio, and every change is told to the browser.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::sdp::{build_offer, MediaOffer, RemoteMedia};
use c2c_sbc::shell::{OutboundCall, Sbc, TraceEntry, TrunkCall};
use c2c_sbc::token::{TokenVerifier, VerifiedCall};
use c2c_web::metrics as m;
use c2c_web::screening::{ActiveCalls, CallSlot};
use c2c_web::{Campaigns, Store};
use c2c_wire::{CallState, ClientMessage, EndReason, ServerMessage};

mod trunk_side;

use crate::cdr::CallRecorder;
use crate::media::bridge::{Bridge, BridgeConfig, TrunkMedia};
use crate::media::loops::{MediaCommand, MediaEvent, MediaHandle, MediaLoops};
use crate::media::peer::BrowserPeer;
use crate::media::MediaSettings;
use trunk_side::{end_reason, hunts_on, keep_tracing, next_leg_event, place_from, record_traced};

/// How long a browser has to send its `call` message after connecting.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(10);
/// After we asked the trunk to hang up, how long we wait for it to confirm.
const HANGUP_WAIT: Duration = Duration::from_secs(40);
/// Longest call we let run; a runaway call costs the customer money.
const MAX_CALL: Duration = Duration::from_secs(4 * 3600);
/// Ring time per destination when the campaign is gone from the cache mid-call.
const DEFAULT_RING: Duration = Duration::from_secs(20);

/// What every call needs; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    /// Places trunk legs.
    pub sbc: Arc<Sbc>,
    /// Whether the node takes calls (no new call while draining).
    pub readiness: c2c_web::readiness::Readiness,
    /// Turns true when a drain's grace period is over: every call ends now.
    pub drain_over: tokio::sync::watch::Receiver<bool>,
    /// Checks call tokens.
    pub verifier: TokenVerifier,
    /// Visitor context (page URL for X-C2C-Page), number leases.
    pub store: Store,
    /// This node's id, recorded with each call it carries.
    pub node: String,
    /// Campaigns by public id: a token for a campaign deactivated since is refused.
    pub campaigns: Campaigns,
    /// Calls in progress per campaign (screened against the campaign's limit).
    pub active_calls: ActiveCalls,
    /// How long the session number stays with the session after the call, seconds.
    pub number_linger_s: i64,
    /// Address media sockets bind to and advertise.
    pub media_ip: IpAddr,
    /// Media port range and RTP timeout.
    pub media: MediaSettings,
    /// The per-core loops that carry every call's audio.
    pub media_loops: Arc<MediaLoops>,
}

/// The sending half of the signalling socket.
type Sink = SplitSink<WebSocket, Message>;

/// What the reader task saw on the socket.
enum Incoming {
    Message(ClientMessage),
    Malformed(String),
}

/// Resolves once the node's drain period is over (never, should the node drop the sender).
async fn drain_period_over(over: &mut tokio::sync::watch::Receiver<bool>) {
    if over.wait_for(|over| *over).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Runs one signalling WebSocket to its end.
pub async fn run(gw: Gateway, socket: WebSocket, origin: Option<String>) {
    let (mut ws, stream) = socket.split();
    let mut incoming = spawn_reader(stream);
    let first = tokio::time::timeout(
        FIRST_MESSAGE_WAIT,
        next_client_message(&mut ws, &mut incoming),
    )
    .await;
    let (token, offer) = match first {
        Ok(Some(ClientMessage::Call { token, sdp })) => (token, sdp),
        Ok(Some(_)) => {
            return refuse(&mut ws, "protocol", "the first message must be `call`").await
        }
        Ok(None) => return,
        Err(_) => return refuse(&mut ws, "timeout", "no call request received").await,
    };
    if gw.readiness.is_draining() {
        metrics::counter!(m::CALLS_REFUSED, "reason" => "draining").increment(1);
        return refuse(
            &mut ws,
            "draining",
            "this server is restarting; please call again",
        )
        .await;
    }
    // The token is verified before anything else happens: no socket, no SIP.
    let verified = match gw
        .verifier
        .verify(&token, origin.as_deref(), unix_now())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => e.code()).increment(1);
            tracing::warn!(reason = %e, origin = ?origin, "call token refused");
            return refuse(&mut ws, e.code(), "call token refused").await;
        }
    };
    if !gw
        .campaigns
        .get(&verified.claims.cmp)
        .is_some_and(|c| c.config.active)
    {
        metrics::counter!(m::CALLS_REFUSED, "reason" => "campaign_inactive").increment(1);
        tracing::warn!(campaign = %verified.claims.cmp, "token for an inactive campaign");
        return refuse(
            &mut ws,
            "campaign_inactive",
            "this campaign no longer takes calls",
        )
        .await;
    }
    let cdr = CallRecorder::start(&gw.store, &gw.node, &verified);
    // The campaign's concurrent-call limit, taken atomically across every node: the token's
    // screening saw a free line, but others may have started since.
    let max = gw
        .campaigns
        .get(&verified.claims.cmp)
        .map_or(1, |c| c.config.max_concurrent_calls);
    let claim = match SlotClaim::take(&gw, &verified.claims.cmp, cdr.id(), max).await {
        Ok(Some(claim)) => claim,
        Ok(None) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => "busy").increment(1);
            cdr.not_placed("every line of the campaign is busy (max_concurrent_calls)");
            return refuse(
                &mut ws,
                "busy",
                "Every line is busy; please try again shortly.",
            )
            .await;
        }
        Err(e) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => "not_placed").increment(1);
            let detail = format!("call slot: {e}");
            cdr.not_placed(&detail);
            tracing::warn!(error = %detail, call = %cdr.id(), "call could not start");
            let message = format!("The call could not be placed (reference {}).", cdr.id());
            return refuse(&mut ws, "failed", &message).await;
        }
    };
    let _claim = claim; // held until the call is over
    match Call::start(&gw, &mut ws, &verified, &offer, &cdr).await {
        Ok(call) => call.run(&gw, &mut ws, incoming).await,
        Err(e) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => "not_placed").increment(1);
            cdr.not_placed(&e);
            // The detail (trunk hosts, database errors) is for the log and the call record;
            // the anonymous caller gets the record's id to quote.
            tracing::warn!(error = %e, session = %verified.claims.sub, call = %cdr.id(), "call could not start");
            let message = format!("The call could not be placed (reference {}).", cdr.id());
            refuse(&mut ws, "failed", &message).await;
        }
    }
}

/// One of the campaign's concurrent-call slots, cluster-wide; given back when dropped.
struct SlotClaim {
    store: Store,
    campaign: String,
    call_id: String,
}

impl SlotClaim {
    /// Takes a slot for `call_id`; None when the campaign carries `max` calls already.
    async fn take(
        gw: &Gateway,
        campaign: &str,
        call_id: &str,
        max: u32,
    ) -> Result<Option<SlotClaim>, c2c_web::StoreError> {
        let now = unix_now();
        let until = now + MAX_CALL.as_secs() as i64;
        let slot = gw
            .store
            .claim_call_slot(campaign, call_id, &gw.node, max, now, until)
            .await?;
        Ok(slot.map(|_| SlotClaim {
            store: gw.store.clone(),
            campaign: campaign.to_owned(),
            call_id: call_id.to_owned(),
        }))
    }
}

impl Drop for SlotClaim {
    fn drop(&mut self) {
        let (store, campaign, call_id) = (
            self.store.clone(),
            std::mem::take(&mut self.campaign),
            std::mem::take(&mut self.call_id),
        );
        // Should this fail, the slot expires with the longest call, or at the node's restart.
        tokio::spawn(async move {
            if let Err(e) = store.release_call_slot(&campaign, &call_id).await {
                tracing::warn!(error = %e, call = %call_id, "call slot not given back");
            }
        });
    }
}

/// A call that got past verification.
struct Call {
    trunk: TrunkCall,
    /// The INVITE's parameters; only the destination changes between attempts.
    outbound: OutboundCall,
    /// The campaign's destinations in order, and the index of the one being called.
    destinations: Vec<String>,
    current: usize,
    /// How long one destination rings before the next is tried.
    ring_timeout: Duration,
    /// When the current destination's INVITE went out.
    attempt_started: Instant,
    /// The SIP messages of the trunk leg; None once the SBC forgot the call.
    trace: Option<mpsc::UnboundedReceiver<TraceEntry>>,
    media: MediaHandle,
    session: String,
    number: String,
    started: Instant,
    /// Counts this call against its campaign until the call is dropped.
    _slot: CallSlot,
    /// The call's detail record.
    cdr: CallRecorder,
}

impl Call {
    async fn start(
        gw: &Gateway,
        ws: &mut Sink,
        v: &VerifiedCall,
        offer: &str,
        cdr: &CallRecorder,
    ) -> Result<Call, String> {
        // The token was used: its number stays with the session for the call and the linger.
        let now = unix_now();
        let until = now + MAX_CALL.as_secs() as i64 + gw.number_linger_s;
        match gw
            .store
            .start_lease(&v.claims.num, &v.claims.sub, now, until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err("the session number's lease had ended".into()),
            Err(e) => return Err(format!("number lease: {e}")),
        }
        let trunk_ports = gw
            .media
            .ports
            .bind_pair(gw.media_ip)
            .map_err(|e| e.to_string())?;
        let rtp_addr = trunk_ports.rtp.local_addr().map_err(|e| e.to_string())?;
        let media_slot = gw.media_loops.pick();
        let (peer, answer) = BrowserPeer::answer(offer, media_slot.browser_addr, Instant::now())
            .map_err(|e| e.to_string())?;
        // In its loop before the browser has the answer: its first ICE check must find it.
        let config = BridgeConfig {
            rtp_timeout: gw.media.rtp_timeout,
        };
        let bridge = Bridge::new(peer, config, Instant::now());
        let media = gw
            .media_loops
            .add(media_slot, bridge, trunk_ports, &v.claims.sub);
        send(ws, &ServerMessage::Answer { sdp: answer }).await;

        let page_url = match gw.store.session(&v.claims.sub).await {
            Ok(Some(s)) => s.page_url,
            Ok(None) => String::new(),
            Err(e) => return Err(format!("session lookup: {e}")),
        };
        let slot = gw.active_calls.start(&v.claims.cmp);
        let sdp_offer = build_offer(&MediaOffer {
            addr: rtp_addr,
            session_id: rand::random::<u32>().into(),
            session_version: 1,
        });
        let outbound = OutboundCall {
            // The SBC knows trunks by org/name: the token's org picks among its own.
            trunk: c2c_web::qualified_trunk_name(&v.claims.org, &v.route.trunk),
            destination: String::new(),
            caller_number: v.claims.num.clone(),
            session_id: v.claims.sub.clone(),
            campaign: v.claims.cmp.clone(),
            page_url,
            sdp_offer,
            privacy: v.route.privacy,
        };
        let destinations = v.route.destinations.clone();
        let (mut trunk, current) = place_from(gw, &outbound, &destinations, 0, cdr).await?;
        let ring_timeout = gw.campaigns.get(&v.claims.cmp).map_or(DEFAULT_RING, |c| {
            Duration::from_secs(c.config.ring_timeout_s.into())
        });
        send(
            ws,
            &ServerMessage::State {
                state: CallState::Trying,
            },
        )
        .await;
        Ok(Call {
            trace: trunk.take_trace(),
            trunk,
            outbound,
            destinations,
            current,
            ring_timeout,
            attempt_started: Instant::now(),
            media,
            session: v.claims.sub.clone(),
            number: v.claims.num.clone(),
            started: Instant::now(),
            _slot: slot,
            cdr: cdr.clone(),
        })
    }

    async fn run(mut self, gw: &Gateway, ws: &mut Sink, mut incoming: mpsc::Receiver<Incoming>) {
        let mut hangup_asked: Option<Instant> = None;
        let mut timed_out = false;
        // The node drained and its grace period ran out: we end the call.
        let mut drained = false;
        let mut drain_over = gw.drain_over.clone();
        let mut ws_open = true;
        let mut answered = false;
        // The current destination rang out and was cancelled: its end moves to the next.
        let mut moving_on = false;
        let reason = loop {
            let deadline = match hangup_asked {
                Some(at) => at + HANGUP_WAIT,
                None => self.started + MAX_CALL,
            };
            let hunting = !answered && !moving_on && hangup_asked.is_none() && self.has_next();
            let ring_out = hunting.then(|| self.attempt_started + self.ring_timeout);
            tokio::select! {
                ev = next_leg_event(&mut self.trunk, &mut self.trace, &self.cdr) => match ev {
                    // Recorded with the call (next_leg_event); an answer's refusal ends next.
                    Some(LegEvent::Trying | LegEvent::Refused(_)) => {}
                    Some(LegEvent::Ringing) => {
                        send(ws, &ServerMessage::State { state: CallState::Ringing }).await;
                    }
                    Some(LegEvent::EarlyMedia(m)) => {
                        self.set_trunk_media(&m);
                        send(ws, &ServerMessage::State { state: CallState::EarlyMedia }).await;
                    }
                    Some(LegEvent::MediaChanged(m)) => {
                        // A re-INVITE moved the trunk's media (hold/unhold, new address).
                        self.set_trunk_media(&m);
                    }
                    Some(LegEvent::Answered(m)) => {
                        if !answered {
                            metrics::histogram!(m::CALL_SETUP_SECONDS).record(self.started.elapsed().as_secs_f64());
                        }
                        answered = true;
                        self.set_trunk_media(&m);
                        self.media.send(MediaCommand::Answered);
                        send(ws, &ServerMessage::State { state: CallState::Answered }).await;
                    }
                    Some(LegEvent::Ended { cause, status }) => {
                        let next = !answered && hangup_asked.is_none() && (moving_on || hunts_on(cause));
                        if next && self.has_next() {
                            tracing::info!(session = %self.session, cause = cause.as_str(), ?status, "destination did not take the call; trying the next");
                            moving_on = false;
                            match self.next_destination(gw).await {
                                Ok(()) => continue,
                                Err(e) => {
                                    tracing::warn!(session = %self.session, error = %e, "no further destination could be called");
                                    break EndReason::Failed;
                                }
                            }
                        }
                        tracing::info!(session = %self.session, cause = cause.as_str(), ?status, "call ended");
                        break if moving_on {
                            EndReason::NoAnswer
                        } else if drained {
                            EndReason::Unavailable
                        } else if timed_out {
                            EndReason::Timeout
                        } else if hangup_asked.is_some() {
                            EndReason::HangupLocal
                        } else {
                            end_reason(cause)
                        };
                    }
                    None => break EndReason::Failed,
                },
                item = incoming.recv(), if ws_open => match item {
                    Some(Incoming::Message(ClientMessage::Hangup)) | None => {
                        ws_open = item.is_some();
                        if hangup_asked.is_none() {
                            hangup_asked = Some(Instant::now());
                            self.trunk.hangup();
                        }
                    }
                    Some(Incoming::Message(ClientMessage::Dtmf { digits })) => {
                        if digits.chars().all(|c| crate::media::dtmf::event_code(c).is_ok()) {
                            self.media.send(MediaCommand::Dtmf(digits));
                        } else {
                            let msg = ServerMessage::Error { code: "bad_dtmf".into(), message: "digits must be 0-9, *, # or A-D".into() };
                            send(ws, &msg).await;
                        }
                    }
                    Some(Incoming::Message(ClientMessage::Call { .. })) => {
                        let msg = ServerMessage::Error { code: "protocol".into(), message: "a call is already in progress".into() };
                        send(ws, &msg).await;
                    }
                    Some(Incoming::Malformed(e)) => {
                        send(ws, &ServerMessage::Error { code: "bad_message".into(), message: e }).await;
                    }
                },
                () = drain_period_over(&mut drain_over), if hangup_asked.is_none() => {
                    tracing::info!(session = %self.session, "drain period over: ending the call");
                    self.cdr.event("state", "ended by the node's drain");
                    drained = true;
                    hangup_asked = Some(Instant::now());
                    self.trunk.hangup();
                }
                ev = self.media.events.recv() => match ev {
                    Some(MediaEvent::Connected) => tracing::debug!(session = %self.session, "browser media connected"),
                    Some(MediaEvent::BrowserGone) | None => {
                        if hangup_asked.is_none() {
                            hangup_asked = Some(Instant::now());
                            self.trunk.hangup();
                        }
                    }
                    Some(MediaEvent::RtpTimeout(side)) => {
                        tracing::info!(session = %self.session, ?side, "RTP timeout");
                        if hangup_asked.is_none() {
                            timed_out = true;
                            hangup_asked = Some(Instant::now());
                            self.trunk.hangup();
                        }
                    }
                    Some(MediaEvent::Stopped(_)) => {}
                },
                () = tokio::time::sleep_until(ring_out.map_or(deadline, |r| r.min(deadline)).into()) => {
                    if ring_out.is_some_and(|r| r <= Instant::now()) && hangup_asked.is_none() {
                        // Rang long enough: cancel, and call the next when the CANCEL is done.
                        moving_on = true;
                        self.trunk.hangup();
                        continue;
                    }
                    if hangup_asked.is_some() {
                        break EndReason::Failed;
                    }
                    hangup_asked = Some(Instant::now());
                    self.trunk.hangup();
                }
            }
        };
        record_traced(&mut self.trace, &self.cdr);
        self.cdr.end(reason);
        metrics::counter!(m::CALLS_ENDED, "reason" => reason.as_str()).increment(1);
        if let Some(trace) = self.trace.take() {
            keep_tracing(trace, &self.cdr);
        }
        self.media.send(MediaCommand::Stop);
        // The linger starts now: an agent can still look the caller up or call back.
        let until = unix_now() + gw.number_linger_s;
        if let Err(e) = gw
            .store
            .linger_lease(&self.number, &self.session, until)
            .await
        {
            tracing::warn!(error = %e, session = %self.session, "number lease not lingered");
        }
        if ws_open {
            send(ws, &ServerMessage::Ended { reason }).await;
            let _ = ws.send(Message::Close(None)).await;
        }
        self.record_media().await;
    }

    /// Waits (briefly: the loop answers a stop at once) for the media's final figures.
    async fn record_media(&mut self) {
        let stopped = async {
            while let Some(ev) = self.media.events.recv().await {
                if let MediaEvent::Stopped(stats) = ev {
                    return Some(stats);
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_secs(2), stopped).await {
            Ok(Some(stats)) => self.cdr.media(&stats),
            _ => tracing::warn!(session = %self.session, "media figures not received"),
        }
    }

    /// Whether another destination is left to try.
    fn has_next(&self) -> bool {
        self.current + 1 < self.destinations.len()
    }

    /// Calls the next destination that can be placed, with the same offer and media.
    async fn next_destination(&mut self, gw: &Gateway) -> Result<(), String> {
        let (trunk, current) = place_from(
            gw,
            &self.outbound,
            &self.destinations,
            self.current + 1,
            &self.cdr,
        )
        .await?;
        metrics::counter!(m::DESTINATIONS_HUNTED).increment(1);
        // The last attempt's late messages (its final ACK) still belong to the ladder.
        record_traced(&mut self.trace, &self.cdr);
        if let Some(trace) = self.trace.take() {
            keep_tracing(trace, &self.cdr);
        }
        let mut trunk = trunk;
        self.trace = trunk.take_trace();
        self.trunk = trunk;
        self.current = current;
        self.attempt_started = Instant::now();
        Ok(())
    }

    fn set_trunk_media(&self, m: &RemoteMedia) {
        self.media
            .send(MediaCommand::TrunkMedia(TrunkMedia::from(m)));
    }
}

/// Reads the socket in its own task, so the call loop can wait on it alongside everything else.
fn spawn_reader(mut stream: SplitStream<WebSocket>) -> mpsc::Receiver<Incoming> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            let item = match frame {
                Message::Text(t) => match serde_json::from_str::<ClientMessage>(t.as_str()) {
                    Ok(m) => Incoming::Message(m),
                    Err(e) => Incoming::Malformed(e.to_string()),
                },
                Message::Close(_) => break,
                _ => continue,
            };
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// The next well-formed client message; None when the socket closed. Malformed frames are
/// answered with an error and skipped.
async fn next_client_message(
    ws: &mut Sink,
    incoming: &mut mpsc::Receiver<Incoming>,
) -> Option<ClientMessage> {
    loop {
        match incoming.recv().await? {
            Incoming::Message(m) => return Some(m),
            Incoming::Malformed(e) => {
                send(
                    ws,
                    &ServerMessage::Error {
                        code: "bad_message".into(),
                        message: e,
                    },
                )
                .await;
            }
        }
    }
}

async fn refuse(ws: &mut Sink, code: &str, message: &str) {
    send(
        ws,
        &ServerMessage::Error {
            code: code.into(),
            message: message.into(),
        },
    )
    .await;
    let _ = ws.send(Message::Close(None)).await;
}

async fn send(ws: &mut Sink, msg: &ServerMessage) {
    match serde_json::to_string(msg) {
        Ok(text) => {
            let _ = ws.send(Message::Text(text.into())).await;
        }
        Err(e) => tracing::error!(error = %e, "signalling message did not serialise"),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
