//! The call-record spool: writes the database did not take within the writer's retry window
//! (it is down, restarting, failing over) are appended to a file in the data dir, each
//! append fsync'd before it counts as written, and replayed in order once the database
//! answers again. The file survives a restart; a starting node replays it before it closes
//! the records of its previous run, so a call that ended during an outage is not mistaken
//! for one a crash interrupted.
//!
//! Order: one call's writes are applied in order by its writer task. While anything is
//! spooled, every write goes behind it into the spool (a call's end must not reach the
//! database before its start), and the replay holds the spool until it is empty.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use c2c_store::{CallWrite, Store};

/// How often a spool with writes in it tries the database again.
const REPLAY_EVERY: Duration = Duration::from_secs(2);
/// The spool's file under the data dir, one JSON entry per line.
const FILE: &str = "call-records.spool";
/// Beside it: how many bytes of the spool are replayed already (so a crash mid-replay
/// repeats at most one entry).
const DONE_FILE: &str = "call-records.spool.done";

/// One spooled batch: the writes of one call, in order.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    call: String,
    writes: Vec<CallWrite>,
}

/// The spool of one node's call-record writes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Spool {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    path: PathBuf,
    done_path: PathBuf,
    /// Bytes of the file already replayed.
    done: u64,
    /// Bytes in the file.
    len: u64,
}

impl State {
    fn pending(&self) -> bool {
        self.len > self.done
    }
}

/// Why the spool could not take or give back writes.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Reading or writing the spool's files failed.
    #[error("call-record spool {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Spool {
    /// The spool in `data_dir`, with whatever an earlier run left in it.
    pub fn open(data_dir: &Path) -> Result<Spool, SpoolError> {
        let path = data_dir.join(FILE);
        let done_path = data_dir.join(DONE_FILE);
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&path)(e)),
        };
        let done = match std::fs::read_to_string(&done_path) {
            Ok(text) => text.trim().parse::<u64>().unwrap_or(0).min(len),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&done_path)(e)),
        };
        Ok(Spool {
            inner: Arc::new(Mutex::new(State {
                path,
                done_path,
                done,
                len,
            })),
        })
    }

    /// Appends `writes` of `call` when the spool holds writes already (they must stay behind
    /// those); false, writing nothing, when it is empty.
    pub async fn append_if_pending(
        &self,
        call: &str,
        writes: &[CallWrite],
    ) -> Result<bool, SpoolError> {
        let mut state = self.inner.lock().await;
        if !state.pending() {
            return Ok(false);
        }
        append(&mut state, call, writes).await?;
        Ok(true)
    }

    /// Appends `writes` of `call`; they count as written once this returns.
    pub async fn append(&self, call: &str, writes: &[CallWrite]) -> Result<(), SpoolError> {
        let mut state = self.inner.lock().await;
        append(&mut state, call, writes).await
    }

    /// Whether writes wait in the spool.
    pub async fn is_pending(&self) -> bool {
        self.inner.lock().await.pending()
    }

    /// The calls with writes in the spool.
    pub async fn calls(&self) -> Result<HashSet<String>, SpoolError> {
        let state = self.inner.lock().await;
        let lines = read_from(&state.path, state.done)?;
        Ok(lines.into_iter().flatten().map(|(e, _)| e.call).collect())
    }

    /// Applies the spooled writes in order until the spool is empty (true) or the database
    /// stops answering (false, to try again later). A write the database refuses (rather
    /// than fails to answer) is logged and skipped, so one bad write cannot hold the rest.
    pub async fn replay(&self, store: &Store) -> Result<bool, SpoolError> {
        let mut state = self.inner.lock().await;
        if !state.pending() {
            return Ok(true);
        }
        let mut applied = 0usize;
        for entry in read_from(&state.path, state.done)? {
            let (entry, bytes) = match entry {
                Ok(e) => e,
                Err(bytes) => {
                    tracing::error!(
                        offset = state.done,
                        "unreadable call-record spool entry skipped"
                    );
                    state.done += bytes;
                    continue;
                }
            };
            match store.apply_call_writes(&entry.call, &entry.writes).await {
                Ok(()) => applied += 1,
                Err(e) if e.is_unavailable() => {
                    tracing::info!(error = %e, applied, "database still away: call-record spool kept");
                    save_done(&state).await?;
                    return Ok(false);
                }
                Err(e) => {
                    tracing::error!(error = %e, call = %entry.call, writes = ?entry.writes, "spooled call-record write refused and lost");
                }
            }
            state.done += bytes;
            save_done(&state).await?;
        }
        // Everything is in the database: start the file again.
        let path = state.path.clone();
        let done_path = state.done_path.clone();
        blocking(move || {
            std::fs::write(&path, b"").map_err(io(&path))?;
            std::fs::remove_file(&done_path)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .map_err(io(&done_path))
        })
        .await?;
        state.len = 0;
        state.done = 0;
        tracing::info!(applied, "call-record spool replayed into the database");
        Ok(true)
    }

    /// Replays the spool every few seconds while it holds writes, for as long as the node runs.
    pub fn spawn_replayer(&self, store: Store) -> tokio::task::JoinHandle<()> {
        let spool = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REPLAY_EVERY).await;
                if spool.is_pending().await {
                    if let Err(e) = spool.replay(&store).await {
                        tracing::error!(error = %e, "call-record spool not replayed");
                    }
                }
            }
        })
    }
}

/// Appends one entry and syncs it to disk.
async fn append(state: &mut State, call: &str, writes: &[CallWrite]) -> Result<(), SpoolError> {
    let entry = Entry {
        call: call.to_owned(),
        writes: writes.to_vec(),
    };
    let mut line = serde_json::to_vec(&entry).map_err(|e| SpoolError::Io {
        path: state.path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    line.push(b'\n');
    let path = state.path.clone();
    let added = line.len() as u64;
    blocking(move || {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(&line).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))
    })
    .await?;
    state.len += added;
    metrics::counter!(c2c_web::metrics::CALL_WRITES_SPOOLED).increment(writes.len() as u64);
    Ok(())
}

/// Records how far the replay got.
async fn save_done(state: &State) -> Result<(), SpoolError> {
    let (path, done) = (state.done_path.clone(), state.done);
    blocking(move || {
        let mut file = std::fs::File::create(&path).map_err(io(&path))?;
        file.write_all(done.to_string().as_bytes())
            .map_err(io(&path))?;
        file.sync_data().map_err(io(&path))
    })
    .await
}

/// One line of the spool: its entry and length in bytes, or the length of a line that does
/// not parse (one cut short by a crash mid-append).
type Line = Result<(Entry, u64), u64>;

/// The lines from byte `from` on.
fn read_from(path: &Path, from: u64) -> Result<Vec<Line>, SpoolError> {
    use std::io::Seek;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    file.seek(std::io::SeekFrom::Start(from))
        .map_err(io(path))?;
    let mut reader = std::io::BufReader::new(file);
    let mut entries = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io(path))?;
        if n == 0 {
            return Ok(entries);
        }
        let bytes = n as u64;
        entries.push(match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) => Ok((entry, bytes)),
            Err(_) => Err(bytes),
        });
    }
}

/// Runs file work off the async threads: an fsync may take milliseconds.
async fn blocking(
    f: impl FnOnce() -> Result<(), SpoolError> + Send + 'static,
) -> Result<(), SpoolError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(SpoolError::Io {
            path: "(spool task)".into(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

#[cfg(test)]
mod tests;
