//! A small, strict SIP message layer (RFC 3261 §7): the message model, the parser, the
//! serialiser and helpers to read the headers a UAC needs.
//!
//! Strict on purpose: the parser rejects what RFC 3261 says is malformed instead of guessing,
//! so that nothing half-understood reaches the call logic. It never panics on any input.

mod grammar;
mod headers;
mod message;
mod parse;
mod salvage;
mod scan;
mod stream;
mod uri;
mod write;

pub use grammar::uri_scheme;
pub use headers::{
    canonical_name, header_param, name_addr_uri, sanitize_header_value, split_list, Headers,
};
pub use message::{CSeq, Message, Method, Request, Response};
pub use parse::{parse_message, MAX_MESSAGE_SIZE};
pub use salvage::{error_response, salvage_request, Salvaged};
pub use stream::{FrameError, Framed, StreamFramer};
pub use uri::{escape_user, host_port};
pub use write::response_to;

use thiserror::Error;

/// Why a datagram could not be parsed as a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SipError {
    /// The datagram held nothing but whitespace (e.g. a CRLF keep-alive, RFC 5626 §3.5.1).
    #[error("empty message")]
    Empty,
    /// The datagram is larger than we accept.
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_SIZE}-byte limit")]
    TooLarge(usize),
    /// The header section is not valid UTF-8.
    #[error("header section is not valid UTF-8")]
    NotUtf8,
    /// The blank line that ends the header section is missing.
    #[error("header section is not terminated by an empty line")]
    UnterminatedHeaders,
    /// The first line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line: {0}")]
    BadStartLine(String),
    /// The SIP version is not SIP/2.0.
    #[error("unsupported SIP version {0:?}")]
    UnsupportedVersion(String),
    /// The Request-URI is malformed (bad scheme, whitespace, `<>`, a bad host or `?headers`).
    #[error("malformed Request-URI {0:?}")]
    BadRequestUri(String),
    /// The method is not a valid token.
    #[error("invalid method {0:?}")]
    BadMethod(String),
    /// A header line has no colon or an invalid name.
    #[error("malformed header line {0:?}")]
    BadHeader(String),
    /// A mandatory header (RFC 3261 §8.1.1) is absent.
    #[error("missing mandatory header {0}")]
    MissingHeader(&'static str),
    /// A header value is not well formed.
    #[error("malformed {0} header")]
    BadHeaderValue(&'static str),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
    /// Content-Length declares more bytes than the datagram carries (RFC 3261 §18.3).
    #[error("Content-Length {declared} exceeds the {available} body bytes received")]
    BodyTruncated {
        /// Bytes announced by Content-Length.
        declared: usize,
        /// Bytes actually present after the header section.
        available: usize,
    },
}

#[cfg(test)]
mod tests;
