//! The TCP listener and the connections we open (TCP, or TLS on top): bounded connections,
//! one reader and one writer task each. Readers frame messages ([`StreamFramer`]) and hand
//! them to the SIP task; writers send what it answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::dispatch::{ConnOut, Inbound, CONNECTION_QUEUE};
use super::{MAX_TCP_CONNECTIONS, MAX_TCP_PER_SOURCE};
use crate::sip::{Framed, StreamFramer};

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 8192;

/// Open connections per source address, shared by the accept loop and the connections.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// Releases a connection's slot when it ends, however it ends.
struct Slot {
    counts: Counts,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Takes a slot for `ip`, unless the global or per-source limit is reached.
fn take_slot(counts: &Counts, ip: IpAddr) -> Option<Slot> {
    let mut map = counts.lock().unwrap_or_else(PoisonError::into_inner);
    let total: usize = map.values().sum();
    let mine = map.get(&ip).copied().unwrap_or(0);
    if total >= MAX_TCP_CONNECTIONS || mine >= MAX_TCP_PER_SOURCE {
        return None;
    }
    map.insert(ip, mine + 1);
    Some(Slot {
        counts: counts.clone(),
        ip,
    })
}

/// Accepts connections until the SIP task is gone.
pub(super) async fn accept_loop(
    listener: TcpListener,
    inbound: mpsc::Sender<Inbound>,
    max_message: usize,
    idle: Duration,
) {
    let counts: Counts = Arc::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                warn!(%err, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if inbound.is_closed() {
            return;
        }
        let Some(slot) = take_slot(&counts, peer.ip()) else {
            debug!(%peer, "TCP connection refused: limit reached");
            continue; // dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        spawn_connection(stream, peer, inbound.clone(), max_message, idle, Some(slot));
    }
}

/// How long we wait for a trunk to accept our connection.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a TCP connection to a trunk (no reader yet).
pub(super) async fn open(peer: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Opens a connection to a trunk; what it receives goes to the SIP task like any other.
pub(super) async fn connect(
    peer: SocketAddr,
    inbound: mpsc::Sender<Inbound>,
    max_message: usize,
    idle: Duration,
) -> std::io::Result<mpsc::Sender<ConnOut>> {
    let stream = open(peer).await?;
    Ok(spawn_connection(
        stream,
        peer,
        inbound,
        max_message,
        idle,
        None,
    ))
}

/// Starts the reader and writer of a connection we opened (TLS over [`open`]'s stream).
pub(super) fn spawn_outbound<S>(
    stream: S,
    peer: SocketAddr,
    inbound: mpsc::Sender<Inbound>,
    max_message: usize,
    idle: Duration,
) -> mpsc::Sender<ConnOut>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn_connection(stream, peer, inbound, max_message, idle, None)
}

/// Starts the reader and writer of one connection; returns the way to write to it.
fn spawn_connection<S>(
    stream: S,
    peer: SocketAddr,
    inbound: mpsc::Sender<Inbound>,
    max_message: usize,
    idle: Duration,
    slot: Option<Slot>,
) -> mpsc::Sender<ConnOut>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (conn, out) = mpsc::channel(CONNECTION_QUEUE);
    let handle = conn.clone();
    tokio::spawn(async move {
        let _slot = slot;
        read_loop(stream, peer, inbound, max_message, idle, conn, out).await;
    });
    handle
}

async fn read_loop<S: AsyncRead + AsyncWrite + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    inbound: mpsc::Sender<Inbound>,
    max_message: usize,
    idle: Duration,
    conn: mpsc::Sender<ConnOut>,
    out: mpsc::Receiver<ConnOut>,
) {
    let (mut reader, writer) = tokio::io::split(stream);
    let writer_task = tokio::spawn(write_loop(writer, out));
    let mut framer = StreamFramer::new(max_message);
    let mut buf = vec![0u8; READ_CHUNK];
    'read: loop {
        let read = tokio::select! {
            read = tokio::time::timeout(idle, reader.read(&mut buf)) => read,
            () = conn.closed() => break, // the writer closed the connection
        };
        let read = match read {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => n,
            Err(_) => {
                debug!(%peer, mid_message = framer.is_mid_message(), "TCP connection idle, closing");
                let _ = conn.send(ConnOut::Close).await;
                break;
            }
        };
        framer.push(&buf[..read]);
        loop {
            match framer.next_message() {
                Ok(None) => break,
                Ok(Some(Framed::Ping)) => {
                    let _ = conn.send(ConnOut::Send(b"\r\n".to_vec())).await;
                }
                Ok(Some(Framed::Message(bytes))) => {
                    let item = Inbound::Message {
                        bytes,
                        from: peer,
                        conn: conn.clone(),
                    };
                    if inbound.send(item).await.is_err() {
                        break 'read;
                    }
                }
                Err(err) => {
                    let pending = framer.pending().to_vec();
                    let item = Inbound::FrameError {
                        pending,
                        err,
                        from: peer,
                        conn: conn.clone(),
                    };
                    let _ = inbound.send(item).await;
                    break 'read;
                }
            }
        }
    }
    let _ = inbound
        .send(Inbound::Closed {
            from: peer,
            conn: conn.clone(),
        })
        .await;
    drop(conn);
    let _ = writer_task.await;
}

/// Writes what the SIP task sends until told to close or every sender is gone.
async fn write_loop<S: AsyncWrite>(mut writer: WriteHalf<S>, mut out: mpsc::Receiver<ConnOut>) {
    while let Some(item) = out.recv().await {
        match item {
            ConnOut::Send(bytes) => {
                if writer.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            ConnOut::Close => break,
        }
    }
    let _ = writer.shutdown().await;
}
