//! What a browser says to c2c before and around media: the token request and the signalling
//! WebSocket (ARCHITECTURE.md, "Signalling").

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use c2c_wire::{ClientMessage, ServerMessage};

/// Longest any one HTTP or WebSocket step may take.
pub const STEP_LIMIT: Duration = Duration::from_secs(15);

/// Why a call's signalling failed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// TCP, HTTP or WebSocket I/O failed.
    #[error("{0}")]
    Io(String),
    /// The token request was refused.
    #[error("token refused: HTTP {0}")]
    Refused(u16),
    /// A step took longer than [`STEP_LIMIT`].
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The gateway said something we did not expect.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

/// A call token and where to use it.
pub struct Token {
    /// The signed token.
    pub token: String,
    /// The WebSocket URL to present it on.
    pub ws_url: String,
}

/// `POST /v1/calls/token` as a page on `origin` would send it.
pub async fn fetch_token(
    gateway: &str,
    origin: &str,
    campaign: &str,
) -> Result<Token, SignalError> {
    let host = gateway
        .strip_prefix("http://")
        .ok_or_else(|| SignalError::Io(format!("{gateway} is not an http:// URL")))?
        .trim_end_matches('/');
    let body = serde_json::json!({
        "campaign": campaign, "page_url": format!("{origin}/loadgen"), "referrer": ""
    })
    .to_string();
    let request = format!(
        "POST /v1/calls/token HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Origin: {origin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let raw = tokio::time::timeout(STEP_LIMIT, async {
        let mut stream = TcpStream::connect(host).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    })
    .await
    .map_err(|_| SignalError::Timeout("the token"))?
    .map_err(|e| SignalError::Io(format!("token request: {e}")))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status != 200 {
        return Err(SignalError::Refused(status));
    }
    let json: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| SignalError::Unexpected(format!("token body: {e}")))?;
    let token = json["token"]
        .as_str()
        .ok_or_else(|| SignalError::Unexpected("no token in the response".into()))?;
    let ws_url = json["ws_url"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("ws://{host}/v1/calls/ws"));
    Ok(Token {
        token: token.to_owned(),
        ws_url,
    })
}

/// An open signalling WebSocket.
pub struct Signalling {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Signalling {
    /// Opens `url` with the page's `Origin`.
    pub async fn connect(url: &str, origin: &str) -> Result<Self, SignalError> {
        let mut request = url
            .into_client_request()
            .map_err(|e| SignalError::Io(format!("ws url {url}: {e}")))?;
        let origin = HeaderValue::from_str(origin)
            .map_err(|e| SignalError::Io(format!("origin {origin}: {e}")))?;
        request.headers_mut().insert("Origin", origin);
        let (ws, _) = tokio::time::timeout(STEP_LIMIT, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| SignalError::Timeout("the WebSocket"))?
            .map_err(|e| SignalError::Io(format!("ws connect: {e}")))?;
        Ok(Signalling { ws })
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), SignalError> {
        let text = serde_json::to_string(msg)
            .map_err(|e| SignalError::Unexpected(format!("encode: {e}")))?;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| SignalError::Io(format!("ws send: {e}")))
    }

    /// The next server message; None when the socket closed.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, SignalError> {
        while let Some(frame) = self.ws.next().await {
            match frame.map_err(|e| SignalError::Io(format!("ws receive: {e}")))? {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str())
                        .map(Some)
                        .map_err(|e| SignalError::Unexpected(format!("{text}: {e}")));
                }
                Message::Close(_) => return Ok(None),
                _ => continue,
            }
        }
        Ok(None)
    }

    /// The next server message within [`STEP_LIMIT`].
    pub async fn recv_within(&mut self, what: &'static str) -> Result<ServerMessage, SignalError> {
        match tokio::time::timeout(STEP_LIMIT, self.recv()).await {
            Err(_) => Err(SignalError::Timeout(what)),
            Ok(Ok(None)) => Err(SignalError::Unexpected(format!(
                "socket closed waiting for {what}"
            ))),
            Ok(Ok(Some(m))) => Ok(m),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}
