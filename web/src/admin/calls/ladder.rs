//! The SIP ladder of a call's detail page: the messages the SBC really exchanged with the
//! trunk, from the call's timeline, timed relative to the first one.

use c2c_store::CallEvent;

/// One rung: a message between c2c and the trunk, or a note that the trace was cut.
pub(crate) struct Rung {
    /// Milliseconds since the first message of the ladder.
    pub(crate) after_ms: i64,
    /// Sent by c2c (else received from the trunk).
    pub(crate) outbound: bool,
    /// The trunk's address (`ip:port`).
    pub(crate) peer: String,
    /// The start line, e.g. `INVITE sip:… SIP/2.0` or `SIP/2.0 180 Ringing`.
    pub(crate) first_line: String,
    /// The whole message as on the wire.
    pub(crate) message: String,
    /// A note in place of a message (the trace reached its limit).
    pub(crate) note: bool,
}

/// The ladder of a call: its `sip_out` / `sip_in` events (and a `sip_truncated` note), in order.
pub(crate) fn ladder(events: &[CallEvent]) -> Vec<Rung> {
    let sip = || events.iter().filter(|e| is_ladder_event(e));
    let Some(t0) = sip().map(|e| e.at_ms).next() else {
        return Vec::new();
    };
    sip()
        .map(|e| Rung {
            after_ms: e.at_ms.saturating_sub(t0),
            outbound: e.kind == "sip_out",
            peer: e.peer.clone(),
            first_line: e
                .detail
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned(),
            message: e.detail.clone(),
            note: e.kind == "sip_truncated",
        })
        .collect()
}

/// True for the events the ladder shows (the timeline shows the others).
pub(crate) fn is_ladder_event(e: &CallEvent) -> bool {
    matches!(e.kind.as_str(), "sip_out" | "sip_in" | "sip_truncated")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, at_ms: i64, kind: &str, detail: &str) -> CallEvent {
        CallEvent {
            seq,
            at_ms,
            kind: kind.into(),
            detail: detail.into(),
            peer: if kind.starts_with("sip_") {
                "192.0.2.7:5060".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn rungs_are_the_sip_messages_timed_from_the_first() {
        let events = [
            event(1, 900, "state", "verified"),
            event(
                2,
                1_000,
                "sip_out",
                "INVITE sip:+4930@h SIP/2.0\r\nVia: x\r\n\r\n",
            ),
            event(3, 1_040, "sip_in", "SIP/2.0 180 Ringing\r\n\r\n"),
            event(4, 1_050, "state", "ringing"),
            event(5, 1_060, "sip_truncated", "more than 200 SIP messages"),
        ];
        let rungs = ladder(&events);
        let view: Vec<(i64, bool, bool, &str)> = rungs
            .iter()
            .map(|r| (r.after_ms, r.outbound, r.note, r.first_line.as_str()))
            .collect();
        assert_eq!(
            view,
            vec![
                (0, true, false, "INVITE sip:+4930@h SIP/2.0"),
                (40, false, false, "SIP/2.0 180 Ringing"),
                (60, false, true, "more than 200 SIP messages"),
            ]
        );
        assert_eq!(
            rungs[0].message,
            "INVITE sip:+4930@h SIP/2.0\r\nVia: x\r\n\r\n"
        );
        assert_eq!(rungs[0].peer, "192.0.2.7:5060");
    }

    #[test]
    fn a_call_without_sip_messages_has_no_ladder() {
        assert!(ladder(&[event(1, 5, "state", "verified")]).is_empty());
    }
}
