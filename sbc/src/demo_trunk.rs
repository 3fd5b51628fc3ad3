//! An in-process demo SIP trunk: answers every INVITE and echoes the caller's audio back, so a
//! newcomer running `c2c serve --demo` can place a call and hear themselves.
//!
//! It is a minimal UAS on UDP (RFC 3261 §13.3, §15, §9.2): 100 and 180 at once, 200 OK with
//! PCMU + telephone-event after [`RING_DELAY`], 2xx retransmission until the ACK, BYE and CANCEL.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::leg::{LINGER, T1, T2};
use crate::sdp::{self, MediaOffer};
use crate::sip::{self, Message, Method, Request, MAX_MESSAGE_SIZE};

/// How long the demo "rings" before answering (long enough to show the ringing state).
pub const RING_DELAY: Duration = Duration::from_millis(400);
/// Echo stops (and the demo hangs up) after this long without RTP from the caller.
pub const RTP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Give up retransmitting the 200 OK without an ACK after 64*T1 (RFC 3261 §13.3.1.4).
const ACK_WAIT: Duration = Duration::from_secs(32);
/// How often the demo loop checks its timers.
const TICK: Duration = Duration::from_millis(50);

/// A running demo trunk; dropping it stops the SIP task and every echo.
#[derive(Debug)]
pub struct DemoTrunk {
    /// Where to send SIP to reach the demo trunk.
    pub sip_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for DemoTrunk {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DemoTrunk {
    /// Binds the SIP socket on `bind_ip` (a concrete address: it goes into the SDP) and starts.
    pub async fn start(bind_ip: IpAddr) -> std::io::Result<DemoTrunk> {
        let socket = UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await?;
        let sip_addr = socket.local_addr()?;
        info!(%sip_addr, "demo trunk listening");
        let task = tokio::spawn(run(socket, bind_ip));
        Ok(DemoTrunk { sip_addr, task })
    }
}

/// Aborts the echo task when the call state is dropped.
struct Echo(JoinHandle<()>);

impl Drop for Echo {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct DemoCall {
    invite: Request,
    peer: SocketAddr,
    to_tag: String,
    /// The last response to the INVITE, resent when the INVITE is retransmitted.
    last_response: Vec<u8>,
    answer_at: Option<Instant>,
    rtp: Option<UdpSocket>,
    /// Next 200 OK retransmission and its interval, until the ACK arrives.
    ok_retransmit: Option<(Instant, Duration)>,
    ok_deadline: Option<Instant>,
    echo: Option<Echo>,
    done_at: Option<Instant>,
}

async fn run(socket: UdpSocket, bind_ip: IpAddr) {
    let mut calls: HashMap<String, DemoCall> = HashMap::new();
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                match sip::parse_message(&buf[..len]) {
                    Ok(Message::Request(req)) => on_request(&socket, &mut calls, req, from, bind_ip).await,
                    Ok(Message::Response(_)) => {} // replies to our BYE need no action
                    Err(err) => debug!(%from, %err, "demo trunk dropped garbage"),
                }
            }
            _ = tick.tick() => on_tick(&socket, &mut calls, Instant::now()).await,
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(err) = socket.send_to(bytes, to).await {
        debug!(%to, %err, "demo trunk send failed");
    }
}

fn response(
    req: &Request,
    status: u16,
    reason: &str,
    tag: &str,
    contact: SocketAddr,
) -> sip::Response {
    let mut resp = sip::response_to(req, status, reason, Some(tag));
    if (101..300).contains(&status) && req.method == Method::Invite {
        resp.headers
            .push("Contact", format!("<sip:demo@{contact}>"));
    }
    resp
}

async fn on_request(
    socket: &UdpSocket,
    calls: &mut HashMap<String, DemoCall>,
    req: Request,
    from: SocketAddr,
    bind_ip: IpAddr,
) {
    let local = socket.local_addr().unwrap_or(SocketAddr::new(bind_ip, 0));
    let call_id = req.headers.get("Call-ID").unwrap_or_default().to_owned();
    match req.method {
        Method::Invite => {
            if let Some(call) = calls.get(&call_id) {
                send(socket, &call.last_response.clone(), from).await;
                return;
            }
            let rtp = match UdpSocket::bind(SocketAddr::new(bind_ip, 0)).await {
                Ok(rtp) => rtp,
                Err(err) => {
                    debug!(%err, "demo trunk could not bind RTP");
                    let resp = response(&req, 503, "Service Unavailable", "x", local);
                    send(socket, &Message::Response(resp).to_bytes(), from).await;
                    return;
                }
            };
            let to_tag = format!("{:016x}", rand::rng().random::<u64>());
            let trying = sip::response_to(&req, 100, "Trying", None);
            send(socket, &Message::Response(trying).to_bytes(), from).await;
            let ringing =
                Message::Response(response(&req, 180, "Ringing", &to_tag, local)).to_bytes();
            send(socket, &ringing, from).await;
            calls.insert(
                call_id,
                DemoCall {
                    invite: req,
                    peer: from,
                    to_tag,
                    last_response: ringing,
                    answer_at: Some(Instant::now() + RING_DELAY),
                    rtp: Some(rtp),
                    ok_retransmit: None,
                    ok_deadline: None,
                    echo: None,
                    done_at: None,
                },
            );
        }
        Method::Ack => {
            if let Some(call) = calls.get_mut(&call_id) {
                call.ok_retransmit = None;
                call.ok_deadline = None;
            }
        }
        Method::Bye | Method::Cancel => {
            let Some(call) = calls.get_mut(&call_id) else {
                let resp = sip::response_to(&req, 481, "Call/Transaction Does Not Exist", None);
                send(socket, &Message::Response(resp).to_bytes(), from).await;
                return;
            };
            let resp = response(&req, 200, "OK", &call.to_tag, local);
            send(socket, &Message::Response(resp).to_bytes(), from).await;
            let now = Instant::now();
            if req.method == Method::Cancel && call.answer_at.is_some() {
                // Not answered yet: CANCEL ends the INVITE with 487 (RFC 3261 §9.2).
                call.answer_at = None;
                call.rtp = None;
                let terminated =
                    response(&call.invite, 487, "Request Terminated", &call.to_tag, local);
                call.last_response = Message::Response(terminated).to_bytes();
                send(socket, &call.last_response.clone(), call.peer).await;
                call.done_at.get_or_insert(now);
            } else if req.method == Method::Bye {
                call.echo = None;
                call.ok_retransmit = None;
                call.done_at.get_or_insert(now);
            }
        }
        Method::Options => {
            let resp = sip::response_to(&req, 200, "OK", None);
            send(socket, &Message::Response(resp).to_bytes(), from).await;
        }
        _ => {
            let resp = sip::response_to(&req, 501, "Not Implemented", None);
            send(socket, &Message::Response(resp).to_bytes(), from).await;
        }
    }
}

async fn on_tick(socket: &UdpSocket, calls: &mut HashMap<String, DemoCall>, now: Instant) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    for call in calls.values_mut() {
        if call.answer_at.is_some_and(|at| at <= now) {
            call.answer_at = None;
            answer(socket, call, local, now).await;
        }
        if let Some((at, interval)) = call.ok_retransmit.filter(|(at, _)| *at <= now) {
            // Timer G style: T1 doubling, capped at T2 (RFC 3261 §13.3.1.4).
            let next = (interval * 2).min(T2);
            call.ok_retransmit = Some((at + next, next));
            send(socket, &call.last_response.clone(), call.peer).await;
        }
        if call.ok_deadline.is_some_and(|at| at <= now) {
            debug!("demo trunk: no ACK for 200 OK, dropping the call");
            call.ok_retransmit = None;
            call.ok_deadline = None;
            call.echo = None;
            call.done_at.get_or_insert(now);
        }
        if call.echo.as_ref().is_some_and(|e| e.0.is_finished()) && call.done_at.is_none() {
            // The caller went silent: hang up rather than leave a dead call open.
            call.echo = None;
            call.done_at = Some(now);
            send_bye(socket, call, local).await;
        }
    }
    calls.retain(|_, call| {
        call.done_at
            .is_none_or(|at| now.duration_since(at) < LINGER)
    });
}

async fn answer(socket: &UdpSocket, call: &mut DemoCall, local: SocketAddr, now: Instant) {
    let Some(rtp) = call.rtp.take() else { return };
    let Ok(rtp_addr) = rtp.local_addr() else {
        return;
    };
    let body = sdp::build_offer(&MediaOffer {
        addr: rtp_addr,
        session_id: rand::rng().random::<u32>().into(),
        session_version: 1,
    });
    let mut ok = response(&call.invite, 200, "OK", &call.to_tag, local);
    ok.headers.push("Content-Type", "application/sdp");
    ok.body = body.into_bytes();
    call.last_response = Message::Response(ok).to_bytes();
    send(socket, &call.last_response.clone(), call.peer).await;
    call.ok_retransmit = Some((now + T1, T1));
    call.ok_deadline = Some(now + ACK_WAIT);
    call.echo = Some(Echo(tokio::spawn(echo(rtp))));
}

/// Sends every RTP packet back where it came from until the caller is silent for a while.
async fn echo(rtp: UdpSocket) {
    let mut buf = vec![0u8; 2048];
    loop {
        match tokio::time::timeout(RTP_IDLE_TIMEOUT, rtp.recv_from(&mut buf)).await {
            Ok(Ok((len, from))) => {
                let _ = rtp.send_to(&buf[..len], from).await;
            }
            Ok(Err(err)) => debug!(%err, "demo echo receive error"),
            Err(_) => return,
        }
    }
}

/// A BYE from the demo (UAS side of the dialog, RFC 3261 §15.1.1).
async fn send_bye(socket: &UdpSocket, call: &DemoCall, local: SocketAddr) {
    let h = &call.invite.headers;
    let target = h
        .get("Contact")
        .and_then(|c| sip::split_list(c).next().and_then(sip::name_addr_uri))
        .unwrap_or(call.invite.uri.as_str())
        .to_owned();
    let mut bye = Request::new(Method::Bye, target);
    let branch = format!("z9hG4bK{:016x}", rand::rng().random::<u64>());
    bye.headers
        .push("Via", format!("SIP/2.0/UDP {local};branch={branch}"));
    bye.headers.push("Max-Forwards", "70");
    let to = h.get("To").unwrap_or_default();
    bye.headers
        .push("From", format!("{to};tag={}", call.to_tag));
    bye.headers.push("To", h.get("From").unwrap_or_default());
    bye.headers
        .push("Call-ID", h.get("Call-ID").unwrap_or_default());
    bye.headers.push("CSeq", "1 BYE");
    send(socket, &Message::Request(bye).to_bytes(), call.peer).await;
}
