//! The async shell: a UDP socket and a TCP listener on the same port, one tokio task owning
//! the [`Ingress`] screen and every [`crate::leg::TrunkLeg`], routing messages by Call-ID and firing
//! timers. All protocol decisions live in the sans-IO values; this is plumbing.

mod agent_call;
mod dispatch;
mod interrupted;
mod tcp;
mod tls;
mod trace;
mod trunk_set;

pub use agent_call::AgentDevice;
pub use tls::TlsError;
pub use trace::{
    first_line, Direction, TraceEntry, TracedMessage, MAX_TRACE_BYTES, MAX_TRACE_MESSAGES,
};

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use thiserror::Error;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::context::CallContext;
use crate::dns::Dns;
use crate::ingress::{Ingress, IngressConfig};
use crate::keepalive::KeepAlive;
use crate::leg::{check_params, new_call_identity, LegError, LegEvent, LegParams};
use crate::networks::Networks;
use crate::registrar::{AgentCredential, Change, Registrar, RegistrarConfig};
use crate::trunk::{qualified_name, Transport, TrunkConfig, TrunkConfigError};
use c2c_token::VerifiedCall;

/// How long a TCP connection may sit without completing a message (64*T1, RFC 3261 §17.1.1.2).
pub const TCP_IDLE: Duration = Duration::from_secs(32);
/// Most TCP connections open at once.
pub const MAX_TCP_CONNECTIONS: usize = 1024;
/// Most TCP connections from one address.
pub const MAX_TCP_PER_SOURCE: usize = 16;
/// Registration changes waiting for the application (beyond it they are dropped, logged).
pub const REGISTRATION_QUEUE: usize = 4096;

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
    /// The DNS server to locate trunks with; the system's resolvers when absent.
    pub nameserver: Option<SocketAddr>,
    /// Where trunks may be (`[sip] trunk_networks`): the only addresses signalling and media
    /// are sent to or trusted from. The default allows every address (embedders, tests).
    pub trunk_networks: Networks,
    /// The registrar for agents' devices; None answers REGISTER with 405. Devices may
    /// register from `ingress.agent_networks` (and from trunk addresses).
    pub registrar: Option<RegistrarConfig>,
}

impl Default for SbcOptions {
    fn default() -> Self {
        Self {
            ingress: IngressConfig::default(),
            tcp: true,
            tcp_idle: TCP_IDLE,
            nameserver: None,
            trunk_networks: Networks::any(),
            registrar: None,
        }
    }
}

/// One attempt of a verified call: the callee, and what the INVITE carries besides the
/// token's claims. It may complete on another trunk of the route's trunk's group.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which of the route's destinations to call (0 is the first).
    pub destination: usize,
    /// The visitor's web context (page, referrer, UTM values).
    pub context: CallContext,
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
    /// The attempt names a destination the route does not have.
    #[error("the route has no destination {0}")]
    NoDestination(usize),
    /// The trunk host did not resolve to an address.
    #[error("trunk host {0:?} did not resolve")]
    Unresolved(String),
    /// Every address of the trunk host is outside `[sip] trunk_networks`.
    #[error("trunk host {0:?} is outside the networks trunks may use ([sip] trunk_networks)")]
    OutsideNetworks(String),
    /// The DNS client could not be set up (unreadable resolver configuration).
    #[error("DNS: {0}")]
    Dns(String),
    /// No trunk of the group could be connected to (TCP refused, TLS handshake failed).
    #[error("no trunk of {0:?} could be reached")]
    Unreachable(String),
    /// The call's parameters are invalid.
    #[error(transparent)]
    Leg(#[from] LegError),
    /// Bound to a wildcard address without an advertised one: Via/Contact would be unroutable.
    #[error("listening on {0} needs an explicit advertised address")]
    NeedsAdvertised(SocketAddr),
    /// A TLS trunk's certificate roots or host name are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The SBC task has stopped.
    #[error("the SBC has stopped")]
    Stopped,
    /// An agent's device was to be called, but the registrar is off.
    #[error("the registrar is off ([registrar] networks): no agent device can be called")]
    NoRegistrar,
    /// An agent's device is outside the networks devices may register from.
    #[error("agent device {0} is outside [registrar] networks: nothing was sent there")]
    OutsideAgentNetworks(SocketAddr),
    /// An agent's device registered over a transport we cannot call it back on.
    #[error("calling a device registered over {0:?} is not supported")]
    DeviceTransport(Transport),
    /// An agent's Contact is no `sip:` URI with a host.
    #[error("agent contact {0:?} has no usable host")]
    BadContact(String),
    /// An interrupted dialog leads to an address no configured trunk has (any more).
    #[error("{0} is not the address of a configured trunk")]
    NotATrunk(SocketAddr),
    /// An interrupted dialog used a transport whose connection died with the process.
    #[error("ending an interrupted {0:?} dialog is not supported (UDP only)")]
    InterruptedTransport(Transport),
}

impl SbcError {
    /// The trunk a trunk-set error is about (so the rest of the set can still be used).
    pub fn trunk(&self) -> Option<&str> {
        match self {
            Self::Trunk(e) => Some(e.trunk()),
            Self::Tls(e) => Some(e.trunk()),
            Self::DuplicateTrunk(name) => Some(name),
            _ => None,
        }
    }
}

enum Command {
    Place {
        candidates: Vec<LegParams>,
        /// Ring every candidate at once (the devices of a ring_all call), rather than one
        /// after another on failure.
        fork: bool,
        events: mpsc::UnboundedSender<LegEvent>,
        /// Where the SIP messages of the call are traced.
        trace: mpsc::UnboundedSender<TraceEntry>,
        /// Connections opened for the candidates that use TCP.
        conns: Vec<(SocketAddr, mpsc::Sender<dispatch::ConnOut>)>,
    },
    Hangup {
        call_id: String,
    },
    /// End a dialog rebuilt after a crash: the leg's BYE is ready to go.
    Recover {
        leg: Box<crate::leg::TrunkLeg>,
        events: mpsc::UnboundedSender<LegEvent>,
        trace: mpsc::UnboundedSender<TraceEntry>,
    },
    /// The trunk set changed: trust exactly these addresses (and those of calls in
    /// progress) and ping exactly these trunks.
    SetTrunks {
        trusted: HashSet<IpAddr>,
        probes: Vec<trunk_set::Probe>,
    },
    /// The agents' SIP accounts changed: the registrar checks exactly these.
    SetAgents {
        credentials: Vec<AgentCredential>,
    },
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Place { candidates, .. } => write!(f, "Place({} candidates)", candidates.len()),
            Self::Hangup { call_id } => write!(f, "Hangup({call_id})"),
            Self::Recover { leg, .. } => write!(f, "Recover({})", leg.call_id()),
            Self::SetAgents { credentials } => write!(f, "SetAgents({})", credentials.len()),
            Self::SetTrunks { trusted, probes } => {
                write!(
                    f,
                    "SetTrunks({} addresses, {} probes)",
                    trusted.len(),
                    probes.len()
                )
            }
        }
    }
}

/// A running SBC; dropping it stops its tasks.
#[derive(Debug)]
pub struct Sbc {
    local_addr: SocketAddr,
    advertised: SocketAddr,
    /// The current trunks; replaced whole by [`Sbc::set_trunks`], never locked across .await.
    trunks: RwLock<Arc<trunk_set::TrunkSet>>,
    /// The addresses of the current trunks (within `[sip] trunk_networks`).
    trunk_addrs: RwLock<Arc<HashSet<IpAddr>>>,
    /// Serialises [`Sbc::set_trunks`] so two updates cannot apply out of order.
    updating: tokio::sync::Mutex<()>,
    commands: mpsc::UnboundedSender<Command>,
    /// Where connections we open deliver what they receive.
    inbound: mpsc::Sender<dispatch::Inbound>,
    max_message: usize,
    tcp_idle: Duration,
    /// Locates trunks (RFC 3263) within the allowed networks.
    dns: Locator,
    /// Registration changes, until the application takes them.
    registrations: std::sync::Mutex<Option<mpsc::Receiver<Change>>>,
    /// Where agents' devices may be (the registrar's networks); None with the registrar off.
    agent_networks: Option<Networks>,
    tasks: Vec<JoinHandle<()>>,
}

/// A placed call: its events, its SIP trace, and the way to hang it up. Dropping it hangs up.
#[derive(Debug)]
pub struct TrunkCall {
    call_id: String,
    events: mpsc::UnboundedReceiver<LegEvent>,
    trace: Option<mpsc::UnboundedReceiver<TraceEntry>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl TrunkCall {
    /// The next call event; None once the SBC forgot the call (some time after it ended).
    pub async fn next_event(&mut self) -> Option<LegEvent> {
        self.events.recv().await
    }

    /// The call's SIP messages as sent and received, in wire order (None once taken). Every
    /// message of the call is in the trace before an event it caused; the receiver ends when
    /// the SBC forgets the call, which may be after the last event (late retransmissions).
    pub fn take_trace(&mut self) -> Option<mpsc::UnboundedReceiver<TraceEntry>> {
        self.trace.take()
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
        let set = trunk_set::TrunkSet::build(config.trunks, &Default::default())?;
        let (socket, listener) = bind(config.listen, options.tcp).await?;
        let local_addr = socket.local_addr()?;
        let advertised = config.advertised.unwrap_or(local_addr);
        if advertised.ip().is_unspecified() {
            return Err(SbcError::NeedsAdvertised(advertised));
        }
        let agent_networks = options
            .registrar
            .as_ref()
            .and(options.ingress.agent_networks.clone());
        let mut ingress = Ingress::new(options.ingress);
        let dns = match options.nameserver {
            Some(server) => Dns::with_nameserver(server),
            None => Dns::system(),
        }
        .map_err(|e| SbcError::Dns(e.to_string()))?;
        let dns = Locator {
            dns,
            networks: options.trunk_networks,
        };
        let mut keepalive = KeepAlive::new(advertised);
        let (trusted, probes) = set.locate(&dns, advertised).await;
        ingress.set_trusted(trusted.iter().copied());
        keepalive.replace(&probes, std::time::Instant::now());
        let (commands, rx) = mpsc::unbounded_channel();
        let (inbound_tx, inbound_rx) = mpsc::channel(dispatch::INBOUND_QUEUE);
        let mut tasks = Vec::new();
        let max_message = ingress.max_message();
        if let Some(listener) = listener {
            let accept =
                tcp::accept_loop(listener, inbound_tx.clone(), max_message, options.tcp_idle);
            tasks.push(tokio::spawn(accept));
        }
        let trunk_addrs = RwLock::new(Arc::new(trusted.clone()));
        let (registrations_tx, registrations) = mpsc::channel(REGISTRATION_QUEUE);
        let registrar = match options.registrar {
            Some(config) => {
                let mut key = [0u8; 32];
                aws_lc_rs::rand::fill(&mut key)
                    .map_err(|_| std::io::Error::other("no randomness for the nonce key"))?;
                let interval = config.ping_interval;
                let registrar = Registrar::new(config, &key, std::time::Instant::now());
                Some(match interval.is_zero() {
                    true => registrar,
                    false => registrar.ping_from(advertised, interval),
                })
            }
            None => None,
        };
        let sip = dispatch::Sip {
            ingress,
            keepalive,
            configured: trusted,
            registrar,
            registrations: registrations_tx,
        };
        tasks.push(tokio::spawn(dispatch::run(socket, sip, rx, inbound_rx)));
        info!(%local_addr, %advertised, tcp = options.tcp, "SIP listening");
        Ok(Sbc {
            local_addr,
            advertised,
            trunks: RwLock::new(Arc::new(set)),
            trunk_addrs,
            updating: tokio::sync::Mutex::new(()),
            commands,
            inbound: inbound_tx,
            max_message,
            tcp_idle: options.tcp_idle,
            dns,
            registrations: std::sync::Mutex::new(Some(registrations)),
            agent_networks,
            tasks,
        })
    }

    /// Gives the registrar the agents' SIP accounts (the whole set; a device whose account
    /// went or changed is signed out). Harmless without a registrar.
    pub fn set_agent_credentials(&self, credentials: Vec<AgentCredential>) -> Result<(), SbcError> {
        self.commands
            .send(Command::SetAgents { credentials })
            .map_err(|_| SbcError::Stopped)
    }

    /// The registrar's changes (devices bound and gone), in order; None once taken.
    pub fn take_registrations(&self) -> Option<mpsc::Receiver<Change>> {
        self.registrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Replaces the trunk set at run time: validates it and builds TLS clients (nothing
    /// changes when that fails), resolves the trunks, then the next call uses the new set and
    /// the SIP task trusts and pings exactly its addresses. Calls in progress keep their
    /// trunk (and its address stays trusted until they end). The same set again is a no-op.
    pub async fn set_trunks(&self, trunks: Vec<TrunkConfig>) -> Result<(), SbcError> {
        let _one_at_a_time = self.updating.lock().await;
        let current = self.current();
        if current.same_as(&trunks) {
            return Ok(());
        }
        let set = trunk_set::TrunkSet::build(trunks, &current)?;
        let (trusted, probes) = set.locate(&self.dns, self.advertised).await;
        let names: Vec<&String> = set.trunks.keys().collect();
        info!(trunks = ?names, "trunk set replaced");
        *self.trunks.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        *self.trunk_addrs.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(trusted.clone());
        self.commands
            .send(Command::SetTrunks { trusted, probes })
            .map_err(|_| SbcError::Stopped)
    }

    /// The names of the current trunks, sorted.
    pub fn trunk_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.current().trunks.keys().cloned().collect();
        names.sort();
        names
    }

    /// A snapshot of the current trunk set (the lock is released at once).
    fn current(&self) -> Arc<trunk_set::TrunkSet> {
        self.trunks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the SIP task (and the TCP accept loop, when listening on TCP) still runs. It
    /// contains panics per message, so this turns false only on a bug that escaped that; the
    /// process should then stop so its supervisor restarts it.
    pub fn is_running(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }

    /// The bound address (UDP, and TCP when enabled).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Resolves the trunk and the others of its group, and hands the call to the SIP task,
    /// which tries them in order (health, priority, weight) until one takes the call.
    ///
    /// Only a [`VerifiedCall`] can be placed: the trunk (among the token's organisation's),
    /// the callee, the caller ID and the session all come from the verified token.
    pub async fn place_call(
        &self,
        call: &VerifiedCall,
        attempt: &Attempt,
    ) -> Result<TrunkCall, SbcError> {
        let route = call.route();
        let destination = route
            .destinations
            .get(attempt.destination)
            .ok_or(SbcError::NoDestination(attempt.destination))?;
        // Trunks are known by org/name: the token's organisation picks among its own.
        let trunk_name = qualified_name(call.org(), &route.trunk);
        let set = self.current();
        let named = set
            .trunks
            .get(&trunk_name)
            .ok_or(SbcError::UnknownTrunk(trunk_name))?;
        let group = named.group_name();
        let mut members: Vec<&TrunkConfig> = set
            .trunks
            .values()
            .filter(|t| t.group_name() == group)
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let failover = members.len() > 1;
        let identity = new_call_identity();
        let mut candidates = Vec::new();
        let mut conns = Vec::new();
        let mut unreachable = false;
        let mut outside = false;
        for trunk in members {
            let trunk_addr = match resolve(&self.dns, trunk, self.advertised).await {
                Ok(addr) => addr,
                Err(err) => {
                    outside |= matches!(err, SbcError::OutsideNetworks(_));
                    warn!(trunk = %trunk.name, %err, "trunk skipped");
                    continue;
                }
            };
            let inbound = self.inbound.clone();
            let opened = match trunk.transport {
                Transport::Udp => None,
                Transport::Tcp => {
                    Some(tcp::connect(trunk_addr, inbound, self.max_message, self.tcp_idle).await)
                }
                Transport::Tls => match set.tls.get(&trunk.name) {
                    Some(client) => Some(
                        client
                            .connect(trunk_addr, inbound, self.max_message, self.tcp_idle)
                            .await,
                    ),
                    None => continue, // TrunkSet::build made one for every TLS trunk
                },
            };
            match opened {
                None => {}
                Some(Ok(conn)) => conns.push((trunk_addr, conn)),
                Some(Err(err)) => {
                    unreachable = true;
                    let transport = trunk.transport;
                    warn!(trunk = %trunk.name, %err, ?transport, "trunk unreachable, skipped");
                    continue;
                }
            }
            let params = LegParams {
                trunk: trunk.clone(),
                trunk_addr,
                local_addr: self.advertised,
                call: call.clone(),
                destination: destination.clone(),
                context: attempt.context.clone(),
                sdp_offer: attempt.sdp_offer.clone(),
                give_up_after: failover.then(|| Duration::from_millis(trunk.failover_after_ms)),
                continues: Some(identity.clone()),
                networks: self.dns.networks.clone(),
                pinned: false,
            };
            check_params(&params)?;
            candidates.push(params);
        }
        if candidates.is_empty() {
            return Err(if unreachable {
                SbcError::Unreachable(named.name.clone())
            } else if outside {
                SbcError::OutsideNetworks(named.host.clone())
            } else {
                SbcError::Unresolved(named.host.clone())
            });
        }
        let call_id = identity.call_id;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (trace_tx, trace) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Place {
                candidates,
                fork: false,
                events: events_tx,
                trace: trace_tx,
                conns,
            })
            .map_err(|_| SbcError::Stopped)?;
        Ok(TrunkCall {
            call_id,
            events,
            trace: Some(trace),
            commands: self.commands.clone(),
        })
    }
}

/// Every address of the trunk (RFC 3263: SRV, then A/AAAA), in the order to try them.
/// Only those in `[sip] trunk_networks` are kept.
async fn resolve_all(loc: &Locator, trunk: &TrunkConfig) -> Result<Vec<SocketAddr>, SbcError> {
    let addrs = match loc.dns.locate(trunk).await {
        Ok(addrs) if !addrs.is_empty() => addrs,
        _ => return Err(SbcError::Unresolved(trunk.host.clone())),
    };
    let allowed: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| loc.networks.allows(a.ip()))
        .collect();
    match allowed.is_empty() {
        true => Err(SbcError::OutsideNetworks(trunk.host.clone())),
        false => Ok(allowed),
    }
}

/// Finds trunks: DNS (RFC 3263), then the operator's allow-list of networks.
#[derive(Debug)]
pub(crate) struct Locator {
    dns: Dns,
    networks: Networks,
}

/// The trunk's first address, preferring the address family we advertise.
async fn resolve(
    dns: &Locator,
    trunk: &TrunkConfig,
    local: SocketAddr,
) -> Result<SocketAddr, SbcError> {
    let addrs = resolve_all(dns, trunk).await?;
    addrs
        .iter()
        .find(|a| a.is_ipv4() == local.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| SbcError::Unresolved(trunk.host.clone()))
}
