//! A minimal HTTP/1.1 client for API calls from tests, with full control over headers such as
//! `Origin` that a browser would not let a page forge.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status and body text.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Raw header section.
    pub headers: String,
    /// Body as text.
    pub body: String,
}

impl Response {
    /// The body parsed as JSON (Null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends one request to `base` (`http://host:port`) and reads the whole response.
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let host = base.strip_prefix("http://").expect("http:// base URL");
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(host))
        .await
        .expect("connect timeout")
        .expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream
        .write_all(req.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response timeout")
        .expect("read response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Response {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

/// Reads `/metrics` (from loopback, which needs no token) and asserts each line is there.
pub async fn assert_metrics(base: &str, lines: &[&str]) {
    let metrics = request(base, "GET", "/metrics", &[], "").await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    for line in lines {
        assert!(
            metrics.body.contains(line),
            "{line} missing: {}",
            metrics.body
        );
    }
}

/// `POST /v1/calls/token` for `campaign` as a page on `origin` would send it.
pub async fn token(base: &str, origin: &str, campaign: &str) -> Response {
    let body = serde_json::json!({ "campaign": campaign, "page_url": format!("{origin}/"), "referrer": "" }).to_string();
    request(
        base,
        "POST",
        "/v1/calls/token",
        &[("Origin", origin), ("Content-Type", "application/json")],
        &body,
    )
    .await
}
