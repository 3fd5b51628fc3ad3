//! Framing SIP messages on a byte stream (TCP, TLS): RFC 3261 §18.3 says Content-Length is
//! mandatory there and is the only way to find where a message ends.
//!
//! Sans-IO: push received bytes, then take framed messages until `Ok(None)`. Any framing
//! error is unrecoverable for the connection (RFC 4475 §3.1.2.3, §3.3.9): answer and close.

use super::headers::canonical_name;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// One complete message, header section and body.
    Message(Vec<u8>),
    /// A CRLF CRLF keep-alive ping; answer with CRLF (RFC 5626 §3.5.1).
    Ping,
}

/// Why the stream cannot be framed any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header section or the declared body exceeds the limit.
    #[error("message exceeds the size limit")]
    TooLarge,
    /// Content-Length is missing (mandatory on streams, RFC 3261 §20.14).
    #[error("Content-Length is missing")]
    MissingContentLength,
    /// Content-Length is not a number, or two disagree.
    #[error("Content-Length is malformed or repeated with another value")]
    BadContentLength,
}

/// Accumulates stream bytes and cuts them into messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    max_message: usize,
}

impl StreamFramer {
    /// A framer refusing messages larger than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_message,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The bytes not yet framed (to answer a framing error from).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// True when a message has started but is not complete.
    pub fn is_mid_message(&self) -> bool {
        self.buf.iter().any(|b| *b != b'\r' && *b != b'\n')
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Framed>, FrameError> {
        let start = self
            .buf
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .unwrap_or(self.buf.len());
        if start > 0 {
            let ping = self.buf[..start].windows(4).any(|w| w == b"\r\n\r\n");
            self.buf.drain(..start);
            if ping {
                return Ok(Some(Framed::Ping));
            }
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        let Some((head_end, body_start)) = header_end(&self.buf) else {
            if self.buf.len() > self.max_message {
                return Err(FrameError::TooLarge);
            }
            return Ok(None);
        };
        let length = content_length(&self.buf[..head_end])?;
        let total = body_start.checked_add(length).ok_or(FrameError::TooLarge)?;
        if total > self.max_message {
            return Err(FrameError::TooLarge);
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        Ok(Some(Framed::Message(message)))
    }
}

/// (end of the header lines, first body byte) when the empty line has arrived.
fn header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut line_start = 0;
    while let Some(offset) = buf[line_start..].iter().position(|b| *b == b'\n') {
        let nl = line_start + offset;
        let line = &buf[line_start..nl];
        if line.is_empty() || line == b"\r" {
            return Some((line_start, nl + 1));
        }
        line_start = nl + 1;
    }
    None
}

fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let text = String::from_utf8_lossy(head);
    let mut found: Option<usize> = None;
    for line in text.split('\n').skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with([' ', '\t'])
            || !canonical_name(name.trim()).eq_ignore_ascii_case("Content-Length")
        {
            continue;
        }
        let value = value.trim();
        if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FrameError::BadContentLength);
        }
        let len: usize = value.parse().map_err(|_| FrameError::BadContentLength)?;
        if found.is_some_and(|f| f != len) {
            return Err(FrameError::BadContentLength);
        }
        found = Some(len);
    }
    found.ok_or(FrameError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody";

    #[test]
    fn frames_split_and_joined_messages_and_pings() {
        let mut f = StreamFramer::new(1000);
        f.push(b"\r\n\r\n");
        assert_eq!(f.next_message(), Ok(Some(Framed::Ping)));
        for chunk in OPTIONS.chunks(3) {
            assert_eq!(f.next_message(), Ok(None));
            f.push(chunk);
        }
        f.push(OPTIONS);
        assert_eq!(
            f.next_message(),
            Ok(Some(Framed::Message(OPTIONS.to_vec())))
        );
        assert_eq!(
            f.next_message(),
            Ok(Some(Framed::Message(OPTIONS.to_vec())))
        );
        assert_eq!(f.next_message(), Ok(None));
        assert!(!f.is_mid_message());
    }

    #[test]
    fn refuses_unframeable_streams() {
        for (head, err) in [
            (
                &b"INVITE x SIP/2.0\r\nVia: a\r\n\r\n"[..],
                FrameError::MissingContentLength,
            ),
            (
                b"INVITE x SIP/2.0\r\nContent-Length: -999\r\n\r\n",
                FrameError::BadContentLength,
            ),
            (
                b"INVITE x SIP/2.0\r\nl: 13\r\nl: 5\r\n\r\n",
                FrameError::BadContentLength,
            ),
            (
                b"INVITE x SIP/2.0\r\nl: 999999\r\n\r\n",
                FrameError::TooLarge,
            ),
        ] {
            let mut f = StreamFramer::new(1000);
            f.push(head);
            assert_eq!(f.next_message(), Err(err));
        }
        let mut f = StreamFramer::new(100);
        f.push(&[b'a'; 101]);
        assert_eq!(f.next_message(), Err(FrameError::TooLarge));
    }
}
