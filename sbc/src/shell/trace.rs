//! The per-call trace of SIP messages as they were on the wire, for the dashboard's ladder.
//!
//! Taken in the shell, where bytes are really sent and received, so it shows what the trunk
//! saw: retransmissions, challenges, ACKs and every trunk tried by failover. The sans-IO leg
//! knows nothing of it. The one thing left out is the digest `response` of our credentials:
//! whoever reads a ladder could otherwise guess the trunk password offline.

use std::net::SocketAddr;

use c2c_token::clock::unix_ms;
use tokio::sync::mpsc;

/// Most messages traced per call; later ones are counted out with one marker.
pub const MAX_TRACE_MESSAGES: usize = 200;
/// Most bytes of one message kept in the trace; the rest is replaced by a marker.
pub const MAX_TRACE_BYTES: usize = 8 * 1024;

/// Which way a traced message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The SBC sent it to the peer.
    Sent,
    /// The SBC received it from the peer.
    Received,
}

/// One SIP message of a call, as sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedMessage {
    /// Sent or received.
    pub direction: Direction,
    /// Wall-clock time, Unix milliseconds.
    pub at_ms: i64,
    /// The trunk address it went to or came from.
    pub peer: SocketAddr,
    /// The message text (invalid UTF-8 replaced, digest responses redacted), cut at
    /// [`MAX_TRACE_BYTES`] with a marker.
    pub text: String,
}

impl TracedMessage {
    /// The start line: `INVITE sip:… SIP/2.0` or `SIP/2.0 180 Ringing`.
    pub fn first_line(&self) -> &str {
        first_line(&self.text)
    }
}

/// The start line of a SIP message's text.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim_end()
}

/// What the trace of a call reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEntry {
    /// A message on the wire.
    Message(TracedMessage),
    /// The call reached [`MAX_TRACE_MESSAGES`]; later messages are not traced.
    Truncated {
        /// When the first untraced message went by, Unix milliseconds.
        at_ms: i64,
    },
}

/// The shell's side of one call's trace: counts and forwards what went over the wire.
#[derive(Debug)]
pub(super) struct CallTrace {
    tx: mpsc::UnboundedSender<TraceEntry>,
    traced: usize,
}

impl CallTrace {
    /// A trace feeding `tx`.
    pub(super) fn new(tx: mpsc::UnboundedSender<TraceEntry>) -> Self {
        Self { tx, traced: 0 }
    }

    /// Records one message; past the limit, one `Truncated` marker and then nothing.
    pub(super) fn record(&mut self, direction: Direction, bytes: &[u8], peer: SocketAddr) {
        if self.traced > MAX_TRACE_MESSAGES {
            return;
        }
        self.traced += 1;
        let at_ms = unix_ms();
        let entry = if self.traced > MAX_TRACE_MESSAGES {
            TraceEntry::Truncated { at_ms }
        } else {
            TraceEntry::Message(TracedMessage {
                direction,
                at_ms,
                peer,
                text: redact_credentials(bounded_text(bytes)),
            })
        };
        // Nobody listening (trace not taken, or the call handle dropped) is fine.
        let _ = self.tx.send(entry);
    }
}

/// The message as text, at most [`MAX_TRACE_BYTES`] of it, with a marker when cut.
fn bounded_text(bytes: &[u8]) -> String {
    let kept = bytes.get(..MAX_TRACE_BYTES).unwrap_or(bytes);
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if kept.len() < bytes.len() {
        text.push_str(&format!(
            "\r\n[… trace truncated: {} of {} bytes shown]",
            kept.len(),
            bytes.len()
        ));
    }
    text
}

/// Marks a redacted digest response.
const REDACTED: &str = "[redacted]";

/// The text with the `response` of every (Proxy-)Authorization header replaced.
fn redact_credentials(text: String) -> String {
    if !text.to_ascii_lowercase().contains("authorization") {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization")
        {
            out.push_str(&redact_response(line));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// One credentials header line with its `response` parameter's value replaced.
fn redact_response(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let Some(at) = lower.find("response=") else {
        return line.to_owned();
    };
    let value = at + "response=".len();
    let rest = &line[value..];
    let unquoted_end = rest.find([',', '\r', '\n']).unwrap_or(rest.len());
    let len = match rest.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map_or(unquoted_end, |end| end + 2),
        None => unquoted_end,
    };
    format!("{}\"{REDACTED}\"{}", &line[..value], &rest[len..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], 5060))
    }

    #[test]
    fn long_messages_are_cut_with_a_marker() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut trace = CallTrace::new(tx);
        let mut big = b"SIP/2.0 200 OK\r\n".to_vec();
        big.resize(MAX_TRACE_BYTES + 100, b'x');
        trace.record(Direction::Received, &big, peer());
        let Ok(TraceEntry::Message(m)) = rx.try_recv() else {
            panic!("a message")
        };
        assert_eq!(m.first_line(), "SIP/2.0 200 OK");
        assert!(m.text.ends_with(&format!(
            "[… trace truncated: {MAX_TRACE_BYTES} of {} bytes shown]",
            MAX_TRACE_BYTES + 100
        )));
    }

    #[test]
    fn digest_responses_are_redacted() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut trace = CallTrace::new(tx);
        let invite = "INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\
            Proxy-Authorization: Digest username=\"c2c\", realm=\"t\", nonce=\"n\", \
            uri=\"sip:1@h\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5\r\n\
            authorization: Digest username=\"c2c\",response=abc123,qop=auth\r\n\r\n";
        trace.record(Direction::Sent, invite.as_bytes(), peer());
        let Ok(TraceEntry::Message(m)) = rx.try_recv() else {
            panic!("a message")
        };
        assert!(!m.text.contains("0123456789abcdef") && !m.text.contains("abc123"));
        assert!(m
            .text
            .contains("uri=\"sip:1@h\", response=\"[redacted]\", algorithm=MD5\r\n"));
        assert!(m
            .text
            .contains("username=\"c2c\",response=\"[redacted]\",qop=auth\r\n"));
        assert!(m
            .text
            .starts_with("INVITE sip:1@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"));
    }

    #[test]
    fn a_call_traces_at_most_the_limit_then_one_marker() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut trace = CallTrace::new(tx);
        for _ in 0..MAX_TRACE_MESSAGES + 10 {
            trace.record(Direction::Sent, b"OPTIONS sip:a SIP/2.0\r\n\r\n", peer());
        }
        let mut messages = 0;
        let mut markers = 0;
        while let Ok(entry) = rx.try_recv() {
            match entry {
                TraceEntry::Message(_) => messages += 1,
                TraceEntry::Truncated { .. } => markers += 1,
            }
        }
        assert_eq!((messages, markers), (MAX_TRACE_MESSAGES, 1));
    }
}
