//! The trunk "test" button: one SIP OPTIONS request over UDP (RFC 3261 §11) and the status
//! line of the first response, or why there was none.

use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use c2c_sbc::networks::Networks;

/// How long we wait for the trunk's answer.
pub(crate) const PING_WAIT: Duration = Duration::from_secs(3);

/// What a ping found out, as one sentence for the page.
pub(crate) async fn ping(host: &str, port: u16, networks: &Networks) -> Result<String, String> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .peekable();
    if addrs.peek().is_none() {
        return Err(format!("{host} has no address"));
    }
    let target = addrs.find(|a| networks.allows(a.ip())).ok_or_else(|| {
        format!("{host} is outside the networks trunks may use here ([sip] trunk_networks)")
    })?;
    let bind = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("no local socket: {e}"))?;
    sock.connect(target)
        .await
        .map_err(|e| format!("cannot reach {target}: {e}"))?;
    let local = sock.local_addr().map_err(|e| e.to_string())?;
    let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
    let request = format!(
        "OPTIONS sip:{host}:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:c2c@{local}>;tag={tag:08x}\r\n\
         To: <sip:{host}:{port}>\r\n\
         Call-ID: {call:016x}@c2c\r\n\
         CSeq: 1 OPTIONS\r\n\
         Accept: application/sdp\r\n\
         User-Agent: c2c\r\n\
         Content-Length: 0\r\n\r\n",
        tag = rand::random::<u32>(),
        call = rand::random::<u64>(),
    );
    let sent = Instant::now();
    sock.send(request.as_bytes())
        .await
        .map_err(|e| format!("sending to {target} failed: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::time::timeout(
            PING_WAIT.saturating_sub(sent.elapsed()),
            sock.recv(&mut buf),
        )
        .await
        .map_err(|_| format!("no answer from {target} within {} s", PING_WAIT.as_secs()))?
        .map_err(|e| format!("{target}: {e}"))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let line = text.lines().next().unwrap_or_default();
        // Only a response to our transaction counts.
        if line.starts_with("SIP/2.0 ") && text.contains(&branch) {
            let status: String = line["SIP/2.0 ".len()..].chars().take(100).collect();
            return Ok(format!(
                "{target} answered {status} in {} ms",
                sent.elapsed().as_millis()
            ));
        }
    }
}
