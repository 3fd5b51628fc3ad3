//! The trunk side of a call: placing it on each destination in turn, the leg's events and
//! the SIP messages it traces, recorded in the call's CDR.

use tokio::sync::mpsc;

use c2c_sbc::leg::{EndCause, LegEvent};
use c2c_sbc::shell::{OutboundCall, TraceEntry, TrunkCall};
use c2c_wire::EndReason;

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

/// Places the call to the first destination from `from` on that the SBC accepts; the trunk
/// leg and the destination's index.
pub(super) async fn place_from(
    gw: &Gateway,
    outbound: &OutboundCall,
    destinations: &[String],
    from: usize,
    cdr: &CallRecorder,
) -> Result<(TrunkCall, usize), String> {
    let mut last_error = String::from("no destination");
    for (i, destination) in destinations.iter().enumerate().skip(from) {
        let call = OutboundCall {
            destination: destination.clone(),
            ..outbound.clone()
        };
        cdr.attempt(i + 1, destinations.len(), destination);
        match gw.sbc.place_call(call).await {
            Ok(trunk) => {
                tracing::info!(
                    session = %outbound.session_id,
                    number = %outbound.caller_number,
                    call_id = %trunk.call_id(),
                    attempt = i + 1,
                    "call placed"
                );
                cdr.placed(trunk.call_id());
                return Ok((trunk, i));
            }
            Err(e) => {
                tracing::warn!(session = %outbound.session_id, attempt = i + 1, error = %e, "destination could not be called");
                cdr.event("error", &e.to_string());
                last_error = e.to_string();
            }
        }
    }
    Err(last_error)
}

/// Whether a trunk leg that ended this way, unanswered, moves on to the next destination:
/// every refusal does (busy, declined, unreachable, no answer), a hang-up does not.
pub(super) fn hunts_on(cause: EndCause) -> bool {
    !matches!(cause, EndCause::HangupLocal | EndCause::HangupRemote)
}

/// The trunk leg's next event, recorded in the call's CDR first; the SIP messages traced
/// meanwhile are recorded as they come (cancel-safe: both receivers are).
pub(super) async fn next_leg_event(
    trunk: &mut TrunkCall,
    trace: &mut Option<mpsc::UnboundedReceiver<TraceEntry>>,
    cdr: &CallRecorder,
) -> Option<LegEvent> {
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

/// The browser-facing reason for a trunk-side end.
pub(super) fn end_reason(cause: EndCause) -> EndReason {
    match cause {
        EndCause::HangupLocal => EndReason::HangupLocal,
        EndCause::HangupRemote => EndReason::HangupRemote,
        EndCause::Busy => EndReason::Busy,
        EndCause::NoAnswer => EndReason::NoAnswer,
        EndCause::Rejected => EndReason::Rejected,
        EndCause::Unavailable => EndReason::Unavailable,
        EndCause::Failed => EndReason::Failed,
        EndCause::Timeout => EndReason::Timeout,
    }
}
