//! Floods beside real calls: while 20 simulated browsers (real ICE, DTLS-SRTP) talk through
//! the real binary to SIPp's echo, the node takes an INVITE flood from SIPp at an untrusted
//! address, an OPTIONS flood, a STUN flood at its media port, a flood of WebSocket connections
//! that never send a call, and a flood of token requests from a site the campaign does not
//! allow. From the first call's setup on, the trunk's own address (spoofable by anyone) floods
//! OPTIONS and REGISTER above its rate limit. The calls must not notice: every one is answered
//! and keeps its media, the node stays ready, contains no panic, and its memory does not grow
//! with the flood.
//!
//! The rates here are what two shared cores carry beside the calls; BENCHMARKS.md ("Hostile
//! input") has the figures of a run and the method.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use c2c_e2e::loadgen::spawn::{self, SippEcho};
use c2c_e2e::loadgen::{self, LoadConfig};
use c2c_e2e::{ports, scratch_dir};
use tokio::net::UdpSocket;

const CALLS: usize = 20;
const LIMIT: Duration = Duration::from_secs(180);
/// When the floods start (after the calls are up) and how long they last.
const FLOOD_AFTER: Duration = Duration::from_secs(3);
const FLOOD_FOR: Duration = Duration::from_secs(10);
/// INVITEs per second from SIPp, at an address that is no trunk's.
const INVITES_PER_S: u32 = 300;
/// OPTIONS and STUN datagrams per second, each.
const DATAGRAMS_PER_S: u64 = 2_000;
/// OPTIONS and REGISTER per second from the trunk's address, above its 500/s rate limit.
const TRUNK_FLOOD_PER_S: u64 = 1_500;
/// Idle WebSocket connections opened at once.
const SOCKETS: usize = 200;
/// Token requests per second from a foreign origin.
const TOKENS_PER_S: u64 = 200;

/// The address after `needle` in the gateway's log (`sip=…`, `addr=…`).
fn logged_addr(log: &str, line_has: &str, key: &str) -> Vec<SocketAddr> {
    log.lines()
        .filter(|l| l.contains(line_has))
        .filter_map(|l| {
            let plain: String = strip_ansi(l);
            let at = plain.find(key)? + key.len();
            plain[at..].split_whitespace().next()?.parse().ok()
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends `make(i)` to `to` from `from` at `per_s` for `lasting`; counts what went out.
async fn datagram_flood(
    from: &str,
    to: SocketAddr,
    (per_s, lasting): (u64, Duration),
    sent: Arc<AtomicU64>,
    make: impl Fn(u64) -> Vec<u8>,
) {
    let sock = UdpSocket::bind(from).await.expect("flood socket");
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < lasting {
        // Bursts every 10 ms keep the rate without a timer per datagram.
        let due = (start.elapsed().as_millis() as u64 + 10) * per_s / 1000;
        while i < due {
            if sock.send_to(&make(i), to).await.is_ok() {
                sent.fetch_add(1, Ordering::Relaxed);
            }
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An out-of-dialog `method` from `host`, a new Call-ID each.
fn request(method: &str, i: u64, host: &str, to: SocketAddr) -> Vec<u8> {
    format!(
        "{method} sip:c2c@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {host}:5099;branch=z9hG4bKf{i}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{host}>;tag=f{i}\r\nTo: <sip:c2c@{to}>\r\n\
         Call-ID: flood-{i}@{host}\r\nCSeq: 1 {method}\r\nContact: <sip:probe@{host}:5099>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A STUN Binding request for a username no call has.
fn stun(i: u64) -> Vec<u8> {
    let user = format!("f{:07x}:peer", i % 0x0fff_ffff);
    let mut attr = Vec::new();
    attr.extend_from_slice(&0x0006u16.to_be_bytes());
    attr.extend_from_slice(&(user.len() as u16).to_be_bytes());
    attr.extend_from_slice(user.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    let mut msg = Vec::new();
    msg.extend_from_slice(&0x0001u16.to_be_bytes());
    msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    msg.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    msg.extend_from_slice(&i.to_be_bytes());
    msg.extend_from_slice(&[0u8; 4]);
    msg.extend_from_slice(&attr);
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_beside_twenty_calls_cost_no_call() {
    tokio::time::timeout(LIMIT, async {
        let scratch = scratch_dir("floods");
        let dir = scratch.path();
        let sipp = SippEcho::start(dir, CALLS).expect("SIPp");
        let (gw, pid) = spawn::gateway(dir, sipp.port).await.expect("gateway");
        let log = gw.log_text();
        let sip = *logged_addr(&log, "SBC listening", "sip=")
            .first()
            .unwrap_or_else(|| panic!("no SIP address in the log:\n{log}"));
        let media = logged_addr(&log, "media loop started", "addr=");
        assert!(!media.is_empty(), "no media loop in the log:\n{log}");
        let rss_before = rss_kib(pid);

        let counts: [Arc<AtomicU64>; 5] = Default::default();
        let [options_sent, stun_sent, sockets_opened, tokens_refused, trunk_sent] = counts.clone();
        let url = gw.url.clone();
        // The trunk (SIPp, on 127.0.0.1) answers our calls from the address this floods from.
        let trunk_flood = tokio::spawn(datagram_flood(
            "127.0.0.1:0",
            sip,
            (TRUNK_FLOOD_PER_S, FLOOD_AFTER + FLOOD_FOR),
            trunk_sent,
            move |i| request(if i % 2 == 0 { "OPTIONS" } else { "REGISTER" }, i, "127.0.0.1", sip),
        ));
        let floods = tokio::spawn(async move {
            tokio::time::sleep(FLOOD_AFTER).await;
            let invite_port = ports::free_udp();
            let mut invites = tokio::process::Command::new("sipp")
                .args(["-sn", "uac", &sip.to_string()])
                .args(["-i", "127.0.0.2", "-p", &invite_port.to_string()])
                .args(["-r", &INVITES_PER_S.to_string()])
                .args(["-m", &(u64::from(INVITES_PER_S) * FLOOD_FOR.as_secs()).to_string()])
                .args(["-timeout", &format!("{}s", FLOOD_FOR.as_secs() + 5), "-nostdin"])
                .current_dir(std::env::temp_dir())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("SIPp flood");
            let rate = (DATAGRAMS_PER_S, FLOOD_FOR);
            let opts = datagram_flood("127.0.0.3:0", sip, rate, options_sent, move |i| {
                request("OPTIONS", i, "127.0.0.3", sip)
            });
            let stuns = datagram_flood("127.0.0.4:0", media[0], rate, stun_sent, stun);
            let ws_url = url.replace("http://", "ws://") + "/v1/calls/ws";
            let sockets = async move {
                let mut held = Vec::new();
                for _ in 0..SOCKETS {
                    if let Ok((ws, _)) = tokio_tungstenite::connect_async(ws_url.as_str()).await {
                        sockets_opened.fetch_add(1, Ordering::Relaxed);
                        held.push(ws);
                    }
                }
                tokio::time::sleep(FLOOD_FOR).await;
                drop(held);
            };
            let token_url = format!("{url}/v1/calls/token");
            let tokens = async move {
                let http = reqwest::Client::new();
                let start = Instant::now();
                let mut i = 0u64;
                while start.elapsed() < FLOOD_FOR {
                    let due = (start.elapsed().as_millis() as u64 + 10) * TOKENS_PER_S / 1000;
                    while i < due {
                        let r = http
                            .post(&token_url)
                            .header("Origin", "https://evil.example")
                            .json(&serde_json::json!({"campaign": spawn::CAMPAIGN, "page_url": "https://evil.example/", "referrer": ""}))
                            .send()
                            .await;
                        if r.is_ok_and(|r| r.status() == 403) {
                            tokens_refused.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::join!(opts, stuns, sockets, tokens);
            let _ = tokio::time::timeout(Duration::from_secs(10), invites.wait()).await;
        });

        let config = LoadConfig::spawned_gateway(&gw.url, CALLS, FLOOD_AFTER + FLOOD_FOR + Duration::from_secs(2), pid);
        let report = loadgen::run(&config).await.expect("load run");
        floods.await.expect("floods");
        trunk_flood.await.expect("trunk flood");
        let [options_sent, stun_sent, sockets_opened, tokens_refused, trunk_sent] =
            counts.map(|c| c.load(Ordering::Relaxed));
        let rss_after = rss_kib(pid);
        println!("{}", report.text());
        println!(
            "floods: {INVITES_PER_S} INVITE/s from 127.0.0.2 for {} s; {options_sent} OPTIONS, \
             {stun_sent} STUN; {sockets_opened} idle sockets; {tokens_refused} tokens refused; \
             {trunk_sent} OPTIONS/REGISTER from the trunk's address; RSS {rss_before} → {rss_after} KiB",
            FLOOD_FOR.as_secs()
        );
        let log = gw.log_text();
        assert_eq!(report.established, CALLS, "{}\n{log}", report.text());
        assert_eq!(report.failed, 0, "{}", report.text());
        assert!(
            report.packets_received * 100 >= report.packets_sent * 99,
            "at least 99 % of the media comes back: {}",
            report.text()
        );
        assert!(options_sent > DATAGRAMS_PER_S * 8 && stun_sent > DATAGRAMS_PER_S * 8);
        assert!(trunk_sent > TRUNK_FLOOD_PER_S * 10, "{trunk_sent} from the trunk");
        assert!(sockets_opened as usize >= SOCKETS / 2, "{sockets_opened} sockets");
        assert!(tokens_refused > TOKENS_PER_S * 5, "{tokens_refused} refusals");
        assert!(
            rss_after < rss_before + 64 * 1024,
            "memory grew with the flood: {rss_before} → {rss_after} KiB"
        );
        let http = reqwest::Client::new();
        let ready = http.get(format!("{}/readyz", gw.url)).send().await.expect("readyz");
        assert_eq!(ready.status(), 200, "still ready");
        let metrics = http
            .get(format!("{}/metrics", gw.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        assert!(
            !metrics.lines().any(|l| l.starts_with("c2c_panics_total") && !l.ends_with(" 0")),
            "{metrics}"
        );
        gw.stop().await;
    })
    .await
    .expect("the flood run exceeded its time limit");
}
