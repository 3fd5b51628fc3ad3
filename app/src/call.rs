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
use c2c_sbc::sdp::{build_offer, MediaOffer};
use c2c_sbc::shell::{Attempt, Sbc, TraceEntry, TrunkCall};
use c2c_store::{Store, WebSession};
use c2c_token::{SessionNumber, TokenVerifier, VerifiedCall};
use c2c_web::metrics as m;
use c2c_web::screening::{ActiveCalls, CallSlot};
use c2c_web::Campaigns;
use c2c_wire::{CallState, ClientMessage, EndReason, ServerMessage};

mod agent_side;
mod callees;
mod flow;
mod trunk_side;
mod waiting;

use crate::cdr::{CallRecorder, CallRecords};
use c2c_media::bridge::{Bridge, BridgeConfig, LatchScope};
use c2c_media::loops::{MediaCommand, MediaEvent, MediaHandle, MediaLoops};
use c2c_media::peer::BrowserPeer;
use c2c_media::MediaSettings;
use c2c_token::clock::unix_now;
use callees::Callees;
pub use flow::trunk_media;
use flow::{Action, CallFlow, Input, MAX_CALL};
use trunk_side::{keep_tracing, next_leg_event, record_traced};
pub use waiting::HoldMusic;
use waiting::{QueueSpot, QUEUE_POLL};

/// How long a browser has to send its `call` message after connecting.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(10);
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
    /// Where call records go (the database, or the spool while it is away).
    pub records: CallRecords,
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
    /// Picks the agents a call rings (its round-robin memory is the node's).
    pub router: Arc<std::sync::Mutex<c2c_routing::Router>>,
    /// What waiting callers hear.
    pub hold_music: Arc<HoldMusic>,
    /// Where agents' phones may be (`[registrar] networks`): their RTP is latched only
    /// from there; None with the registrar off.
    pub agent_networks: Option<c2c_sbc::networks::Networks>,
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
        .get(verified.campaign())
        .is_some_and(|c| c.config.active)
    {
        metrics::counter!(m::CALLS_REFUSED, "reason" => "campaign_inactive").increment(1);
        tracing::warn!(campaign = %verified.campaign(), "token for an inactive campaign");
        return refuse(
            &mut ws,
            "campaign_inactive",
            "this campaign no longer takes calls",
        )
        .await;
    }
    let cdr = CallRecorder::start(&gw.records, &gw.node, &verified);
    // The campaign's concurrent-call limit, taken atomically across every node: the token's
    // screening saw a free line, but others may have started since.
    let max = gw
        .campaigns
        .get(verified.campaign())
        .map_or(1, |c| c.config.max_concurrent_calls);
    let claim = match SlotClaim::take(&gw, verified.campaign(), cdr.id(), max).await {
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
    let session = match gw.store.session(verified.session()).await {
        Ok(session) => session,
        Err(e) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => "not_placed").increment(1);
            let detail = format!("session lookup: {e}");
            cdr.not_placed(&detail);
            tracing::warn!(error = %detail, call = %cdr.id(), "call could not start");
            let message = format!("The call could not be placed (reference {}).", cdr.id());
            return refuse(&mut ws, "failed", &message).await;
        }
    };
    let agents = match verified.route().agents {
        false => None,
        true => match agent_side::plan(&gw, &verified, session.as_ref()).await {
            Ok(plan) if plan.targets.is_empty() && !queues(&gw, &verified) => {
                metrics::counter!(m::CALLS_REFUSED, "reason" => "no_agent").increment(1);
                cdr.not_placed("no agent could take the call (busy, away, in wrap-up or offline)");
                return refuse(
                    &mut ws,
                    "no_agent",
                    "Every agent is busy; please try again shortly.",
                )
                .await;
            }
            Ok(plan) => Some(plan),
            Err(e) => {
                metrics::counter!(m::CALLS_REFUSED, "reason" => "not_placed").increment(1);
                cdr.not_placed(&e);
                tracing::warn!(error = %e, call = %cdr.id(), "call could not be routed");
                let message = format!("The call could not be placed (reference {}).", cdr.id());
                return refuse(&mut ws, "failed", &message).await;
            }
        },
    };
    let who = Callees::new(&gw, &verified, agents);
    match Call::start(&gw, &mut ws, &verified, &offer, &cdr, session, who).await {
        Ok(call) => call.run(&gw, &mut ws, incoming).await,
        Err(e) => {
            metrics::counter!(m::CALLS_REFUSED, "reason" => "not_placed").increment(1);
            cdr.not_placed(&e);
            // The detail (trunk hosts, database errors) is for the log and the call record;
            // the anonymous caller gets the record's id to quote.
            tracing::warn!(error = %e, session = %verified.session(), call = %cdr.id(), "call could not start");
            let message = format!("The call could not be placed (reference {}).", cdr.id());
            refuse(&mut ws, "failed", &message).await;
        }
    }
}

/// Whether the call's campaign lets calls wait for an agent when none is free.
fn queues(gw: &Gateway, v: &VerifiedCall) -> bool {
    gw.campaigns
        .get(v.campaign())
        .is_some_and(|c| c.config.routing.queue)
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
    ) -> Result<Option<SlotClaim>, c2c_store::StoreError> {
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
    /// The leg being rung or carrying the call; None while the call waits in the queue.
    trunk: Option<TrunkCall>,
    /// The call's place in the queue, when its campaign lets it wait.
    queue: Option<QueueSpot>,
    /// The visitor's web session (the routing rules read it).
    web_session: Option<WebSession>,
    /// What the token granted: the caller ID, the session, the route's destinations.
    verified: VerifiedCall,
    /// The INVITE's parameters; only the destination changes between attempts.
    attempt: Attempt,
    /// What happens next: every decision of the call's life.
    flow: CallFlow,
    /// The SIP messages of the trunk leg; None once the SBC forgot the call.
    trace: Option<mpsc::UnboundedReceiver<TraceEntry>>,
    media: MediaHandle,
    session: String,
    number: SessionNumber,
    /// Counts this call against its campaign until the call is dropped.
    _slot: CallSlot,
    /// The call's detail record.
    cdr: CallRecorder,
    /// Who the call rings: the route's destinations, or agents.
    callees: Callees,
}

impl Call {
    #[allow(clippy::too_many_arguments)]
    async fn start(
        gw: &Gateway,
        ws: &mut Sink,
        v: &VerifiedCall,
        offer: &str,
        cdr: &CallRecorder,
        web_session: Option<WebSession>,
        mut callees: Callees,
    ) -> Result<Call, String> {
        let context = agent_side::call_context(web_session.as_ref());
        // The token was used: its number stays with the session for the call and the linger.
        let now = unix_now();
        let until = now + MAX_CALL.as_secs() as i64 + gw.number_linger_s;
        match gw
            .store
            .start_lease(v.number(), v.session(), now, until)
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
        let mut bridge = Bridge::new(peer, config, Instant::now());
        if let (Some(_), Some(networks)) = (&callees.agents, gw.agent_networks.clone()) {
            // A phone behind NAT sends from elsewhere than its SDP says: latch it, there.
            bridge = bridge.latching_within(LatchScope::new(move |ip| networks.allows(ip)));
        }
        let media = gw
            .media_loops
            .add(media_slot, bridge, trunk_ports, v.session());
        send(ws, &ServerMessage::Answer { sdp: answer }).await;

        let slot = gw.active_calls.start(v.campaign());
        let sdp_offer = build_offer(&MediaOffer {
            addr: rtp_addr,
            session_id: rand::random::<u32>().into(),
            session_version: 1,
        });
        let mut attempt = Attempt {
            destination: 0,
            context,
            sdp_offer,
        };
        let campaign = gw.campaigns.get(v.campaign());
        let ring_timeout = campaign.as_ref().map_or(DEFAULT_RING, |c| {
            Duration::from_secs(c.config.ring_timeout_s.into())
        });
        let max_wait = campaign
            .as_ref()
            .filter(|c| c.config.routing.to_agents() && c.config.routing.queue)
            .map(|c| Duration::from_secs(c.config.routing.max_wait_s.into()));
        let queue = callees
            .agents
            .as_ref()
            .zip(max_wait)
            .map(|(plan, max)| QueueSpot::new(gw, v, cdr.id(), plan.priority, max));
        let nobody_free = callees
            .agents
            .as_ref()
            .is_some_and(|p| p.targets.is_empty());
        let music = match max_wait {
            Some(_) => {
                let file = campaign
                    .as_ref()
                    .and_then(|c| c.config.routing.hold_music.clone());
                Some(gw.hold_music.for_file(file.as_deref()).await)
            }
            None => None,
        };
        let (mut trunk, flow) = match max_wait.zip(music.clone()) {
            Some((max, music)) if nobody_free => {
                cdr.event("queue", "no agent free: the call waits");
                let flow = CallFlow::queued(Instant::now(), ring_timeout, max, music);
                (None, flow)
            }
            _ => {
                let trunk = callees.place_from(gw, v, &mut attempt, cdr).await?;
                send(
                    ws,
                    &ServerMessage::State {
                        state: CallState::Trying,
                    },
                )
                .await;
                let flow = CallFlow::new(
                    Instant::now(),
                    attempt.destination,
                    callees.count(v),
                    ring_timeout,
                );
                let flow = match max_wait.zip(music) {
                    Some((max, music)) => flow.may_wait(Instant::now(), max, music),
                    None => flow,
                };
                (Some(trunk), flow)
            }
        };
        Ok(Call {
            flow,
            trace: trunk.as_mut().and_then(TrunkCall::take_trace),
            trunk,
            queue,
            web_session,
            verified: v.clone(),
            attempt,
            media,
            session: v.session().to_owned(),
            number: v.number().clone(),
            _slot: slot,
            cdr: cdr.clone(),
            callees,
        })
    }

    async fn run(mut self, gw: &Gateway, ws: &mut Sink, mut incoming: mpsc::Receiver<Incoming>) {
        let mut drain_over = gw.drain_over.clone();
        let mut media_open = true;
        let reason = loop {
            if let Some(reason) = self.carry_out(gw, ws).await {
                break reason;
            }
            let deadline = self.flow.deadline();
            let input = tokio::select! {
                ev = next_leg_event(&mut self.trunk, &mut self.trace, &self.cdr) => match ev {
                    Some(ev) => Input::Leg(ev),
                    None => Input::LegGone,
                },
                () = tokio::time::sleep(QUEUE_POLL), if self.flow.is_queued() => {
                    match self.poll_queue(gw).await {
                        Ok(input) => input,
                        Err(e) => {
                            tracing::warn!(error = %e, session = %self.session, "queue poll failed; the call waits on");
                            continue;
                        }
                    }
                }
                item = incoming.recv(), if self.flow.browser_open() => match item {
                    Some(Incoming::Message(m)) => Input::Browser(m),
                    Some(Incoming::Malformed(e)) => Input::BrowserMalformed(e),
                    None => Input::BrowserClosed,
                },
                () = drain_period_over(&mut drain_over), if self.flow.drain_matters() => {
                    tracing::info!(session = %self.session, "drain period over: ending the call");
                    Input::DrainOver
                }
                ev = self.media.events.recv(), if media_open => match ev {
                    Some(ev) => Input::Media(ev),
                    None => {
                        media_open = false;
                        Input::Media(MediaEvent::BrowserGone)
                    }
                },
                () = tokio::time::sleep_until(deadline.into()) => Input::Deadline,
            };
            match &input {
                Input::Leg(LegEvent::Ended { reason, status }) => {
                    tracing::info!(session = %self.session, reason = reason.as_str(), ?status, destination = self.flow.destination(), phase = ?self.flow.phase(), "trunk leg ended");
                }
                Input::Media(MediaEvent::RtpTimeout(side)) => {
                    tracing::info!(session = %self.session, ?side, "RTP timeout");
                }
                Input::Media(MediaEvent::Connected) => {
                    tracing::debug!(session = %self.session, "browser media connected");
                }
                _ => {}
            }
            self.flow.handle(input, Instant::now());
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
        if self.flow.browser_open() {
            send(ws, &ServerMessage::Ended { reason }).await;
            let _ = ws.send(Message::Close(None)).await;
        }
        self.record_media().await;
    }

    /// One look at the queue for the flow: the call's place, or that it is its turn.
    async fn poll_queue(&mut self, gw: &Gateway) -> Result<Input, String> {
        let Some(queue) = self.queue.as_mut() else {
            return Err("a queued call without a place in the queue".into());
        };
        queue
            .poll(
                gw,
                &self.verified,
                self.web_session.as_ref(),
                &mut self.callees,
            )
            .await
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

    /// Does what the flow asked, in order; the end reason once it ended the call.
    async fn carry_out(&mut self, gw: &Gateway, ws: &mut Sink) -> Option<EndReason> {
        while let Some(action) = self.flow.poll_action() {
            match action {
                Action::Send(msg) => send(ws, &msg).await,
                Action::HangUp => {
                    if let Some(trunk) = &self.trunk {
                        trunk.hangup();
                    }
                }
                Action::Place { destination } => {
                    tracing::info!(session = %self.session, destination, "trying the next destination");
                    let placed = match self.place(gw, destination).await {
                        Ok(destination) => Input::Placed { destination },
                        Err(e) => {
                            tracing::warn!(session = %self.session, error = %e, "no further destination could be called");
                            Input::PlaceFailed
                        }
                    };
                    self.flow.handle(placed, Instant::now());
                }
                Action::Media(MediaCommand::TrunkMedia(mut media)) => {
                    // An agent's phone may be behind NAT (the trunk's media is never learnt).
                    media.latch = self.callees.agents.is_some();
                    self.media.send(MediaCommand::TrunkMedia(media));
                }
                Action::Media(command) => self.media.send(command),
                Action::Record { kind, detail } => self.cdr.event(kind, detail),
                Action::Connected { destination, after } => {
                    metrics::histogram!(m::CALL_SETUP_SECONDS).record(after.as_secs_f64());
                    self.callees.connected(destination, &self.cdr);
                }
                Action::End(reason) => return Some(reason),
            }
        }
        None
    }

    /// Calls the first destination from `destination` on that can be placed, with the same
    /// offer and media; the index of the one called.
    async fn place(&mut self, gw: &Gateway, destination: usize) -> Result<usize, String> {
        let mut next = Attempt {
            destination,
            ..self.attempt.clone()
        };
        let trunk = self
            .callees
            .place_from(gw, &self.verified, &mut next, &self.cdr)
            .await?;
        metrics::counter!(m::DESTINATIONS_HUNTED).increment(1);
        // The last attempt's late messages (its final ACK) still belong to the ladder.
        record_traced(&mut self.trace, &self.cdr);
        if let Some(trace) = self.trace.take() {
            keep_tracing(trace, &self.cdr);
        }
        let mut trunk = trunk;
        self.trace = trunk.take_trace();
        self.trunk = Some(trunk);
        self.attempt = next;
        Ok(self.attempt.destination)
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
