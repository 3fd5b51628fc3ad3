//! One call from the browser's point of view: token → answer → INVITE → states → ended.
//!
//! This ties the three parts together for one WebSocket: the SBC verifies the token and
//! places the trunk leg, the media task bridges audio, and every change is told to the browser.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use c2c_sbc::leg::{EndCause, LegEvent};
use c2c_sbc::sdp::{build_offer, MediaOffer, RemoteMedia};
use c2c_sbc::shell::{OutboundCall, Sbc, TraceEntry, TrunkCall};
use c2c_sbc::token::{TokenVerifier, VerifiedCall};
use c2c_web::screening::{ActiveCalls, CallSlot};
use c2c_web::{Campaigns, Store};
use c2c_wire::{CallState, ClientMessage, EndReason, ServerMessage};

use crate::cdr::CallRecorder;
use crate::media::bridge::{Bridge, BridgeConfig, TrunkMedia};
use crate::media::peer::BrowserPeer;
use crate::media::task::{self, MediaCommand, MediaEvent, MediaHandle, MediaSockets};
use crate::media::MediaSettings;

/// How long a browser has to send its `call` message after connecting.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(10);
/// After we asked the trunk to hang up, how long we wait for it to confirm.
const HANGUP_WAIT: Duration = Duration::from_secs(40);
/// Longest call we let run; a runaway call costs the customer money.
const MAX_CALL: Duration = Duration::from_secs(4 * 3600);

/// What every call needs; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    /// Places trunk legs.
    pub sbc: Arc<Sbc>,
    /// Checks call tokens.
    pub verifier: TokenVerifier,
    /// Visitor context (page URL for X-C2C-Page), number leases.
    pub store: Store,
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
}

/// The sending half of the signalling socket.
type Sink = SplitSink<WebSocket, Message>;

/// What the reader task saw on the socket.
enum Incoming {
    Message(ClientMessage),
    Malformed(String),
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
    // The token is verified before anything else happens: no socket, no SIP.
    let verified = match gw
        .verifier
        .verify(&token, origin.as_deref(), unix_now())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(reason = %e, origin = ?origin, "call token refused");
            return refuse(&mut ws, e.code(), "call token refused").await;
        }
    };
    if !gw
        .campaigns
        .get(&verified.claims.cmp)
        .is_some_and(|c| c.config.active)
    {
        tracing::warn!(campaign = %verified.claims.cmp, "token for an inactive campaign");
        return refuse(
            &mut ws,
            "campaign_inactive",
            "this campaign no longer takes calls",
        )
        .await;
    }
    let cdr = CallRecorder::start(&gw.store, &verified);
    match Call::start(&gw, &mut ws, &verified, &offer, &cdr).await {
        Ok(call) => call.run(&gw, &mut ws, incoming).await,
        Err(e) => {
            cdr.not_placed(&e);
            tracing::warn!(error = %e, session = %verified.claims.sub, "call could not start");
            refuse(&mut ws, "failed", &e).await;
        }
    }
}

/// A call that got past verification.
struct Call {
    trunk: TrunkCall,
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
        let sockets = bind_media(gw)?;
        let browser_addr = sockets.browser.local_addr().map_err(|e| e.to_string())?;
        let rtp_addr = sockets.rtp.local_addr().map_err(|e| e.to_string())?;

        let (peer, answer) =
            BrowserPeer::answer(offer, browser_addr, Instant::now()).map_err(|e| e.to_string())?;
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
        let mut trunk = gw
            .sbc
            .place_call(OutboundCall {
                trunk: v.route.trunk.clone(),
                destination: v.route.destination.clone(),
                caller_number: v.claims.num.clone(),
                session_id: v.claims.sub.clone(),
                campaign: v.claims.cmp.clone(),
                page_url,
                sdp_offer,
                privacy: v.route.privacy,
            })
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            session = %v.claims.sub,
            number = %v.claims.num,
            call_id = %trunk.call_id(),
            "call placed"
        );
        cdr.placed(trunk.call_id());
        send(
            ws,
            &ServerMessage::State {
                state: CallState::Trying,
            },
        )
        .await;
        let config = BridgeConfig {
            rtp_timeout: gw.media.rtp_timeout,
        };
        let bridge = Bridge::new(peer, config, Instant::now());
        let media = task::spawn(bridge, sockets, &v.claims.sub);
        Ok(Call {
            trace: trunk.take_trace(),
            trunk,
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
        let mut ws_open = true;
        let reason = loop {
            let deadline = match hangup_asked {
                Some(at) => at + HANGUP_WAIT,
                None => self.started + MAX_CALL,
            };
            tokio::select! {
                ev = next_leg_event(&mut self.trunk, &mut self.trace, &self.cdr) => match ev {
                    Some(LegEvent::Trying) => {}
                    Some(LegEvent::Ringing) => {
                        send(ws, &ServerMessage::State { state: CallState::Ringing }).await;
                    }
                    Some(LegEvent::EarlyMedia(m)) => {
                        self.set_trunk_media(&m).await;
                        send(ws, &ServerMessage::State { state: CallState::EarlyMedia }).await;
                    }
                    Some(LegEvent::MediaChanged(m)) => {
                        // A re-INVITE moved the trunk's media (hold/unhold, new address).
                        self.set_trunk_media(&m).await;
                    }
                    Some(LegEvent::Answered(m)) => {
                        self.set_trunk_media(&m).await;
                        let _ = self.media.commands.send(MediaCommand::Answered).await;
                        send(ws, &ServerMessage::State { state: CallState::Answered }).await;
                    }
                    Some(LegEvent::Ended { cause, status }) => {
                        tracing::info!(session = %self.session, cause = cause.as_str(), ?status, "call ended");
                        break if timed_out {
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
                            let _ = self.media.commands.send(MediaCommand::Dtmf(digits)).await;
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
                () = tokio::time::sleep_until(deadline.into()) => {
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
        if let Some(mut trace) = self.trace.take() {
            // Late retransmissions and the last ACKs still belong to the call's ladder.
            let cdr = self.cdr.clone();
            tokio::spawn(async move {
                while let Some(entry) = trace.recv().await {
                    cdr.trace(entry);
                }
            });
        }
        let _ = self.media.commands.send(MediaCommand::Stop).await;
        // The linger starts now: an agent can still look the caller up or call back.
        let until = unix_now() + gw.number_linger_s;
        if let Err(e) = gw
            .store
            .extend_lease(&self.number, &self.session, until)
            .await
        {
            tracing::warn!(error = %e, session = %self.session, "number lease not extended");
        }
        if ws_open {
            send(ws, &ServerMessage::Ended { reason }).await;
            let _ = ws.send(Message::Close(None)).await;
        }
    }

    async fn set_trunk_media(&self, m: &RemoteMedia) {
        let media = TrunkMedia::from(m);
        let _ = self
            .media
            .commands
            .send(MediaCommand::TrunkMedia(media))
            .await;
    }
}

/// Binds the call's WebRTC socket and trunk RTP/RTCP pair from the `[media]` port range.
fn bind_media(gw: &Gateway) -> Result<MediaSockets, String> {
    let browser = gw
        .media
        .ports
        .bind_one(gw.media_ip)
        .map_err(|e| e.to_string())?;
    let pair = gw
        .media
        .ports
        .bind_pair(gw.media_ip)
        .map_err(|e| e.to_string())?;
    let tokio_socket = |s: std::net::UdpSocket| {
        s.set_nonblocking(true)
            .and_then(|()| UdpSocket::from_std(s))
            .map_err(|e| format!("media socket: {e}"))
    };
    Ok(MediaSockets {
        browser: tokio_socket(browser)?,
        rtp: tokio_socket(pair.rtp)?,
        rtcp: tokio_socket(pair.rtcp)?,
    })
}

/// The trunk leg's next event, recorded in the call's CDR first; the SIP messages traced
/// meanwhile are recorded as they come (cancel-safe: both receivers are).
async fn next_leg_event(
    trunk: &mut TrunkCall,
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
    cdr: &CallRecorder,
) -> Option<LegEvent> {
    loop {
        tokio::select! {
            ev = trunk.next_event() => {
                // The SBC traces every message before the event it caused.
                record_traced(trace, cdr);
                cdr.leg_event(ev.as_ref());
                return ev;
            }
            entry = next_traced(trace) => match entry {
                Some(entry) => cdr.trace(entry),
                None => *trace = None,
            },
        }
    }
}

/// The next trace entry; never, once the trace ended.
async fn next_traced(
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
) -> Option<TraceEntry> {
    match trace.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Records the trace entries already waiting.
fn record_traced(trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>, cdr: &CallRecorder) {
    while let Some(entry) = trace.as_mut().and_then(|rx| rx.try_recv().ok()) {
        cdr.trace(entry);
    }
}

/// The browser-facing reason for a trunk-side end.
fn end_reason(cause: EndCause) -> EndReason {
    match cause {
        EndCause::HangupLocal => EndReason::HangupLocal,
        EndCause::HangupRemote => EndReason::HangupRemote,
        EndCause::Busy => EndReason::Busy,
        EndCause::NoAnswer => EndReason::NoAnswer,
        EndCause::Rejected => EndReason::Rejected,
        EndCause::Unavailable => EndReason::Unavailable,
        EndCause::Failed => EndReason::Failed,
        EndCause::Timeout => EndReason::Timeout,
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
