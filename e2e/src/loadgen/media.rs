//! Media loops: a few OS threads, each multiplexing many simulated browsers over their own UDP
//! sockets with one `mio` poll. No task or wake-up per packet: a datagram is read, fed to its
//! browser, and the browser's outputs are sent, all on the loop's thread.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::oneshot;

use super::browser::{Browser, BrowserOutput, MediaCounts};
use super::stats::Histogram;

/// The waker's token; browsers use their call id.
const WAKER: Token = Token(usize::MAX);
/// Timers are checked at most this often: a late str0m timeout or frame by up to this much is
/// harmless (send stamps are taken when the frame really leaves).
const SCAN_EVERY: Duration = Duration::from_millis(1);
/// After a browser stops sending, how long its last echoes may take to come back.
const DRAIN: Duration = Duration::from_millis(400);
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// Instructions to a media loop.
pub enum Command {
    /// Take over this browser and its socket (non-blocking, already bound).
    Add {
        /// The call's id, unique in the run.
        id: usize,
        /// The browser, with the answer applied.
        browser: Box<Browser>,
        /// Its socket.
        socket: std::net::UdpSocket,
    },
    /// The far end answered: start sending.
    Answered {
        /// The call.
        id: usize,
    },
    /// Stop sending, drain, then report and drop the browser.
    Stop {
        /// The call.
        id: usize,
        /// Gets the call's final counters.
        reply: oneshot::Sender<MediaCounts>,
    },
    /// End the loop; its join handle yields the round-trip histogram.
    Shutdown,
}

/// A handle on one media loop thread.
pub struct MediaLoop {
    commands: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    calls: Arc<AtomicUsize>,
    thread: Option<JoinHandle<Histogram>>,
}

/// Why a media loop could not start.
#[derive(Debug, thiserror::Error)]
#[error("media loop: {0}")]
pub struct MediaError(#[from] std::io::Error);

impl MediaLoop {
    /// Starts a loop thread.
    pub fn start(name: &str) -> Result<Self, MediaError> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = mpsc::channel();
        let calls = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::Builder::new().name(name.to_string()).spawn({
            let calls = calls.clone();
            move || run(poll, rx, calls)
        })?;
        Ok(MediaLoop {
            commands: tx,
            waker,
            calls,
            thread: Some(thread),
        })
    }

    /// Calls this loop holds now.
    pub fn load(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// Sends a command; false if the loop is gone.
    pub fn send(&self, cmd: Command) -> bool {
        if let Command::Add { .. } = cmd {
            self.calls.fetch_add(1, Ordering::Relaxed);
        }
        self.commands.send(cmd).is_ok() && self.waker.wake().is_ok()
    }

    /// Ends the loop and returns its round-trip histogram.
    pub fn shutdown(mut self) -> Histogram {
        self.send(Command::Shutdown);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

struct Slot {
    browser: Box<Browser>,
    socket: UdpSocket,
    deadline: Instant,
    /// Stopped: report at this time.
    finish: Option<(Instant, oneshot::Sender<MediaCounts>)>,
}

impl Slot {
    /// Sends what the browser wants sent and records when it next needs attention.
    fn drain(&mut self, rtt: &mut Histogram) {
        loop {
            match self.browser.poll_output(rtt) {
                BrowserOutput::Transmit { to, data } => send(&self.socket, &data, to),
                BrowserOutput::Timeout(at) => {
                    self.deadline = at;
                    return;
                }
            }
        }
    }
}

fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(data, to) {
        tracing::debug!(error = %e, %to, "send failed");
    }
}

fn run(mut poll: Poll, commands: mpsc::Receiver<Command>, load: Arc<AtomicUsize>) -> Histogram {
    let mut slots: HashMap<usize, Slot> = HashMap::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut rtt = Histogram::default();
    let mut next_scan = Instant::now();
    let mut last_scan = Instant::now();
    loop {
        let scan_at = next_scan.max(last_scan + SCAN_EVERY);
        let wait = scan_at.saturating_duration_since(Instant::now());
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() != ErrorKind::Interrupted {
                tracing::error!(error = %e, "media poll failed");
                return rtt;
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            if ev.token() == WAKER {
                continue;
            }
            let Some(slot) = slots.get_mut(&ev.token().0) else {
                continue;
            };
            loop {
                match slot.socket.recv_from(&mut buf) {
                    Ok((n, from)) => slot.browser.handle_datagram(from, &buf[..n], now),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "receive failed");
                        break;
                    }
                }
            }
            slot.drain(&mut rtt);
            next_scan = next_scan.min(slot.deadline);
        }
        // Commands: new calls, answers, stops.
        while let Ok(cmd) = commands.try_recv() {
            match cmd {
                Command::Add {
                    id,
                    browser,
                    socket,
                } => {
                    let mut socket = UdpSocket::from_std(socket);
                    if let Err(e) =
                        poll.registry()
                            .register(&mut socket, Token(id), Interest::READABLE)
                    {
                        tracing::warn!(error = %e, "cannot register a browser socket");
                        load.fetch_sub(1, Ordering::Relaxed);
                        continue;
                    }
                    let mut slot = Slot {
                        browser,
                        socket,
                        deadline: now,
                        finish: None,
                    };
                    slot.browser.handle_timeout(now);
                    slot.drain(&mut rtt);
                    slots.insert(id, slot);
                }
                Command::Answered { id } => {
                    if let Some(slot) = slots.get_mut(&id) {
                        slot.browser.set_answered(now);
                        slot.deadline = now;
                    }
                }
                Command::Stop { id, reply } => match slots.get_mut(&id) {
                    Some(slot) => {
                        slot.browser.stop_sending();
                        slot.finish = Some((now + DRAIN, reply));
                    }
                    None => {
                        let _ = reply.send(MediaCounts::default());
                    }
                },
                Command::Shutdown => return rtt,
            }
            next_scan = now;
        }
        let now = Instant::now();
        if now < next_scan.max(last_scan + SCAN_EVERY) {
            continue;
        }
        // Timers: str0m's and the send clocks.
        last_scan = now;
        let mut earliest = now + Duration::from_millis(50);
        let mut finished = Vec::new();
        for (id, slot) in slots.iter_mut() {
            if slot.deadline <= now {
                slot.browser.handle_timeout(now);
                slot.drain(&mut rtt);
            }
            if slot.finish.as_ref().is_some_and(|(at, _)| *at <= now) {
                finished.push(*id);
            }
            earliest = earliest.min(slot.deadline);
        }
        for id in finished {
            if let Some(mut slot) = slots.remove(&id) {
                let _ = poll.registry().deregister(&mut slot.socket);
                load.fetch_sub(1, Ordering::Relaxed);
                if let Some((_, reply)) = slot.finish {
                    let _ = reply.send(slot.browser.counts());
                }
            }
        }
        next_scan = earliest;
    }
}
