//! Call detail records: each call is inserted when it starts, updated at every state and
//! completed when it ends, with a timeline of what the gateway saw: states, and every SIP
//! message the SBC really exchanged with the trunk (the dashboard's ladder).
//!
//! Writes go through one task per call, in order, so the call loop never waits on the
//! database and a slow database never reorders a call's events. What queued up meanwhile is
//! written in one transaction, so a busy gateway writes fewer, larger commits.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{Direction, TraceEntry, MAX_TRACE_MESSAGES};
use c2c_store::Store;
use c2c_store::{CallMedia, CallWrite, NewCall};
use c2c_token::VerifiedCall;
use c2c_wire::EndReason;

use c2c_media::bridge::BridgeStats;
use c2c_token::clock::unix_ms;

mod spool;

pub use spool::{Spool, SpoolError};

/// Where call records go: the database, and the spool while the database is away; cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct CallRecords {
    /// The database.
    pub store: Store,
    /// This node's spool in its data dir.
    pub spool: Spool,
}

/// Records one call; cheap to clone and to use from the call loop (no awaits).
#[derive(Clone)]
pub struct CallRecorder {
    id: String,
    writes: mpsc::UnboundedSender<CallWrite>,
    /// The final SIP status the trunk gave, for the end of the record.
    last_status: Arc<Mutex<Option<u16>>>,
}

impl CallRecorder {
    /// Inserts the record of a verified call about to be placed.
    pub fn start(records: &CallRecords, node: &str, v: &VerifiedCall) -> CallRecorder {
        let id = format!("call_{:032x}", rand::random::<u128>());
        let rec = Self::resume(records, &id);
        rec.send(CallWrite::Insert(Box::new(NewCall {
            id: rec.id.clone(),
            org: v.org().to_owned(),
            campaign: v.campaign().to_owned(),
            session_id: v.session().to_owned(),
            number: v.number().to_string(),
            destination: v.route().destinations.first().cloned().unwrap_or_default(),
            trunk: v.route().trunk.clone(),
            sip_call_id: String::new(),
            started_at: unix_ms() / 1000,
            node: node.to_owned(),
        })));
        rec.event("state", "verified");
        rec
    }

    /// Appends to the record `id` of an earlier call (one a restart closed, say): inserts
    /// nothing.
    pub fn resume(records: &CallRecords, id: &str) -> CallRecorder {
        let (writes, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_all(records.clone(), id.to_owned(), rx));
        CallRecorder {
            id: id.to_owned(),
            writes,
            last_status: Arc::new(Mutex::new(None)),
        }
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Destination `n` of `of` is about to be called.
    pub fn attempt(&self, n: usize, of: usize, destination: &str) {
        self.destination(destination);
        if of > 1 {
            self.event("route", &format!("destination {n} of {of}: {destination}"));
        }
    }

    /// Who the call goes to now (of agents rung at once, the one who answered).
    pub fn destination(&self, destination: &str) {
        self.send(CallWrite::Destination(destination.to_owned()));
    }

    /// The call was handed to the SBC with this Call-ID.
    pub fn placed(&self, sip_call_id: &str) {
        self.send(CallWrite::SipCallId(sip_call_id.to_owned()));
        self.event("state", "placed");
    }

    /// Records a SIP message of the call's trace (or the marker that the trace was cut).
    pub fn trace(&self, entry: TraceEntry) {
        match entry {
            TraceEntry::Message(m) => self.send(CallWrite::Event {
                at_ms: m.at_ms,
                kind: match m.direction {
                    Direction::Sent => "sip_out",
                    Direction::Received => "sip_in",
                }
                .to_owned(),
                peer: m.peer.to_string(),
                detail: m.text,
            }),
            TraceEntry::Truncated { at_ms } => self.send(CallWrite::Event {
                at_ms,
                kind: "sip_truncated".to_owned(),
                peer: String::new(),
                detail: format!(
                    "more than {MAX_TRACE_MESSAGES} SIP messages: later ones are not recorded"
                ),
            }),
        }
    }

    /// The INVITE could not be sent.
    pub fn not_placed(&self, why: &str) {
        self.event("error", why);
        self.end(EndReason::Failed);
    }

    /// Records what the trunk leg reported (its SIP messages come from [`Self::trace`]).
    pub fn leg_event(&self, ev: Option<&LegEvent>) {
        match ev {
            Some(LegEvent::Trying) => self.event("state", "trying"),
            Some(LegEvent::Ringing) => self.event("state", "ringing"),
            Some(LegEvent::EarlyMedia(m)) => {
                self.event("state", &format!("early_media from {}", m.addr));
            }
            Some(LegEvent::Answered(m)) => {
                self.event("state", &format!("answered, media from {}", m.addr));
                self.send(CallWrite::Answered(unix_ms() / 1000));
            }
            Some(LegEvent::MediaChanged(m)) => {
                self.event("state", &format!("media moved to {}", m.addr));
            }
            Some(LegEvent::Refused(why)) => self.event("policy", why),
            Some(LegEvent::Picked { fork }) => {
                self.event(
                    "route",
                    &format!("device {} of those rung answers", fork + 1),
                );
            }
            Some(LegEvent::Ended { reason, status }) => {
                if let Some(s) = status {
                    if let Ok(mut last) = self.last_status.lock() {
                        *last = Some(*s);
                    }
                }
                let status = status.map(|s| format!(" (SIP {s})")).unwrap_or_default();
                self.event(
                    "state",
                    &format!("trunk leg ended: {}{status}", reason.as_str()),
                );
            }
            None => self.event("error", "trunk leg vanished"),
        }
    }

    /// Completes the record with the reason the browser was given.
    pub fn end(&self, reason: EndReason) {
        let sip_status = self.last_status.lock().ok().and_then(|s| *s);
        self.event("end", reason.as_str());
        self.send(CallWrite::End {
            at: unix_ms() / 1000,
            disposition: reason.as_str().to_owned(),
            sip_status,
        });
    }

    /// Records the media figures once the call's media stopped.
    pub fn media(&self, s: &BridgeStats) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let r = &s.trunk_rtcp;
        self.send(CallWrite::Media(CallMedia {
            from_browser: count(s.from_browser),
            to_browser: count(s.to_browser),
            from_trunk: count(s.from_trunk),
            to_trunk: count(s.to_trunk),
            lost_from_browser: count(s.lost_from_browser),
            lost_from_trunk: count(s.lost_from_trunk),
            dropped_foreign: count(s.dropped_foreign),
            trunk_reports: count(r.reports),
            trunk_lost: i64::from(r.lost),
            // 8 kHz G.711: 8 timestamp units per millisecond, 125 µs each.
            trunk_jitter_us: i64::from(r.jitter) * 125,
        }));
    }

    /// Appends a timeline entry.
    pub fn event(&self, kind: &'static str, detail: &str) {
        self.send(CallWrite::Event {
            at_ms: unix_ms(),
            kind: kind.to_owned(),
            peer: String::new(),
            detail: detail.to_owned(),
        });
    }

    fn send(&self, w: CallWrite) {
        // Counted before it is sent, so the writer never subtracts it first. The writer only
        // stops when every sender is gone.
        PENDING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.writes.send(w).is_err() {
            PENDING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Most writes one transaction takes (a call has a few dozen at most).
const BATCH: usize = 64;
/// How long a batch is retried while the database does not answer before it is spooled.
const RETRY_WINDOW: std::time::Duration = std::time::Duration::from_secs(15);

/// Applies one call's writes in order until the recorder is dropped.
/// Call record writes queued and not yet written (or given up on), over all calls: a stopping
/// node waits for them (see [`pending_writes`]).
static PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Call record writes queued and not yet written (or given up on), over all calls.
pub fn pending_writes() -> usize {
    PENDING.load(std::sync::atomic::Ordering::SeqCst)
}

async fn write_all(records: CallRecords, id: String, mut rx: mpsc::UnboundedReceiver<CallWrite>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // A panic (a bug in a write) costs that batch, never the rest of the record.
        let written = std::panic::AssertUnwindSafe(write_batch(&records, &id, &batch));
        if let Err(panic) = futures_util::FutureExt::catch_unwind(written).await {
            let text = c2c_guard::supervise::panic_text(panic.as_ref());
            tracing::error!(call = %id, panic = text, writes = batch.len(), "call record writer caught a panic");
            metrics::counter!(c2c_guard::supervise::PANICS, "task" => "cdr").increment(1);
        }
        PENDING.fetch_sub(batch.len(), std::sync::atomic::Ordering::SeqCst);
        batch.clear();
    }
}

/// Writes a batch, retrying for [`RETRY_WINDOW`] while the database is away (a restart, a
/// failover); should it stay away, the batch goes to the spool, to be replayed in order. A
/// batch the database refuses is written one write at a time, so one bad write does not take
/// the others with it.
async fn write_batch(records: &CallRecords, id: &str, batch: &[CallWrite]) {
    // Behind what is spooled already (this call's earlier writes may be among it).
    match records.spool.append_if_pending(id, batch).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, call = %id, "call-record spool not writable"),
    }
    let store = &records.store;
    let deadline = tokio::time::Instant::now() + RETRY_WINDOW;
    let mut wait = std::time::Duration::from_millis(200);
    let mut unavailable = true;
    for attempt in 1.. {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, store.apply_call_writes(id, batch)).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => {
                unavailable = e.is_unavailable();
                tracing::warn!(error = %e, call = %id, attempt, "call record write failed");
                if !unavailable {
                    break;
                }
            }
            // A query waiting out the pool's own timeout: the database is not answering. Should
            // it have committed just then, the spooled copy repeats these timeline entries.
            Err(_) => break,
        }
        tokio::time::sleep(wait.min(left)).await;
        wait *= 2;
    }
    if unavailable {
        match records.spool.append(id, batch).await {
            Ok(()) => {
                tracing::warn!(call = %id, writes = batch.len(), "database away: call-record writes spooled");
                return;
            }
            Err(e) => tracing::error!(error = %e, call = %id, "call-record spool not writable"),
        }
    }
    for w in batch {
        if let Err(e) = store.apply_call_writes(id, std::slice::from_ref(w)).await {
            tracing::error!(error = %e, call = %id, write = ?w, "call record write lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use c2c_sbc::leg::EndReason;
    use c2c_sbc::shell::TracedMessage;

    use super::*;

    fn verified() -> VerifiedCall {
        let claims = serde_json::json!({
            "iss": "c2c", "aud": "c2c-sbc", "sub": "ws_1", "org": "o1", "cmp": "sales",
            "num": "+15550100000", "ori": "https://shop.example", "iat": 0, "nbf": 0,
            "exp": 60, "jti": "j1", "rte": "sealed"
        });
        let route =
            serde_json::json!({"trunk": "main", "destinations": ["+4930123456"], "privacy": false});
        VerifiedCall::for_tests(
            serde_json::from_value(claims).expect("claims"),
            serde_json::from_value(route).expect("route"),
        )
    }

    /// A traced message as the SBC reports it.
    fn wire(direction: Direction, at_ms: i64, text: &str) -> TraceEntry {
        TraceEntry::Message(TracedMessage {
            direction,
            at_ms,
            peer: "192.0.2.7:5060".parse().expect("peer"),
            text: text.to_owned(),
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_is_recorded_at_start_and_completed_with_its_sip_trace() {
        let dir = tempfile::Builder::new()
            .prefix("c2c-cdr-")
            .tempdir()
            .expect("temp dir");
        let store = Store::open_sqlite_in(dir.path()).await.expect("store");
        let records = CallRecords {
            store: store.clone(),
            spool: Spool::open(dir.path()).expect("spool"),
        };
        let rec = CallRecorder::start(&records, "node_test", &verified());
        let id = rec.id().to_owned();
        rec.placed("abc@127.0.0.1");
        let invite = "INVITE sip:+4930123456@192.0.2.7 SIP/2.0\r\nCall-ID: abc@127.0.0.1\r\n\r\n";
        rec.trace(wire(Direction::Sent, 1_000, invite));
        rec.trace(wire(Direction::Sent, 1_500, invite)); // Timer A
        rec.trace(wire(
            Direction::Received,
            1_510,
            "SIP/2.0 100 Trying\r\n\r\n",
        ));
        rec.leg_event(Some(&LegEvent::Trying));
        rec.trace(wire(
            Direction::Received,
            1_600,
            "SIP/2.0 180 Ringing\r\n\r\n",
        ));
        rec.leg_event(Some(&LegEvent::Ringing));
        // In progress: the record exists before the call ends.
        let start = std::time::Instant::now();
        while store.call("o1", &id).await.expect("get").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no record at start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        rec.trace(wire(
            Direction::Received,
            2_000,
            "SIP/2.0 486 Busy Here\r\n\r\n",
        ));
        rec.trace(wire(
            Direction::Sent,
            2_001,
            "ACK sip:+4930123456@192.0.2.7 SIP/2.0\r\n\r\n",
        ));
        rec.trace(TraceEntry::Truncated { at_ms: 2_002 });
        let why = "the trunk's media address 10.9.9.9:4000 is outside [sip] trunk_networks";
        rec.leg_event(Some(&LegEvent::Refused(why.into())));
        rec.leg_event(Some(&LegEvent::Ended {
            reason: EndReason::Busy,
            status: Some(486),
        }));
        rec.end(EndReason::Busy);
        drop(rec);
        let record = loop {
            let c = store.call("o1", &id).await.expect("get").expect("record");
            if c.ended_at.is_some() {
                break c;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "never completed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            (
                record.sip_call_id.as_str(),
                record.disposition.as_deref(),
                record.sip_status,
                record.session_id.as_str(),
                record.campaign.as_str()
            ),
            ("abc@127.0.0.1", Some("busy"), Some(486), "ws_1", "sales")
        );
        let events = loop {
            let events = store.call_events(&id).await.expect("events");
            if events.iter().any(|e| e.kind == "end") {
                break events;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "events missing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let ladder: Vec<(i64, &str, &str, &str)> = events
            .iter()
            .filter(|e| e.kind.starts_with("sip_"))
            .map(|e| {
                let first = e.detail.lines().next().unwrap_or_default();
                (e.at_ms, e.kind.as_str(), e.peer.as_str(), first)
            })
            .collect();
        let peer = "192.0.2.7:5060";
        let invite_line = "INVITE sip:+4930123456@192.0.2.7 SIP/2.0";
        assert_eq!(
            ladder,
            vec![
                (1_000, "sip_out", peer, invite_line),
                (1_500, "sip_out", peer, invite_line),
                (1_510, "sip_in", peer, "SIP/2.0 100 Trying"),
                (1_600, "sip_in", peer, "SIP/2.0 180 Ringing"),
                (2_000, "sip_in", peer, "SIP/2.0 486 Busy Here"),
                (
                    2_001,
                    "sip_out",
                    peer,
                    "ACK sip:+4930123456@192.0.2.7 SIP/2.0"
                ),
                (
                    2_002,
                    "sip_truncated",
                    "",
                    "more than 200 SIP messages: later ones are not recorded"
                ),
            ]
        );
        // The whole message is kept, not only its start line.
        let first = events.iter().find(|e| e.kind == "sip_out").expect("INVITE");
        assert_eq!(first.detail, invite);
        // States and the end are recorded too, after the messages that caused them.
        let states: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == "state" || e.kind == "end")
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(
            states,
            vec![
                "verified",
                "placed",
                "trying",
                "ringing",
                "trunk leg ended: busy (SIP 486)",
                "busy"
            ]
        );
        // Why the SBC refused an address the trunk named is on the record.
        let policy: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == "policy")
            .map(|e| e.detail.as_str())
            .collect();
        assert_eq!(policy, vec![why]);
    }
}
