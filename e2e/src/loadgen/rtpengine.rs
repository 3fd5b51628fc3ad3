//! rtpengine's ng control protocol (bencode over UDP, a cookie before each message), just
//! enough to bridge a WebRTC offer to plain RTP the way a SIP proxy in front of it would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;

/// How long rtpengine may take to answer one command.
const NG_LIMIT: Duration = Duration::from_secs(5);

/// Why an ng command failed.
#[derive(Debug, thiserror::Error)]
pub enum NgError {
    /// Socket trouble or no answer in time.
    #[error("ng: {0}")]
    Io(String),
    /// rtpengine answered with `result: error` or something we cannot read.
    #[error("rtpengine: {0}")]
    Refused(String),
}

/// A bencode value (BEP 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    /// A byte string.
    Bytes(Vec<u8>),
    /// An integer.
    Int(i64),
    /// A list.
    List(Vec<Bencode>),
    /// A dictionary (keys sorted, as bencode requires).
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    /// A string value.
    pub fn str(s: &str) -> Bencode {
        Bencode::Bytes(s.as_bytes().to_vec())
    }

    /// A list of strings.
    pub fn strs(items: &[&str]) -> Bencode {
        Bencode::List(items.iter().map(|s| Bencode::str(s)).collect())
    }

    /// A dictionary from string keys.
    pub fn dict(items: Vec<(&str, Bencode)>) -> Bencode {
        Bencode::Dict(
            items
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// The string under `key` of a dictionary.
    pub fn get_str(&self, key: &str) -> Option<String> {
        match self {
            Bencode::Dict(d) => match d.get(key.as_bytes())? {
                Bencode::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            },
            _ => None,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Bencode::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Bencode::List(items) => {
                out.push(b'l');
                items.iter().for_each(|i| i.encode(out));
                out.push(b'e');
            }
            Bencode::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the start of `data`; returns it and the bytes left.
    pub fn decode(data: &[u8]) -> Option<(Bencode, &[u8])> {
        match *data.first()? {
            b'i' => {
                let end = data.iter().position(|&c| c == b'e')?;
                let n = std::str::from_utf8(&data[1..end]).ok()?.parse().ok()?;
                Some((Bencode::Int(n), &data[end + 1..]))
            }
            b'l' => {
                let mut rest = &data[1..];
                let mut items = Vec::new();
                while *rest.first()? != b'e' {
                    let (v, r) = Bencode::decode(rest)?;
                    items.push(v);
                    rest = r;
                }
                Some((Bencode::List(items), &rest[1..]))
            }
            b'd' => {
                let mut rest = &data[1..];
                let mut d = BTreeMap::new();
                while *rest.first()? != b'e' {
                    let (Bencode::Bytes(k), r) = Bencode::decode(rest)? else {
                        return None;
                    };
                    let (v, r) = Bencode::decode(r)?;
                    d.insert(k, v);
                    rest = r;
                }
                Some((Bencode::Dict(d), &rest[1..]))
            }
            b'0'..=b'9' => {
                let colon = data.iter().position(|&c| c == b':')?;
                let len: usize = std::str::from_utf8(&data[..colon]).ok()?.parse().ok()?;
                let start = colon + 1;
                let bytes = data.get(start..start.checked_add(len)?)?;
                Some((Bencode::Bytes(bytes.to_vec()), &data[start + len..]))
            }
            _ => None,
        }
    }
}

/// One ng client socket (one per call keeps replies apart without a cookie table).
pub struct NgClient {
    socket: UdpSocket,
    server: SocketAddr,
}

/// Cookie counter shared by every client of this process.
static NEXT_COOKIE: AtomicU64 = AtomicU64::new(1);

impl NgClient {
    /// A client for the ng listener at `server`.
    pub async fn new(server: SocketAddr) -> Result<Self, NgError> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| NgError::Io(e.to_string()))?;
        Ok(NgClient { socket, server })
    }

    /// Sends `command` and returns the reply dictionary; refuses `result: error`.
    pub async fn call(&mut self, command: Bencode) -> Result<Bencode, NgError> {
        // rtpengine caches replies by cookie to answer retransmissions: cookies must never
        // repeat, across clients too.
        let cookie = format!(
            "{}_{}",
            std::process::id(),
            NEXT_COOKIE.fetch_add(1, Ordering::Relaxed)
        );
        let mut msg = format!("{cookie} ").into_bytes();
        command.encode(&mut msg);
        self.socket
            .send_to(&msg, self.server)
            .await
            .map_err(|e| NgError::Io(e.to_string()))?;
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, _) = tokio::time::timeout(NG_LIMIT, self.socket.recv_from(&mut buf))
                .await
                .map_err(|_| NgError::Io("no reply".into()))?
                .map_err(|e| NgError::Io(e.to_string()))?;
            let Some(body) = buf[..n].strip_prefix(format!("{cookie} ").as_bytes()) else {
                continue; // a late reply to an earlier command
            };
            let (reply, _) =
                Bencode::decode(body).ok_or_else(|| NgError::Refused("unreadable reply".into()))?;
            return match reply.get_str("result").as_deref() {
                Some("ok") | Some("pong") => Ok(reply),
                _ => Err(NgError::Refused(
                    reply
                        .get_str("error-reason")
                        .unwrap_or_else(|| format!("{reply:?}")),
                )),
            };
        }
    }

    /// `offer`: the browser's WebRTC SDP in, the plain RTP/AVP SDP for the SIP side out.
    pub async fn offer(&mut self, call_id: &str, sdp: &str) -> Result<String, NgError> {
        let reply = self
            .call(Bencode::dict(vec![
                ("command", Bencode::str("offer")),
                ("call-id", Bencode::str(call_id)),
                ("from-tag", Bencode::str("browser")),
                ("sdp", Bencode::str(sdp)),
                ("transport-protocol", Bencode::str("RTP/AVP")),
                ("ICE", Bencode::str("remove")),
                ("rtcp-mux", Bencode::strs(&["demux"])),
                ("replace", Bencode::strs(&["origin", "session-connection"])),
                ("flags", Bencode::strs(&["trust-address"])),
            ]))
            .await?;
        reply
            .get_str("sdp")
            .ok_or_else(|| NgError::Refused("offer reply without sdp".into()))
    }

    /// `answer`: the SIP side's plain SDP in, the WebRTC answer for the browser out.
    pub async fn answer(&mut self, call_id: &str, sdp: &str) -> Result<String, NgError> {
        let reply = self
            .call(Bencode::dict(vec![
                ("command", Bencode::str("answer")),
                ("call-id", Bencode::str(call_id)),
                ("from-tag", Bencode::str("browser")),
                ("to-tag", Bencode::str("trunk")),
                ("sdp", Bencode::str(sdp)),
                ("transport-protocol", Bencode::str("UDP/TLS/RTP/SAVPF")),
                ("ICE", Bencode::str("force")),
                ("rtcp-mux", Bencode::strs(&["require"])),
                ("replace", Bencode::strs(&["origin", "session-connection"])),
                ("flags", Bencode::strs(&["trust-address"])),
            ]))
            .await?;
        let sdp = reply
            .get_str("sdp")
            .ok_or_else(|| NgError::Refused("answer reply without sdp".into()))?;
        Ok(with_bundle_group(&sdp))
    }

    /// `delete`: ends the call in rtpengine.
    pub async fn delete(&mut self, call_id: &str) -> Result<(), NgError> {
        self.call(Bencode::dict(vec![
            ("command", Bencode::str("delete")),
            ("call-id", Bencode::str(call_id)),
            ("from-tag", Bencode::str("browser")),
        ]))
        .await
        .map(|_| ())
    }
}

/// rtpengine 10.5 answers a one-m-line BUNDLE offer without `a=group:BUNDLE`, which str0m
/// (like a browser with `bundlePolicy: max-bundle`) requires: adds it for the answer's mid.
pub fn with_bundle_group(sdp: &str) -> String {
    if sdp.contains("a=group:BUNDLE") {
        return sdp.to_owned();
    }
    let Some(mid) = sdp.lines().find_map(|l| l.strip_prefix("a=mid:")) else {
        return sdp.to_owned();
    };
    let mut out = String::with_capacity(sdp.len() + 24);
    for line in sdp.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("t=") {
            out.push_str(&format!("a=group:BUNDLE {}\r\n", mid.trim()));
        }
    }
    out
}

/// The plain SDP the SIP side at `echo` answers with. It declares the SSRC it will send
/// (`a=ssrc`, RFC 5576): rtpengine adds no `mid` header extension to the plain side's packets,
/// and without one str0m maps an incoming SSRC only if the SDP announced it.
pub fn plain_answer(echo: SocketAddr, ssrc: Option<u32>) -> String {
    let ssrc = ssrc
        .map(|s| format!("a=ssrc:{s} cname:echo\r\n"))
        .unwrap_or_default();
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n{ssrc}",
        ip = echo.ip(),
        port = echo.port()
    )
}

/// The first SSRC an SDP declares.
pub fn first_ssrc(sdp: &str) -> Option<u32> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("a=ssrc:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trips_an_ng_command() {
        let cmd = Bencode::dict(vec![
            ("command", Bencode::str("ping")),
            ("flags", Bencode::strs(&["a", "bc"])),
            ("n", Bencode::Int(-3)),
        ]);
        let mut out = Vec::new();
        cmd.encode(&mut out);
        assert_eq!(out, b"d7:command4:ping5:flagsl1:a2:bce1:ni-3ee".to_vec());
        let (back, rest) = Bencode::decode(&out).expect("decodes");
        assert!(rest.is_empty());
        assert_eq!(back, cmd);
        assert_eq!(back.get_str("command").as_deref(), Some("ping"));
    }

    #[test]
    fn truncated_bencode_is_refused() {
        assert!(Bencode::decode(b"d7:command4:pi").is_none());
        assert!(Bencode::decode(b"99:short").is_none());
        assert!(Bencode::decode(b"x").is_none());
    }
}
