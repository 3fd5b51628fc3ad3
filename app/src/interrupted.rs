//! Ends, at their trunks, the answered calls a crash interrupted: the carrier would otherwise
//! keep each call up (and billing) until its own timers notice. At start the node rebuilds
//! each trunk dialog from the SIP messages its call's timeline recorded, and once the SBC
//! knows the current trunks, sends each a BYE in the background (Timer F may take 32 s).

use std::sync::Arc;

use c2c_sbc::interrupted::{InterruptedDialog, RecordedMessage};
use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{first_line, Direction, Sbc, TraceEntry};
use c2c_store::Store;

use crate::cdr::{CallRecorder, CallRecords};

/// An interrupted call whose trunk dialog could be rebuilt.
#[derive(Debug, Clone)]
pub struct InterruptedCallDialog {
    /// The call's record id.
    pub record: String,
    /// The trunk dialog to end.
    pub dialog: InterruptedDialog,
}

/// This node's answered calls still open, with their rebuilt dialogs; read them before the
/// records are closed. A call whose dialog cannot be rebuilt is logged and left out.
pub async fn find(store: &Store, node: &str) -> Vec<InterruptedCallDialog> {
    let calls = match store.interrupted_calls(node).await {
        Ok(calls) => calls,
        Err(e) => {
            tracing::error!(error = %e, "interrupted calls not read: their trunks are not told");
            return Vec::new();
        }
    };
    calls
        .into_iter()
        .filter_map(|call| {
            let recorded: Vec<RecordedMessage<'_>> = call
                .messages
                .iter()
                .map(|m| RecordedMessage {
                    sent: m.kind == "sip_out",
                    peer: &m.peer,
                    text: &m.detail,
                })
                .collect();
            match InterruptedDialog::rebuild(&recorded) {
                Ok(dialog) => Some(InterruptedCallDialog {
                    record: call.id,
                    dialog,
                }),
                Err(e) => {
                    tracing::warn!(call = %call.id, sip_call_id = %call.sip_call_id, error = %e,
                        "trunk dialog of an interrupted call not rebuilt: the trunk is not told");
                    None
                }
            }
        })
        .collect()
}

/// Sends a BYE in each dialog, each in its own task; the caller does not wait.
pub fn end_all(records: &CallRecords, sbc: &Arc<Sbc>, calls: Vec<InterruptedCallDialog>) {
    for call in calls {
        tokio::spawn(end_one(records.clone(), sbc.clone(), call));
    }
}

/// Ends one dialog, recording the BYE and its answer in the call's ladder.
async fn end_one(records: CallRecords, sbc: Arc<Sbc>, call: InterruptedCallDialog) {
    let rec = CallRecorder::resume(&records, &call.record);
    let sip_call_id = call.dialog.call_id.as_str();
    let mut placed = match sbc.end_interrupted(&call.dialog) {
        Ok(placed) => placed,
        Err(e) => {
            tracing::warn!(call = %call.record, %sip_call_id, error = %e,
                "interrupted call not ended at the trunk");
            rec.event(
                "error",
                &format!("no BYE sent to the trunk after restart: {e}"),
            );
            return;
        }
    };
    rec.event("state", "BYE sent to the trunk after restart");
    let trace = placed.take_trace();
    // The leg ends on the BYE's final response or at Timer F; its messages precede that.
    while let Some(event) = placed.next_event().await {
        if matches!(event, LegEvent::Ended { .. }) {
            break;
        }
    }
    let mut answer = None;
    if let Some(mut trace) = trace {
        while let Ok(entry) = trace.try_recv() {
            if let TraceEntry::Message(m) = &entry {
                let status = first_line(&m.text).strip_prefix("SIP/2.0 ");
                if let Some(status) = status.filter(|_| m.direction == Direction::Received) {
                    answer = Some(status.to_owned());
                }
            }
            rec.trace(entry);
        }
    }
    match answer {
        Some(answer) => {
            tracing::info!(call = %call.record, %sip_call_id, %answer,
                "interrupted call ended at the trunk after restart");
            rec.event("state", &format!("the trunk answered the BYE: {answer}"));
        }
        None => {
            tracing::warn!(call = %call.record, %sip_call_id,
                "the trunk did not answer the BYE sent after restart");
            rec.event("error", "the trunk did not answer the BYE");
        }
    }
}

#[cfg(test)]
mod tests {
    use c2c_store::NewCall;

    use super::*;

    const TRUNK: &str = "192.0.2.7:5060";

    fn call(id: &str) -> NewCall {
        NewCall {
            id: id.into(),
            org: "o1".into(),
            campaign: "sales".into(),
            session_id: format!("ws_{id}"),
            number: "+15550100000".into(),
            destination: "+4930123456".into(),
            trunk: "main".into(),
            sip_call_id: format!("sip-{id}"),
            started_at: 1,
            node: "node_a".into(),
        }
    }

    /// Our INVITE and the trunk's 200 for call `id`.
    fn ladder(id: &str) -> (String, String) {
        let common = format!(
            "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK{id}\r\n\
             From: <sip:+15550100000@c2c.test>;tag=ours\r\nCall-ID: sip-{id}\r\n\
             CSeq: 1 INVITE\r\n"
        );
        (
            format!(
                "INVITE sip:+4930123456@192.0.2.7 SIP/2.0\r\n{common}\
                 To: <sip:+4930123456@192.0.2.7>\r\nContent-Length: 0\r\n\r\n"
            ),
            format!(
                "SIP/2.0 200 OK\r\n{common}To: <sip:+4930123456@192.0.2.7>;tag=theirs\r\n\
                 Contact: <sip:callee@192.0.2.7>\r\nContent-Length: 0\r\n\r\n"
            ),
        )
    }

    #[tokio::test]
    async fn answered_calls_left_open_are_rebuilt_and_garbled_ones_left_out() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open_sqlite_in(dir.path()).await.expect("store");
        for id in ["good", "garbled", "unanswered"] {
            store.insert_call(&call(id)).await.expect("insert");
            let (invite, ok) = ladder(id);
            let ok = match id {
                "garbled" => ok.replace("Call-ID", "Call~ID"),
                _ => ok,
            };
            store
                .add_sip_event(id, 1_000, "sip_out", TRUNK, &invite)
                .await
                .expect("INVITE");
            if id != "unanswered" {
                store
                    .add_sip_event(id, 1_100, "sip_in", TRUNK, &ok)
                    .await
                    .expect("200");
                store.call_answered(id, 1).await.expect("answered");
            }
        }
        let found = find(&store, "node_a").await;
        let found: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|c| {
                let d = &c.dialog;
                (c.record.as_str(), d.call_id.as_str(), d.remote_tag.as_str())
            })
            .collect();
        assert_eq!(found, vec![("good", "sip-good", "theirs")]);
        assert!(find(&store, "node_b").await.is_empty());
        store.close().await;
    }
}
