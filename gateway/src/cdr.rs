//! Call detail records: each call is inserted when it starts, updated at every state and
//! completed when it ends, with a timeline of what the gateway saw: states, and every SIP
//! message the SBC really exchanged with the trunk (the dashboard's ladder).
//!
//! Writes go through one task per call, in order, so the call loop never waits on the
//! database and a slow database never reorders a call's events.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{Direction, TraceEntry, MAX_TRACE_MESSAGES};
use c2c_sbc::token::VerifiedCall;
use c2c_web::store::NewCall;
use c2c_web::Store;
use c2c_wire::EndReason;

/// One pending write of a call's record.
enum Write {
    Insert(Box<NewCall>),
    Destination(String),
    SipCallId(String),
    Answered(i64),
    Event {
        at_ms: i64,
        kind: &'static str,
        detail: String,
    },
    Sip {
        at_ms: i64,
        kind: &'static str,
        peer: String,
        message: String,
    },
    End {
        at: i64,
        disposition: &'static str,
        sip_status: Option<u16>,
    },
}

/// Records one call; cheap to clone and to use from the call loop (no awaits).
#[derive(Clone)]
pub struct CallRecorder {
    id: String,
    writes: mpsc::UnboundedSender<Write>,
    /// The final SIP status the trunk gave, for the end of the record.
    last_status: Arc<Mutex<Option<u16>>>,
}

impl CallRecorder {
    /// Inserts the record of a verified call about to be placed.
    pub fn start(store: &Store, v: &VerifiedCall) -> CallRecorder {
        let id = format!("call_{:032x}", rand::random::<u128>());
        let (writes, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_all(store.clone(), id.clone(), rx));
        let rec = CallRecorder {
            id,
            writes,
            last_status: Arc::new(Mutex::new(None)),
        };
        rec.send(Write::Insert(Box::new(NewCall {
            id: rec.id.clone(),
            org: v.claims.org.clone(),
            campaign: v.claims.cmp.clone(),
            session_id: v.claims.sub.clone(),
            number: v.claims.num.clone(),
            destination: v.route.destinations.first().cloned().unwrap_or_default(),
            trunk: v.route.trunk.clone(),
            sip_call_id: String::new(),
            started_at: unix_ms() / 1000,
        })));
        rec.event("state", "verified");
        rec
    }

    /// The record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Destination `n` of `of` is about to be called.
    pub fn attempt(&self, n: usize, of: usize, destination: &str) {
        self.send(Write::Destination(destination.to_owned()));
        if of > 1 {
            self.event("route", &format!("destination {n} of {of}: {destination}"));
        }
    }

    /// The call was handed to the SBC with this Call-ID.
    pub fn placed(&self, sip_call_id: &str) {
        self.send(Write::SipCallId(sip_call_id.to_owned()));
        self.event("state", "placed");
    }

    /// Records a SIP message of the call's trace (or the marker that the trace was cut).
    pub fn trace(&self, entry: TraceEntry) {
        match entry {
            TraceEntry::Message(m) => self.send(Write::Sip {
                at_ms: m.at_ms,
                kind: match m.direction {
                    Direction::Sent => "sip_out",
                    Direction::Received => "sip_in",
                },
                peer: m.peer.to_string(),
                message: m.text,
            }),
            TraceEntry::Truncated { at_ms } => self.send(Write::Event {
                at_ms,
                kind: "sip_truncated",
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
                self.send(Write::Answered(unix_ms() / 1000));
            }
            Some(LegEvent::MediaChanged(m)) => {
                self.event("state", &format!("media moved to {}", m.addr));
            }
            Some(LegEvent::Ended { cause, status }) => {
                if let Some(s) = status {
                    if let Ok(mut last) = self.last_status.lock() {
                        *last = Some(*s);
                    }
                }
                let status = status.map(|s| format!(" (SIP {s})")).unwrap_or_default();
                self.event(
                    "state",
                    &format!("trunk leg ended: {}{status}", cause.as_str()),
                );
            }
            None => self.event("error", "trunk leg vanished"),
        }
    }

    /// Completes the record with the reason the browser was given.
    pub fn end(&self, reason: EndReason) {
        let sip_status = self.last_status.lock().ok().and_then(|s| *s);
        self.event("end", reason.as_str());
        self.send(Write::End {
            at: unix_ms() / 1000,
            disposition: reason.as_str(),
            sip_status,
        });
    }

    /// Appends a timeline entry.
    pub fn event(&self, kind: &'static str, detail: &str) {
        self.send(Write::Event {
            at_ms: unix_ms(),
            kind,
            detail: detail.to_owned(),
        });
    }

    fn send(&self, w: Write) {
        // The writer only stops when every sender is gone.
        let _ = self.writes.send(w);
    }
}

/// Applies one call's writes in order until the recorder is dropped.
async fn write_all(store: Store, id: String, mut rx: mpsc::UnboundedReceiver<Write>) {
    while let Some(w) = rx.recv().await {
        let result = match w {
            Write::Insert(c) => store.insert_call(&c).await,
            Write::Destination(d) => store.set_call_destination(&id, &d).await,
            Write::SipCallId(s) => store.set_call_sip_id(&id, &s).await,
            Write::Answered(at) => store.call_answered(&id, at).await,
            Write::Event {
                at_ms,
                kind,
                detail,
            } => store.add_call_event(&id, at_ms, kind, &detail).await,
            Write::Sip {
                at_ms,
                kind,
                peer,
                message,
            } => store.add_sip_event(&id, at_ms, kind, &peer, &message).await,
            Write::End {
                at,
                disposition,
                sip_status,
            } => store.end_call(&id, at, disposition, sip_status).await,
        };
        if let Err(e) = result {
            tracing::error!(error = %e, call = %id, "call record write failed");
        }
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use c2c_sbc::leg::EndCause;
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
        VerifiedCall {
            claims: serde_json::from_value(claims).expect("claims"),
            route: serde_json::from_value(route).expect("route"),
        }
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
        let rec = CallRecorder::start(&store, &verified());
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
        rec.leg_event(Some(&LegEvent::Ended {
            cause: EndCause::Busy,
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
    }
}
