//! The async UDP shell: one socket, one tokio task owning every [`TrunkLeg`], routing
//! datagrams by Call-ID and firing timers. All protocol decisions live in the legs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::leg::{LegError, LegEvent, LegParams, Output, TrunkLeg};
use crate::sip::{self, Message, Method, MAX_MESSAGE_SIZE};
use crate::trunk::{TrunkConfig, TrunkConfigError};

/// How the SBC listens and which trunks it knows.
#[derive(Debug, Clone)]
pub struct SbcConfig {
    /// Local UDP address to bind (port 0 picks one).
    pub listen: SocketAddr,
    /// Address to put in Via and Contact when it differs from the bound one (1:1 NAT).
    pub advertised: Option<SocketAddr>,
    /// Trunks calls can be placed through.
    pub trunks: Vec<TrunkConfig>,
}

/// One call to place.
#[derive(Debug, Clone)]
pub struct OutboundCall {
    /// Name of the trunk to use.
    pub trunk: String,
    /// Number or user to call.
    pub destination: String,
    /// Caller ID to present.
    pub caller_number: String,
    /// Web session id (X-C2C-Session).
    pub session_id: String,
    /// Campaign id (X-C2C-Campaign).
    pub campaign: String,
    /// Page URL (X-C2C-Page).
    pub page_url: String,
    /// Our SDP offer for the trunk side.
    pub sdp_offer: String,
}

/// Why the SBC could not start or place a call.
#[derive(Debug, Error)]
pub enum SbcError {
    /// Binding or reading the socket failed.
    #[error("SIP socket: {0}")]
    Io(#[from] std::io::Error),
    /// A trunk configuration is unusable.
    #[error(transparent)]
    Trunk(#[from] TrunkConfigError),
    /// Two trunks share a name.
    #[error("duplicate trunk name {0:?}")]
    DuplicateTrunk(String),
    /// The call names a trunk we don't have.
    #[error("unknown trunk {0:?}")]
    UnknownTrunk(String),
    /// The trunk host did not resolve to an address.
    #[error("trunk host {0:?} did not resolve")]
    Unresolved(String),
    /// The call's parameters are invalid.
    #[error(transparent)]
    Leg(#[from] LegError),
    /// Bound to a wildcard address without an advertised one: Via/Contact would be unroutable.
    #[error("listening on {0} needs an explicit advertised address")]
    NeedsAdvertised(SocketAddr),
    /// The SBC task has stopped.
    #[error("the SBC has stopped")]
    Stopped,
}

enum Command {
    Place {
        leg: Box<TrunkLeg>,
        events: mpsc::UnboundedSender<LegEvent>,
    },
    Hangup {
        call_id: String,
    },
}

/// A running SBC; dropping it stops its task.
#[derive(Debug)]
pub struct Sbc {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    trunks: Arc<HashMap<String, TrunkConfig>>,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Place { leg, .. } => write!(f, "Place({})", leg.call_id()),
            Self::Hangup { call_id } => write!(f, "Hangup({call_id})"),
        }
    }
}

/// A placed call: its events, and the way to hang it up. Dropping it hangs up.
#[derive(Debug)]
pub struct TrunkCall {
    call_id: String,
    events: mpsc::UnboundedReceiver<LegEvent>,
    commands: mpsc::UnboundedSender<Command>,
}

impl TrunkCall {
    /// The next call event; None once the SBC forgot the call (some time after it ended).
    pub async fn next_event(&mut self) -> Option<LegEvent> {
        self.events.recv().await
    }

    /// Hangs up (CANCEL or BYE as appropriate); harmless after the call ended.
    pub fn hangup(&self) {
        let _ = self.commands.send(Command::Hangup {
            call_id: self.call_id.clone(),
        });
    }

    /// The SIP Call-ID toward the trunk (for the CDR).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
}

impl Drop for TrunkCall {
    fn drop(&mut self) {
        self.hangup();
    }
}

impl Drop for Sbc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sbc {
    /// Validates the trunks, binds the UDP socket and starts the SIP task.
    pub async fn start(config: SbcConfig) -> Result<Sbc, SbcError> {
        let mut trunks = HashMap::new();
        for trunk in config.trunks {
            trunk.validate()?;
            if trunks.contains_key(&trunk.name) {
                return Err(SbcError::DuplicateTrunk(trunk.name));
            }
            trunks.insert(trunk.name.clone(), trunk);
        }
        let socket = UdpSocket::bind(config.listen).await?;
        let local_addr = socket.local_addr()?;
        let advertised = config.advertised.unwrap_or(local_addr);
        if advertised.ip().is_unspecified() {
            return Err(SbcError::NeedsAdvertised(advertised));
        }
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(socket, rx));
        info!(%local_addr, %advertised, "SIP UDP listening");
        Ok(Sbc {
            local_addr,
            advertised,
            trunks: Arc::new(trunks),
            commands,
            task,
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Resolves the trunk, builds the INVITE and hands the leg to the SIP task.
    pub async fn place_call(&self, call: OutboundCall) -> Result<TrunkCall, SbcError> {
        let trunk = self
            .trunks
            .get(&call.trunk)
            .ok_or_else(|| SbcError::UnknownTrunk(call.trunk.clone()))?
            .clone();
        let trunk_addr = resolve(&trunk, self.advertised).await?;
        let params = LegParams {
            trunk,
            trunk_addr,
            local_addr: self.advertised,
            destination: call.destination,
            caller_number: call.caller_number,
            session_id: call.session_id,
            campaign: call.campaign,
            page_url: call.page_url,
            sdp_offer: call.sdp_offer,
        };
        let leg = TrunkLeg::new(params, Instant::now())?;
        let call_id = leg.call_id().to_owned();
        let (events_tx, events) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Place {
                leg: Box::new(leg),
                events: events_tx,
            })
            .map_err(|_| SbcError::Stopped)?;
        Ok(TrunkCall {
            call_id,
            events,
            commands: self.commands.clone(),
        })
    }
}

/// Resolves the trunk host, preferring the address family we advertise.
async fn resolve(trunk: &TrunkConfig, local: SocketAddr) -> Result<SocketAddr, SbcError> {
    let host = trunk.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, trunk.port)).await?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| SbcError::Unresolved(trunk.host.clone()))
}

struct LegSlot {
    leg: Box<TrunkLeg>,
    events: mpsc::UnboundedSender<LegEvent>,
    next_timeout: Option<Instant>,
}

/// The SIP task: owns the socket and every leg.
async fn run(socket: UdpSocket, mut commands: mpsc::UnboundedReceiver<Command>) {
    let mut legs: HashMap<String, LegSlot> = HashMap::new();
    let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
    loop {
        let deadline = legs.values().filter_map(|s| s.next_timeout).min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Place { leg, events }) => {
                    let call_id = leg.call_id().to_owned();
                    let mut slot = LegSlot { leg, events, next_timeout: None };
                    drain(&socket, &mut slot).await;
                    legs.insert(call_id, slot);
                }
                Some(Command::Hangup { call_id }) => {
                    if let Some(slot) = legs.get_mut(&call_id) {
                        slot.leg.hangup(Instant::now());
                        drain(&socket, slot).await;
                    }
                }
                None => return, // the Sbc handle is gone
            },
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => on_datagram(&socket, &mut legs, &buf[..len], from).await,
                Err(err) => warn!(%err, "SIP socket receive failed"),
            },
            () = sleep => {
                let now = Instant::now();
                for slot in legs.values_mut() {
                    if slot.next_timeout.is_some_and(|at| at <= now) {
                        slot.leg.handle_timeout(now);
                        drain(&socket, slot).await;
                    }
                }
            }
        }
        legs.retain(|_, slot| !slot.leg.is_terminated());
    }
}

async fn on_datagram(
    socket: &UdpSocket,
    legs: &mut HashMap<String, LegSlot>,
    bytes: &[u8],
    from: SocketAddr,
) {
    let msg = match sip::parse_message(bytes) {
        Ok(msg) => msg,
        Err(sip::SipError::Empty) => return, // CRLF keep-alive
        Err(err) => {
            debug!(%from, %err, "unparseable SIP datagram dropped");
            return;
        }
    };
    let call_id = msg.call_id().unwrap_or_default().to_owned();
    if let Some(slot) = legs.get_mut(&call_id) {
        slot.leg.handle_datagram(msg, from, Instant::now());
        drain(socket, slot).await;
        return;
    }
    let Message::Request(req) = msg else {
        debug!(%from, %call_id, "response for unknown call dropped");
        return;
    };
    let (status, reason) = match req.method {
        Method::Ack => return,
        // Trunks probe liveness with OPTIONS; answering keeps them routing to us.
        Method::Options => (200, "OK"),
        _ => (481, "Call/Transaction Does Not Exist"),
    };
    let mut resp = sip::response_to(&req, status, reason, None);
    if status == 200 {
        resp.headers
            .push("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
    }
    let bytes = Message::Response(resp).to_bytes();
    if let Err(err) = socket.send_to(&bytes, from).await {
        debug!(%from, %err, "could not answer out-of-dialog request");
    }
}

/// Performs every output of a leg: sends datagrams, forwards events, records the next timer.
async fn drain(socket: &UdpSocket, slot: &mut LegSlot) {
    slot.next_timeout = None;
    while let Some(output) = slot.leg.poll_output() {
        match output {
            Output::Transmit { bytes, to } => {
                if let Err(err) = socket.send_to(&bytes, to).await {
                    warn!(%to, %err, "SIP send failed");
                }
            }
            Output::Event(event) => {
                let _ = slot.events.send(event);
            }
            Output::Timeout(at) => slot.next_timeout = Some(at),
        }
    }
}
