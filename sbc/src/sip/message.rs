//! The SIP message model: methods, requests, responses and accessors for the headers a UA needs.

use std::fmt;

use super::headers::{header_param, name_addr_uri, split_list, Headers};
use super::SipError;

/// A SIP method; methods we do not know are kept verbatim as extensions (RFC 3261 §27.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// OPTIONS (RFC 3261).
    Options,
    /// REGISTER (RFC 3261).
    Register,
    /// PRACK (RFC 3262).
    Prack,
    /// UPDATE (RFC 3311).
    Update,
    /// INFO (RFC 6086).
    Info,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// Any other token.
    Extension(String),
}

/// Characters allowed in a `token` (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

impl Method {
    /// Parses a method token; methods are case-sensitive (RFC 3261 §7.1).
    pub fn parse(token: &str) -> Result<Self, SipError> {
        if token.is_empty() || !token.chars().all(is_token_char) {
            return Err(SipError::BadMethod(token.chars().take(32).collect()));
        }
        Ok(match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "REGISTER" => Self::Register,
            "PRACK" => Self::Prack,
            "UPDATE" => Self::Update,
            "INFO" => Self::Info,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            other => Self::Extension(other.to_owned()),
        })
    }

    /// The method as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Register => "REGISTER",
            Self::Prack => "PRACK",
            Self::Update => "UPDATE",
            Self::Info => "INFO",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Extension(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed CSeq header: sequence number and method (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (below 2^31).
    pub number: u32,
    /// The method the sequence number belongs to.
    pub method: Method,
}

impl CSeq {
    /// Parses `1234 INVITE`.
    pub fn parse(value: &str) -> Result<Self, SipError> {
        let mut parts = value.split_whitespace();
        let (Some(num), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SipError::BadHeaderValue("CSeq"));
        };
        if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SipError::BadHeaderValue("CSeq"));
        }
        let number: u32 = num.parse().map_err(|_| SipError::BadHeaderValue("CSeq"))?;
        if number >= 1 << 31 {
            return Err(SipError::BadHeaderValue("CSeq"));
        }
        let method = Method::parse(method).map_err(|_| SipError::BadHeaderValue("CSeq"))?;
        Ok(Self { number, method })
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI, verbatim.
    pub uri: String,
    /// The SIP version, as written (always SIP/2.0 case-insensitively once parsed).
    pub version: String,
    /// Headers in wire order.
    pub headers: Headers,
    /// The body (exactly Content-Length bytes once parsed).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The SIP version, as written.
    pub version: String,
    /// The status code, 100..=699.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers in wire order.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// A SIP message: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Request {
    /// A request with version SIP/2.0, no headers and no body.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            version: "SIP/2.0".to_owned(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
}

impl Response {
    /// A response with version SIP/2.0, no headers and no body.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            version: "SIP/2.0".to_owned(),
            status,
            reason: reason.into(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
}

impl Message {
    /// Parses one datagram (see [`super::parse_message`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, SipError> {
        super::parse_message(bytes)
    }

    /// Serialises with a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        super::write::to_bytes(self)
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        match self {
            Self::Request(r) => &r.body,
            Self::Response(r) => &r.body,
        }
    }

    /// The status code when this is a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request(_) => None,
            Self::Response(r) => Some(r.status),
        }
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.headers().get("Call-ID").map(str::trim)
    }

    /// The parsed CSeq.
    pub fn cseq(&self) -> Option<CSeq> {
        self.headers().get("CSeq").and_then(|v| CSeq::parse(v).ok())
    }

    /// The topmost Via value (the first element of the first Via header).
    pub fn top_via(&self) -> Option<&str> {
        self.headers().get("Via").and_then(|v| split_list(v).next())
    }

    /// The `branch` parameter of the topmost Via.
    pub fn top_via_branch(&self) -> Option<String> {
        self.top_via().and_then(|v| header_param(v, "branch"))
    }

    /// The From tag.
    pub fn from_tag(&self) -> Option<String> {
        self.headers()
            .get("From")
            .and_then(|v| header_param(v, "tag"))
    }

    /// The To tag.
    pub fn to_tag(&self) -> Option<String> {
        self.headers()
            .get("To")
            .and_then(|v| header_param(v, "tag"))
    }

    /// The URI of the first Contact, as a remote target (without URI headers).
    pub fn contact_uri(&self) -> Option<String> {
        let contact = self.headers().get("Contact")?;
        let first = split_list(contact).next()?;
        // The remote target becomes a Request-URI, which cannot carry URI headers (RFC 3261
        // §19.1.1, Table 1): `?…` is dropped (the `interrupted_dialog` fuzz target found a BYE
        // we sent and could not parse ourselves).
        let uri = name_addr_uri(first)?;
        Some(uri.split('?').next().unwrap_or(uri).to_owned())
    }

    /// True when the body is an SDP (Content-Type application/sdp, parameters ignored).
    pub fn has_sdp(&self) -> bool {
        !self.body().is_empty()
            && self
                .headers()
                .get("Content-Type")
                .and_then(|v| v.split(';').next())
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
    }
}
