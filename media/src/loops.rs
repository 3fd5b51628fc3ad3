//! Per-core media loops: one thread per core, each owning one UDP socket for the
//! WebRTC side of all its calls and the trunk-side RTP/RTCP sockets of those calls, so both
//! legs of a call live in one thread and no packet crosses threads.
//!
//! A loop is a `mio` poll over its sockets plus a timer heap; every call is a sans-IO
//! [`Bridge`]. Datagrams on the shared WebRTC socket go to the call whose browser address
//! sent them; an unknown address is matched once by its ICE connectivity check (STUN
//! USERNAME, which str0m's `accepts` checks) and remembered. Each readiness event drains its
//! socket, so a busy loop pays one wake-up for many packets.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::mpsc;

use super::bridge::{Bridge, BridgeOutput, BridgeStats, TrunkMedia};
use super::hold::HoldAudio;
use super::ports::{PortError, PortPool, RtpPair};
use super::stun;
use super::watchdog::Side;

/// Largest datagram we read (RTP, STUN, DTLS all fit well below).
const MAX_DATAGRAM: usize = 2048;
/// Wakes the loop for commands.
const WAKER: Token = Token(0);
/// The shared WebRTC socket.
const WEBRTC: Token = Token(1);
/// Kernel receive buffer of the shared socket: a burst of every call's packets must fit.
const SHARED_RCVBUF: usize = 4 << 20;

/// Commands from a call to its media.
#[derive(Debug)]
pub enum MediaCommand {
    /// The trunk's SDP told us where its media is (or that it holds the call).
    TrunkMedia(TrunkMedia),
    /// The trunk answered: its RTP is watched for silence from now on.
    Answered,
    /// Send these DTMF digits to the trunk (RFC 4733).
    Dtmf(String),
    /// The call waits (for an agent, or while one is rung): play the browser this music on
    /// hold and relay nothing either way until `Unhold`. May come before the browser is
    /// connected (the music starts when it is); again while held, it switches the audio.
    Hold(HoldAudio),
    /// Back to relaying both ways (an agent answered).
    Unhold,
    /// Stop and report the final counters.
    Stop,
}

/// Events from a call's media to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// ICE and DTLS connected.
    Connected,
    /// The browser's peer went away.
    BrowserGone,
    /// No RTP from this side for `[media] rtp_timeout_s`.
    RtpTimeout(Side),
    /// The media stopped; final counters.
    Stopped(BridgeStats),
}

/// Why the media loops could not start or take a call.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// No port of the `[media]` range was free.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// A socket or the poller failed.
    #[error("media loop: {0}")]
    Io(#[from] std::io::Error),
}

/// What a loop is told.
enum LoopCommand {
    Add(Box<NewCall>),
    Call(u64, MediaCommand),
}

struct NewCall {
    id: u64,
    bridge: Bridge,
    rtp: std::net::UdpSocket,
    rtcp: std::net::UdpSocket,
    events: mpsc::UnboundedSender<MediaEvent>,
    session: String,
}

/// One loop as seen from outside.
struct LoopHandle {
    commands: std_mpsc::Sender<LoopCommand>,
    waker: Arc<Waker>,
    /// The shared WebRTC socket's address (the ICE candidate of its calls).
    addr: SocketAddr,
    /// Calls it runs now.
    load: Arc<AtomicUsize>,
    /// The loop's thread: finished only if the loop stopped (poll failed), which leaves every
    /// call later assigned to it dead.
    thread: std::thread::JoinHandle<()>,
}

impl LoopHandle {
    fn send(&self, cmd: LoopCommand) {
        if self.commands.send(cmd).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

/// The media loops of this process.
pub struct MediaLoops {
    loops: Vec<LoopHandle>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for MediaLoops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaLoops({})", self.loops.len())
    }
}

/// A call's place in a loop, before its bridge exists (the answer needs the address).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    index: usize,
    /// The WebRTC address to offer the browser.
    pub browser_addr: SocketAddr,
}

/// The call's handle on its media; dropping it stops the media.
pub struct MediaHandle {
    id: u64,
    loop_: Arc<MediaLoops>,
    index: usize,
    /// Events out of the media.
    pub events: mpsc::UnboundedReceiver<MediaEvent>,
}

impl MediaHandle {
    /// Tells the call's media loop something.
    pub fn send(&self, cmd: MediaCommand) {
        self.loop_.loops[self.index].send(LoopCommand::Call(self.id, cmd));
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        // Harmless when the call already stopped: the loop no longer knows the id.
        self.send(MediaCommand::Stop);
    }
}

impl MediaLoops {
    /// Starts `threads` loops (at least one), each with a WebRTC socket from `ports` on `ip`;
    /// `on_panic` is handed every panic a loop caught, to log and count.
    pub fn start(
        ip: IpAddr,
        ports: &PortPool,
        threads: usize,
        on_panic: PanicHook,
    ) -> Result<Arc<Self>, LoopError> {
        let mut loops = Vec::new();
        for n in 0..threads.max(1) {
            let socket = ports.bind_one(ip)?;
            socket.set_nonblocking(true)?;
            let socket = socket2::Socket::from(socket);
            if let Err(e) = socket.set_recv_buffer_size(SHARED_RCVBUF) {
                tracing::debug!(error = %e, "receive buffer not enlarged");
            }
            let socket = UdpSocket::from_std(socket.into());
            let addr = socket.local_addr()?;
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = std_mpsc::channel();
            let load = Arc::new(AtomicUsize::new(0));
            let mut runner = Loop {
                poll,
                webrtc: socket,
                commands: rx,
                calls: HashMap::new(),
                by_addr: HashMap::new(),
                by_ufrag: HashMap::new(),
                timers: BinaryHeap::new(),
                load: load.clone(),
                buf: vec![0u8; MAX_DATAGRAM],
                current: None,
                on_panic,
            };
            runner
                .poll
                .registry()
                .register(&mut runner.webrtc, WEBRTC, Interest::READABLE)?;
            let thread = std::thread::Builder::new()
                .name(format!("c2c-media-{n}"))
                .spawn(move || runner.run())?;
            tracing::info!(%addr, loop_ = n, "media loop started");
            loops.push(LoopHandle {
                commands: tx,
                waker,
                addr,
                load,
                thread,
            });
        }
        Ok(Arc::new(MediaLoops {
            loops,
            next_id: AtomicU64::new(0),
        }))
    }

    /// The index of a loop whose thread has stopped, if any: the node can no longer carry
    /// calls reliably and should be restarted.
    pub fn stopped_loop(&self) -> Option<usize> {
        self.loops.iter().position(|l| l.thread.is_finished())
    }

    /// The least-loaded loop, for a call about to be answered.
    pub fn pick(&self) -> Slot {
        let (index, l) = self
            .loops
            .iter()
            .enumerate()
            .min_by_key(|(_, l)| l.load.load(Ordering::Relaxed))
            .unwrap_or((0, &self.loops[0]));
        Slot {
            index,
            browser_addr: l.addr,
        }
    }

    /// Hands a call's bridge and trunk sockets to the loop of `slot`.
    pub fn add(
        self: &Arc<Self>,
        slot: Slot,
        bridge: Bridge,
        trunk: RtpPair,
        session: &str,
    ) -> MediaHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (events_tx, events) = mpsc::unbounded_channel();
        let l = &self.loops[slot.index];
        l.load.fetch_add(1, Ordering::Relaxed);
        l.send(LoopCommand::Add(Box::new(NewCall {
            id,
            bridge,
            rtp: trunk.rtp,
            rtcp: trunk.rtcp,
            events: events_tx,
            session: session.to_owned(),
        })));
        MediaHandle {
            id,
            loop_: self.clone(),
            index: slot.index,
            events,
        }
    }
}

/// One call inside a loop.
struct Call {
    bridge: Bridge,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    events: mpsc::UnboundedSender<MediaEvent>,
    session: String,
    /// When the bridge wants `handle_timeout` (the timer heap may hold older entries).
    deadline: Instant,
    /// Browser addresses routed to this call.
    addrs: Vec<SocketAddr>,
    reported_gone: bool,
}

/// The state one loop thread owns.
struct Loop {
    poll: Poll,
    webrtc: UdpSocket,
    commands: std_mpsc::Receiver<LoopCommand>,
    calls: HashMap<u64, Call>,
    by_addr: HashMap<SocketAddr, u64>,
    /// Calls by our ICE ufrag, for checks from an address no call has yet.
    by_ufrag: HashMap<String, u64>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    load: Arc<AtomicUsize>,
    buf: Vec<u8>,
    /// The call whose bridge is being driven (to end it alone if it panics).
    current: Option<u64>,
    on_panic: PanicHook,
}

/// Told of a panic a media loop caught and survived (its payload).
pub type PanicHook = fn(&(dyn std::any::Any + Send));

/// The trunk-side tokens of call `id`: RTP, then RTCP.
fn tokens(id: u64) -> (Token, Token) {
    let base = 2 + 2 * id as usize;
    (Token(base), Token(base + 1))
}

impl Loop {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != ErrorKind::Interrupted {
                    tracing::error!(error = %e, "media loop poll failed; loop stops");
                    return;
                }
            }
            for ev in events.iter() {
                let token = ev.token();
                // Every handle gone: the process is stopping.
                if self.guarded(|l| l.handle(token)) == Some(false) {
                    return;
                }
            }
            self.guarded(|l| l.fire_timers());
        }
    }

    /// Handles one readiness event; false once the loop should stop.
    fn handle(&mut self, token: Token) -> bool {
        match token {
            WAKER => return self.commands_drained(),
            WEBRTC => self.read_webrtc(),
            Token(t) => {
                let id = ((t - 2) / 2) as u64;
                self.read_trunk(id, (t - 2) % 2 == 1);
            }
        }
        true
    }

    /// Runs `f`; should a call's bridge panic (a bug in it or in str0m), that call ends and
    /// the loop goes on with the others. A task per call had this isolation for free; a loop
    /// that died would also take every later call assigned to it.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        self.current = None;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self))) {
            Ok(v) => Some(v),
            Err(panic) => {
                (self.on_panic)(panic.as_ref());
                match self.current.take() {
                    Some(id) => {
                        tracing::error!(call = id, "media of one call panicked; ending that call");
                        if let Some(call) = self.calls.get(&id) {
                            let _ = call.events.send(MediaEvent::BrowserGone);
                        }
                        self.remove(id);
                    }
                    None => tracing::error!("media loop panicked outside any call; going on"),
                }
                None
            }
        }
    }

    /// Applies every queued command; false once every handle is gone (the process stops).
    fn commands_drained(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(LoopCommand::Add(call)) => self.add(*call),
                Ok(LoopCommand::Call(id, cmd)) => self.command(id, cmd),
                Err(std_mpsc::TryRecvError::Empty) => return true,
                Err(std_mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn add(&mut self, new: NewCall) {
        let (rtp_token, rtcp_token) = tokens(new.id);
        let prepare = |s: std::net::UdpSocket| -> std::io::Result<UdpSocket> {
            s.set_nonblocking(true)?;
            Ok(UdpSocket::from_std(s))
        };
        let sockets = prepare(new.rtp).and_then(|mut rtp| {
            let mut rtcp = prepare(new.rtcp)?;
            let registry = self.poll.registry();
            registry.register(&mut rtp, rtp_token, Interest::READABLE)?;
            registry.register(&mut rtcp, rtcp_token, Interest::READABLE)?;
            Ok((rtp, rtcp))
        });
        let (rtp, rtcp) = match sockets {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(session = %new.session, error = %e, "media sockets unusable");
                let _ = new.events.send(MediaEvent::BrowserGone);
                let _ = new.events.send(MediaEvent::Stopped(new.bridge.stats()));
                self.load.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        };
        let call = Call {
            bridge: new.bridge,
            rtp,
            rtcp,
            events: new.events,
            session: new.session,
            deadline: Instant::now(),
            addrs: Vec::new(),
            reported_gone: false,
        };
        self.by_ufrag
            .insert(call.bridge.local_ufrag().to_owned(), new.id);
        self.calls.insert(new.id, call);
        self.current = Some(new.id);
        self.drain(new.id);
    }

    fn command(&mut self, id: u64, cmd: MediaCommand) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        self.current = Some(id);
        let now = Instant::now();
        match cmd {
            MediaCommand::TrunkMedia(m) => call.bridge.set_trunk_media(m, now),
            MediaCommand::Answered => call.bridge.trunk_answered(now),
            MediaCommand::Dtmf(digits) => {
                if let Err(e) = call.bridge.send_dtmf(&digits, now) {
                    tracing::info!(session = %call.session, error = %e, "dtmf refused");
                }
            }
            MediaCommand::Hold(audio) => {
                tracing::debug!(session = %call.session, audio = audio.name(), "music on hold");
                call.bridge.hold(audio, now);
            }
            MediaCommand::Unhold => call.bridge.unhold(now),
            MediaCommand::Stop => {
                call.bridge.close();
                self.drain(id);
                self.remove(id);
                return;
            }
        }
        self.drain(id);
    }

    fn remove(&mut self, id: u64) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        for addr in &call.addrs {
            self.by_addr.remove(addr);
        }
        self.by_ufrag.remove(call.bridge.local_ufrag());
        let registry = self.poll.registry();
        let _ = registry.deregister(&mut call.rtp);
        let _ = registry.deregister(&mut call.rtcp);
        let stats = call.bridge.stats();
        log_stats(&call.session, &stats);
        let _ = call.events.send(MediaEvent::Stopped(stats));
        self.load.fetch_sub(1, Ordering::Relaxed);
    }

    /// Reads the shared socket until it is empty.
    fn read_webrtc(&mut self) {
        loop {
            let (n, from) = match self.webrtc.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::debug!(error = %e, "webrtc socket receive");
                    return;
                }
            };
            let now = Instant::now();
            let data = &self.buf[..n];
            let id = match self.by_addr.get(&from) {
                Some(&id) => id,
                // A new address: only an ICE check naming one of our calls opens it; anything
                // else is dropped after one look at its header.
                None => {
                    // Whose check it is comes from its USERNAME, in one lookup: a STUN flood
                    // costs the same per packet whatever the number of calls.
                    let Some(&id) = stun::receiver_ufrag(data).and_then(|u| self.by_ufrag.get(u))
                    else {
                        continue;
                    };
                    self.current = None;
                    let accepted = self
                        .calls
                        .get(&id)
                        .is_some_and(|c| c.bridge.accepts_browser(from, data, now));
                    if !accepted {
                        continue;
                    }
                    self.by_addr.insert(from, id);
                    if let Some(call) = self.calls.get_mut(&id) {
                        call.addrs.push(from);
                    }
                    id
                }
            };
            if let Some(call) = self.calls.get_mut(&id) {
                self.current = Some(id);
                call.bridge.handle_browser(from, data, now);
                self.drain(id);
            }
        }
    }

    /// Reads one call's trunk RTP or RTCP socket until it is empty.
    fn read_trunk(&mut self, id: u64, rtcp: bool) {
        loop {
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            let socket = if rtcp { &call.rtcp } else { &call.rtp };
            let (n, from) = match socket.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::debug!(error = %e, "trunk socket receive");
                    return;
                }
            };
            let now = Instant::now();
            self.current = Some(id);
            match rtcp {
                true => call.bridge.handle_trunk_rtcp(from, &self.buf[..n], now),
                false => call.bridge.handle_trunk(from, &self.buf[..n], now),
            }
            self.drain(id);
        }
    }

    /// Runs the timers that are due.
    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            // An older entry: the bridge asked for another time since.
            if call.deadline != at {
                continue;
            }
            self.current = Some(id);
            call.bridge.handle_timeout(now);
            self.drain(id);
        }
    }

    /// Does what the call's bridge asks until it only waits for time (str0m's rule: drain
    /// after every input).
    fn drain(&mut self, id: u64) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        loop {
            match call.bridge.poll_output() {
                BridgeOutput::ToBrowser { to, data } => send(&self.webrtc, &data, to),
                BridgeOutput::ToTrunk { to, data } => send(&call.rtp, &data, to),
                BridgeOutput::Connected => {
                    let _ = call.events.send(MediaEvent::Connected);
                }
                BridgeOutput::BrowserGone => {
                    if !call.reported_gone {
                        call.reported_gone = true;
                        let _ = call.events.send(MediaEvent::BrowserGone);
                    }
                    // Nothing more will happen; wake up rarely until the call stops us.
                    self.schedule(id, Instant::now() + Duration::from_secs(3600));
                    return;
                }
                BridgeOutput::RtpTimeout(side) => {
                    tracing::info!(session = %call.session, ?side, "no RTP: ending the call");
                    let _ = call.events.send(MediaEvent::RtpTimeout(side));
                }
                BridgeOutput::Timeout(at) => {
                    self.schedule(id, at);
                    return;
                }
            }
        }
    }

    fn schedule(&mut self, id: u64, at: Instant) {
        if let Some(call) = self.calls.get_mut(&id) {
            if call.deadline != at {
                call.deadline = at;
                self.timers.push(Reverse((at, id)));
            }
        }
    }
}

fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    // A full socket buffer drops the datagram, as the network would.
    if let Err(e) = socket.send_to(data, to) {
        tracing::debug!(error = %e, %to, "media send failed");
    }
}

/// The call's media figures, for operators reading the log at call end.
fn log_stats(session: &str, s: &BridgeStats) {
    let r = &s.trunk_rtcp;
    tracing::info!(
        session,
        from_browser = s.from_browser,
        to_trunk = s.to_trunk,
        from_trunk = s.from_trunk,
        to_browser = s.to_browser,
        lost_from_browser = s.lost_from_browser,
        lost_from_trunk = s.lost_from_trunk,
        dropped_foreign = s.dropped_foreign,
        held = s.held,
        hold_frames = s.hold_frames,
        rtcp_reports = r.reports,
        trunk_sent_packets = r.packets_sent,
        trunk_lost = r.lost,
        trunk_loss_pct = f64::from(r.fraction_lost) * 100.0 / 256.0,
        // 8 kHz G.711: 8 timestamp units per millisecond.
        trunk_jitter_ms = f64::from(r.jitter) / 8.0,
        "media stats"
    );
}
