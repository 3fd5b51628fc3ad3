//! Call detail records: each call is inserted when it starts, updated at every state and
//! completed when it ends, with a timeline of what the gateway saw (states and the SIP
//! messages they imply, for the dashboard's ladder).
//!
//! Writes go through one task per call, in order, so the call loop never waits on the
//! database and a slow database never reorders a call's events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use c2c_sbc::leg::{EndCause, LegEvent};
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
    /// Whether the trunk answered (a local hangup is then a BYE, else a CANCEL).
    answered: Arc<AtomicBool>,
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
            answered: Arc::new(AtomicBool::new(false)),
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

    /// The INVITE went out with this Call-ID.
    pub fn placed(&self, sip_call_id: &str) {
        self.send(Write::SipCallId(sip_call_id.to_owned()));
        self.event("sip_out", "INVITE");
    }

    /// The INVITE could not be sent.
    pub fn not_placed(&self, why: &str) {
        self.event("error", why);
        self.end(EndReason::Failed);
    }

    /// Records what the trunk leg reported.
    pub fn leg_event(&self, ev: Option<&LegEvent>) {
        match ev {
            Some(LegEvent::Trying) => self.event("sip_in", "100 Trying"),
            Some(LegEvent::Ringing) => {
                self.event("sip_in", "180 Ringing");
                self.event("state", "ringing");
            }
            Some(LegEvent::EarlyMedia(m)) => {
                self.event("sip_in", "183 Session Progress (SDP)");
                self.event("state", &format!("early_media from {}", m.addr));
            }
            Some(LegEvent::Answered(m)) => {
                self.event("sip_in", "200 OK (SDP)");
                self.event("sip_out", "ACK");
                self.event("state", &format!("answered, media from {}", m.addr));
                self.answered.store(true, Ordering::Relaxed);
                self.send(Write::Answered(unix_ms() / 1000));
            }
            Some(LegEvent::MediaChanged(m)) => {
                self.event("sip_in", "re-INVITE / UPDATE (SDP)");
                self.event("state", &format!("media moved to {}", m.addr));
            }
            Some(LegEvent::Ended { cause, status }) => {
                let answered = self.answered.load(Ordering::Relaxed);
                match cause {
                    EndCause::HangupLocal => {
                        self.event("sip_out", if answered { "BYE" } else { "CANCEL" });
                    }
                    EndCause::HangupRemote => {
                        self.event("sip_in", "BYE");
                        self.event("sip_out", "200 OK");
                    }
                    _ => {}
                }
                if let Some(s) = status {
                    self.event("sip_in", &format!("{s} (final)"));
                    if let Ok(mut last) = self.last_status.lock() {
                        *last = Some(*s);
                    }
                }
                self.event("state", &format!("trunk leg ended: {}", cause.as_str()));
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_is_recorded_at_start_and_completed_with_its_ladder() {
        let dir = tempfile::Builder::new()
            .prefix("c2c-cdr-")
            .tempdir()
            .expect("temp dir");
        let store = Store::open_sqlite_in(dir.path()).await.expect("store");
        let rec = CallRecorder::start(&store, &verified());
        let id = rec.id().to_owned();
        rec.placed("abc@127.0.0.1");
        rec.leg_event(Some(&LegEvent::Trying));
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
        let ladder: Vec<String> = store
            .call_events(&id)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.kind.starts_with("sip_"))
            .map(|e| e.detail)
            .collect();
        assert_eq!(
            ladder,
            vec!["INVITE", "100 Trying", "180 Ringing", "486 (final)"]
        );
    }
}
