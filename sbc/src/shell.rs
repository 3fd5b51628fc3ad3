//! The async shell: a UDP socket and a TCP listener on the same port, one tokio task owning
//! the [`Ingress`] screen and every [`crate::leg::TrunkLeg`], routing messages by Call-ID and firing
//! timers. All protocol decisions live in the sans-IO values; this is plumbing.

mod dispatch;
mod tcp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::ingress::{Ingress, IngressConfig};
use crate::keepalive::KeepAlive;
use crate::leg::{check_params, new_call_identity, LegError, LegEvent, LegParams};
use crate::trunk::{Transport, TrunkConfig, TrunkConfigError};

/// How long a TCP connection may sit without completing a message (64*T1, RFC 3261 §17.1.1.2).
pub const TCP_IDLE: Duration = Duration::from_secs(32);
/// Most TCP connections open at once.
pub const MAX_TCP_CONNECTIONS: usize = 1024;
/// Most TCP connections from one address.
pub const MAX_TCP_PER_SOURCE: usize = 16;

/// How the SBC listens and which trunks it knows.
#[derive(Debug, Clone)]
pub struct SbcConfig {
    /// Local address to bind, UDP and TCP (port 0 picks one).
    pub listen: SocketAddr,
    /// Address to put in Via and Contact when it differs from the bound one (1:1 NAT).
    pub advertised: Option<SocketAddr>,
    /// Trunks calls can be placed through.
    pub trunks: Vec<TrunkConfig>,
}

/// Hardening and transport settings, with production defaults.
#[derive(Debug, Clone)]
pub struct SbcOptions {
    /// Ingress screening (trust policy, rate limits, size limit).
    pub ingress: IngressConfig,
    /// Also listen on TCP at the same address.
    pub tcp: bool,
    /// Idle timeout of TCP connections.
    pub tcp_idle: Duration,
}

impl Default for SbcOptions {
    fn default() -> Self {
        Self {
            ingress: IngressConfig::default(),
            tcp: true,
            tcp_idle: TCP_IDLE,
        }
    }
}

/// One call to place; it may complete on another trunk of the named trunk's group.
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
    /// Binding or reading a socket failed.
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
        candidates: Vec<LegParams>,
        events: mpsc::UnboundedSender<LegEvent>,
        /// Connections opened for the candidates that use TCP.
        conns: Vec<(SocketAddr, mpsc::Sender<dispatch::ConnOut>)>,
    },
    Hangup {
        call_id: String,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Place { candidates, .. } => write!(f, "Place({} candidates)", candidates.len()),
            Self::Hangup { call_id } => write!(f, "Hangup({call_id})"),
        }
    }
}

/// A running SBC; dropping it stops its tasks.
#[derive(Debug)]
pub struct Sbc {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    trunks: Arc<HashMap<String, TrunkConfig>>,
    commands: mpsc::UnboundedSender<Command>,
    /// Where connections we open deliver what they receive.
    inbound: mpsc::Sender<dispatch::Inbound>,
    max_message: usize,
    tcp_idle: Duration,
    tasks: Vec<JoinHandle<()>>,
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
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds UDP on `listen` and TCP on the same port (retrying when port 0 picked a UDP port
/// whose TCP twin is taken).
async fn bind(listen: SocketAddr, tcp: bool) -> Result<(UdpSocket, Option<TcpListener>), SbcError> {
    let mut last_err = None;
    for _ in 0..8 {
        let udp = UdpSocket::bind(listen).await?;
        if !tcp {
            return Ok((udp, None));
        }
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(listener) => return Ok((udp, Some(listener))),
            Err(err) if listen.port() == 0 => last_err = Some(err),
            Err(err) => return Err(err.into()),
        }
    }
    Err(last_err.map_or(SbcError::Stopped, SbcError::Io))
}

impl Sbc {
    /// Validates the trunks, binds UDP and TCP and starts the SIP task with default options.
    pub async fn start(config: SbcConfig) -> Result<Sbc, SbcError> {
        Self::start_with(config, SbcOptions::default()).await
    }

    /// Like [`Sbc::start`] with explicit hardening and transport options.
    pub async fn start_with(config: SbcConfig, options: SbcOptions) -> Result<Sbc, SbcError> {
        let mut trunks = HashMap::new();
        for trunk in config.trunks {
            trunk.validate()?;
            if trunks.contains_key(&trunk.name) {
                return Err(SbcError::DuplicateTrunk(trunk.name));
            }
            trunks.insert(trunk.name.clone(), trunk);
        }
        let (socket, listener) = bind(config.listen, options.tcp).await?;
        let local_addr = socket.local_addr()?;
        let advertised = config.advertised.unwrap_or(local_addr);
        if advertised.ip().is_unspecified() {
            return Err(SbcError::NeedsAdvertised(advertised));
        }
        let mut ingress = Ingress::new(options.ingress);
        let mut keepalive = KeepAlive::new(advertised);
        let now = std::time::Instant::now();
        for trunk in trunks.values() {
            match resolve_all(trunk).await {
                Ok(addrs) => {
                    addrs.iter().for_each(|a| ingress.trust(a.ip()));
                    let same_family = addrs.iter().find(|a| a.is_ipv4() == advertised.is_ipv4());
                    if let Some(addr) = same_family.filter(|_| trunk.keepalive_s > 0) {
                        if trunk.transport == Transport::Udp {
                            let every = Duration::from_secs(trunk.keepalive_s);
                            keepalive.add(&trunk.name, *addr, every, now);
                        }
                    }
                }
                Err(err) => warn!(trunk = %trunk.name, %err, "trunk not resolved yet"),
            }
        }
        let (commands, rx) = mpsc::unbounded_channel();
        let (inbound_tx, inbound_rx) = mpsc::channel(dispatch::INBOUND_QUEUE);
        let mut tasks = Vec::new();
        let max_message = ingress.max_message();
        if let Some(listener) = listener {
            let accept =
                tcp::accept_loop(listener, inbound_tx.clone(), max_message, options.tcp_idle);
            tasks.push(tokio::spawn(accept));
        }
        tasks.push(tokio::spawn(dispatch::run(
            socket, ingress, keepalive, rx, inbound_rx,
        )));
        info!(%local_addr, %advertised, tcp = options.tcp, "SIP listening");
        Ok(Sbc {
            local_addr,
            advertised,
            trunks: Arc::new(trunks),
            commands,
            inbound: inbound_tx,
            max_message,
            tcp_idle: options.tcp_idle,
            tasks,
        })
    }

    /// The bound address (UDP, and TCP when enabled).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Resolves the trunk and the others of its group, and hands the call to the SIP task,
    /// which tries them in order (health, priority, weight) until one takes the call.
    pub async fn place_call(&self, call: OutboundCall) -> Result<TrunkCall, SbcError> {
        let named = self
            .trunks
            .get(&call.trunk)
            .ok_or_else(|| SbcError::UnknownTrunk(call.trunk.clone()))?;
        let group = named.group_name();
        let mut members: Vec<&TrunkConfig> = self
            .trunks
            .values()
            .filter(|t| t.group_name() == group)
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let failover = members.len() > 1;
        let identity = new_call_identity();
        let mut candidates = Vec::new();
        let mut conns = Vec::new();
        for trunk in members {
            let trunk_addr = match resolve(trunk, self.advertised).await {
                Ok(addr) => addr,
                Err(err) => {
                    warn!(trunk = %trunk.name, %err, "trunk skipped");
                    continue;
                }
            };
            if trunk.transport == Transport::Tcp {
                let inbound = self.inbound.clone();
                match tcp::connect(trunk_addr, inbound, self.max_message, self.tcp_idle).await {
                    Ok(conn) => conns.push((trunk_addr, conn)),
                    Err(err) => {
                        warn!(trunk = %trunk.name, %err, "trunk unreachable over TCP, skipped");
                        continue;
                    }
                }
            }
            let params = LegParams {
                trunk: trunk.clone(),
                trunk_addr,
                local_addr: self.advertised,
                destination: call.destination.clone(),
                caller_number: call.caller_number.clone(),
                session_id: call.session_id.clone(),
                campaign: call.campaign.clone(),
                page_url: call.page_url.clone(),
                sdp_offer: call.sdp_offer.clone(),
                give_up_after: failover.then(|| Duration::from_millis(trunk.failover_after_ms)),
                continues: Some(identity.clone()),
            };
            check_params(&params)?;
            candidates.push(params);
        }
        if candidates.is_empty() {
            return Err(SbcError::Unresolved(named.host.clone()));
        }
        let call_id = identity.call_id;
        let (events_tx, events) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Place {
                candidates,
                events: events_tx,
                conns,
            })
            .map_err(|_| SbcError::Stopped)?;
        Ok(TrunkCall {
            call_id,
            events,
            commands: self.commands.clone(),
        })
    }
}

/// Every address of the trunk host.
async fn resolve_all(trunk: &TrunkConfig) -> Result<Vec<SocketAddr>, SbcError> {
    let host = trunk.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, trunk.port)).await?.collect();
    if addrs.is_empty() {
        return Err(SbcError::Unresolved(trunk.host.clone()));
    }
    Ok(addrs)
}

/// Resolves the trunk host, preferring the address family we advertise.
async fn resolve(trunk: &TrunkConfig, local: SocketAddr) -> Result<SocketAddr, SbcError> {
    let addrs = resolve_all(trunk).await?;
    addrs
        .iter()
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| SbcError::Unresolved(trunk.host.clone()))
}
