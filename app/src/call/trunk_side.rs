//! The trunk side of a call: placing it on each destination in turn, the leg's events and
//! the SIP messages it traces, recorded in the call's CDR.

use tokio::sync::mpsc;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{Attempt, TraceEntry, TrunkCall};
use c2c_token::VerifiedCall;

use super::Gateway;
use crate::cdr::CallRecorder;

/// Records what a trunk leg still sends or receives after the call moved on or ended, until
/// the SBC forgets it.
pub(super) fn keep_tracing(mut trace: mpsc::UnboundedReceiver<TraceEntry>, cdr: &CallRecorder) {
    let cdr = cdr.clone();
    tokio::spawn(async move {
        while let Some(entry) = trace.recv().await {
            cdr.trace(entry);
        }
    });
}

/// Places the call on the first destination from `attempt`'s on that the SBC accepts; the
/// trunk leg, with the attempt moved to the destination it called.
pub(super) async fn place_from(
    gw: &Gateway,
    call: &VerifiedCall,
    attempt: &mut Attempt,
    cdr: &CallRecorder,
) -> Result<TrunkCall, String> {
    let destinations = &call.route().destinations;
    let mut last_error = String::from("no destination");
    for (i, destination) in destinations.iter().enumerate().skip(attempt.destination) {
        attempt.destination = i;
        cdr.attempt(i + 1, destinations.len(), destination);
        match gw.sbc.place_call(call, attempt).await {
            Ok(trunk) => {
                tracing::info!(
                    session = %call.session(),
                    number = %call.number(),
                    call_id = %trunk.call_id(),
                    attempt = i + 1,
                    "call placed"
                );
                cdr.placed(trunk.call_id());
                return Ok(trunk);
            }
            Err(e) => {
                tracing::warn!(session = %call.session(), attempt = i + 1, error = %e, "destination could not be called");
                cdr.event("error", &e.to_string());
                last_error = e.to_string();
            }
        }
    }
    Err(last_error)
}

/// The trunk leg's next event, recorded in the call's CDR first; the SIP messages traced
/// meanwhile are recorded as they come (cancel-safe: both receivers are). Without a leg,
/// never.
pub(super) async fn next_leg_event(
    trunk: &mut Option<TrunkCall>,
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
    cdr: &CallRecorder,
) -> Option<LegEvent> {
    // Waiting in the queue there is no leg: nothing comes.
    let Some(trunk) = trunk.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            ev = trunk.next_event() => {
                // The SBC traces every message before the event it caused.
                record_traced(trace, cdr);
                cdr.leg_event(ev.as_ref());
                return ev;
            }
            entry = next_traced(trace) => match entry {
                Some(entry) => cdr.trace(entry),
                None => *trace = None,
            },
        }
    }
}

/// The next trace entry; never, once the trace ended.
pub(super) async fn next_traced(
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
) -> Option<TraceEntry> {
    match trace.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Records the trace entries already waiting.
pub(super) fn record_traced(
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
    cdr: &CallRecorder,
) {
    while let Some(entry) = trace.as_mut().and_then(|rx| rx.try_recv().ok()) {
        cdr.trace(entry);
    }
}
