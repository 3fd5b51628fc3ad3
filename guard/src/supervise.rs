//! Panic containment for the tasks and loops that carry calls: one bad input may cost the
//! message that carried it, never the task that serves every other call.
//!
//! A panic here is a bug (no input should reach one), so it is logged loudly with what a
//! developer needs to reproduce it — the peer and the first bytes it sent, in hex — and
//! counted in [`PANICS`] so an operator's alerting sees it.

use std::any::Any;
use std::fmt::Write as _;
use std::net::SocketAddr;

/// Panics contained (the input dropped, the task going on), by `task`.
pub const PANICS: &str = "c2c_panics_total";

/// How many bytes of the offending input are logged.
pub const HEX_PREFIX: usize = 64;

/// What to log should handling one input panic: its peer and its first [`HEX_PREFIX`] bytes,
/// kept without allocating since it is taken for every input.
#[derive(Debug, Clone)]
pub struct Evidence {
    peer: Option<SocketAddr>,
    prefix: [u8; HEX_PREFIX],
    prefix_len: usize,
    len: usize,
}

impl Evidence {
    /// Remembers the peer and the start of `input`.
    pub fn new(peer: Option<SocketAddr>, input: &[u8]) -> Self {
        let mut prefix = [0u8; HEX_PREFIX];
        let prefix_len = input.len().min(HEX_PREFIX);
        prefix[..prefix_len].copy_from_slice(&input[..prefix_len]);
        Self {
            peer,
            prefix,
            prefix_len,
            len: input.len(),
        }
    }

    /// The logged bytes as lowercase hex.
    pub fn hex(&self) -> String {
        let mut out = String::with_capacity(self.prefix_len * 2);
        for b in &self.prefix[..self.prefix_len] {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// Logs and counts a panic that handling this input caused in `task`.
    pub fn report(&self, task: &'static str, payload: &(dyn Any + Send)) {
        let peer = self.peer.map_or_else(|| "-".to_owned(), |p| p.to_string());
        tracing::error!(
            task,
            %peer,
            len = self.len,
            hex = %self.hex(),
            panic = panic_text(payload),
            "panic while handling one input: input dropped, task goes on"
        );
        metrics::counter!(PANICS, "task" => task).increment(1);
    }
}

/// The message a panic carried, when it is text.
pub fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not text)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_keeps_only_a_prefix() {
        let input: Vec<u8> = (0..200u8).collect();
        let e = Evidence::new(None, &input);
        assert_eq!(e.len, 200);
        assert_eq!(e.hex().len(), 2 * HEX_PREFIX);
        assert!(e.hex().starts_with("000102"));
        assert_eq!(Evidence::new(None, b"\xc3\xa9").hex(), "c3a9");
    }

    #[test]
    fn panic_text_reads_both_payload_kinds() {
        let p = std::panic::catch_unwind(|| panic!("static")).expect_err("panics");
        assert_eq!(panic_text(p.as_ref()), "static");
        let n = 3;
        let p = std::panic::catch_unwind(|| panic!("formatted {n}")).expect_err("panics");
        assert_eq!(panic_text(p.as_ref()), "formatted 3");
    }
}
