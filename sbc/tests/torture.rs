//! RFC 4475 and RFC 5118 torture messages (`tests/data/sip-torture/`) sent to a running SBC
//! over UDP and TCP: each reply (or silence) must match what we decided for the RFC's intent,
//! and afterwards the SBC must still answer and still complete a normal call.
//!
//! The list of cases comes from `index.tsv`; [`expected`] holds our answer for each, so a new
//! row without an expectation fails the test instead of going untested.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use c2c_sbc::demo_trunk::DemoTrunk;
use c2c_sbc::ingress::IngressConfig;
use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{Sbc, SbcConfig, SbcOptions};
use common::{call, next, trunk};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const LIMIT: Duration = Duration::from_secs(120);
/// How long to wait for any single reply or close before failing.
const WAIT: Duration = Duration::from_secs(10);
/// The TCP idle timeout the SBC runs with here, so clerr/baddn connections close soon.
const TEST_TCP_IDLE: Duration = Duration::from_secs(1);

/// What the SBC does with one torture message on one transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A reply with this status.
    Status(u16),
    /// No reply at all (responses to nothing, unanswerable input).
    Silence,
    /// No reply; the TCP connection is closed when it idles (incomplete message).
    SilenceThenClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// Our answer to each case, with the reason where it is a choice the RFC leaves open.
fn expected(name: &str, transport: Transport) -> Option<Expect> {
    use Expect::{Silence, SilenceThenClose, Status};
    let tcp = transport == Transport::Tcp;
    Some(match name {
        // Valid messages: accepted by the parser, then answered as an outbound-only UAS.
        "wsinv" => Status(481), // To has a tag: a re-INVITE for a dialog we do not have
        "intmeth" | "esc02" | "mismatch02" => Status(501),
        "esc01" | "baddate" | "ipv6-in-sdp" | "mult-ip-in-sdp" | "ipv4-mapped-ipv6" => {
            Status(403) // a new inbound call: we only place calls
        }
        "longreq" => Status(403),
        "escnull" | "dblreq" | "cparam01" | "cparam02" | "regescrt" | "regaut01" | "unksm2"
        | "mpart01" | "ipv6-good" | "port-ambiguous" | "port-unambiguous" => Status(405),
        "lwsdisp"
        | "semiuri"
        | "transports"
        | "zeromf"
        | "via-received-param-no-delim"
        | "ipv6-bug-abnf-3-colons"
        | "ipv6-correct-abnf-2-colons" => Status(200),
        "via-received-param-with-delim" | "mult-ip-in-header" => Status(481),
        "unkscm" | "novelsc" => Status(416),
        "bext01" => Status(420),
        "invut" => Status(415),
        "sdp01" => Status(406),
        // RFC 2543 INVITE: fine in a datagram; a stream cannot be framed without Content-Length.
        "inv2543" if tcp => Status(400),
        "inv2543" => Status(403),
        // Responses that match nothing of ours are dropped.
        "unreason" | "noreason" | "scalarlg" | "bigcode" | "bcast" => Silence,
        // A stream waits for the rest of the message and closes the idle connection.
        "clerr" | "baddn" if tcp => SilenceThenClose,
        "badinv01" | "clerr" | "ncl" | "scalar02" | "quotbal" | "ltgtruri" | "lwsruri"
        | "lwsstart" | "trws" | "escruri" | "regbadct" | "badaspec" | "baddn" | "mismatch01"
        | "badbranch" | "insuf" | "multi01" | "mcl01" | "ipv6-bad" => Status(400),
        "badvers" => Status(505),
        _ => return None,
    })
}

struct Case {
    name: String,
    bytes: Vec<u8>,
}

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip-torture");
    assert!(
        dir.join("index.tsv").is_file(),
        "the SIP torture corpus is missing: expected {}/index.tsv",
        dir.display()
    );
    dir
}

fn cases() -> Vec<Case> {
    let dir = corpus_dir();
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("read index.tsv");
    let mut cases = Vec::new();
    for line in index.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, file, ..] = cols[..] else {
            panic!("index.tsv row without name and file: {line:?}")
        };
        let bytes = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        cases.push(Case {
            name: name.to_owned(),
            bytes,
        });
    }
    assert!(
        cases.len() >= 61,
        "index.tsv lists {} cases, expected 61",
        cases.len()
    );
    cases
}

fn probe(n: usize) -> Vec<u8> {
    format!(
        "OPTIONS sip:c2c@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKp{n}\r\n\
         From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:c2c@127.0.0.1>\r\nCall-ID: probe-{n}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn is_probe_reply(reply: &[u8], n: usize) -> bool {
    String::from_utf8_lossy(reply).contains(&format!("Call-ID: probe-{n}\r\n"))
}

fn status_of(reply: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(reply);
    assert!(
        !text.to_ascii_lowercase().contains("\r\nserver:")
            && !text.to_ascii_lowercase().contains("\r\nuser-agent:"),
        "no Server/User-Agent in replies: {text}"
    );
    text.get(8..11)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a reply: {text}"))
}

/// Sends one case and a probe in datagrams; whatever arrives before the probe's answer is
/// the case's reply (the SBC handles datagrams in order).
async fn run_udp(sock: &UdpSocket, to: std::net::SocketAddr, case: &Case, n: usize) -> Expect {
    sock.send_to(&case.bytes, to).await.expect("send");
    sock.send_to(&probe(n), to).await.expect("send probe");
    let mut buf = vec![0u8; 70_000];
    let mut first = None;
    loop {
        let (len, _) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{}: no answer to the probe after it", case.name))
            .expect("recv");
        if is_probe_reply(&buf[..len], n) {
            return first.unwrap_or(Expect::Silence);
        }
        first.get_or_insert(Expect::Status(status_of(&buf[..len])));
    }
}

/// Sends one case on a fresh connection (and a probe behind it unless the case leaves the
/// stream mid-message); reads until the probe is answered or the SBC closes.
async fn run_tcp(to: std::net::SocketAddr, case: &Case, n: usize, want: Expect) -> Expect {
    let mut stream = TcpStream::connect(to).await.expect("connect");
    stream.write_all(&case.bytes).await.expect("write");
    if want != Expect::SilenceThenClose {
        stream.write_all(&probe(n)).await.expect("write probe");
    }
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let read = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{}: neither answered nor closed", case.name));
        match read {
            Ok(0) | Err(_) => break,
            Ok(len) => got.extend_from_slice(&buf[..len]),
        }
        if is_probe_reply(&got, n) {
            break;
        }
    }
    if got.is_empty() {
        return Expect::SilenceThenClose;
    }
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(got.len(), |p| p + 4);
    if is_probe_reply(&got[..end], n) {
        Expect::Silence
    } else {
        Expect::Status(status_of(&got))
    }
}

async fn torture_sbc(demo: &DemoTrunk) -> Sbc {
    Sbc::start_with(
        SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![trunk(demo.sip_addr.port())],
        },
        SbcOptions {
            tcp_idle: TEST_TCP_IDLE,
            ingress: IngressConfig::default(),
            ..SbcOptions::default()
        },
    )
    .await
    .expect("sbc starts")
}

/// The SBC still answers and still completes a normal call.
async fn assert_healthy(sbc: &Sbc) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(&probe(9999), sbc.local_addr())
        .await
        .expect("send");
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("SBC still answers")
        .expect("recv");
    assert_eq!(status_of(&buf[..len]), 200);
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
    let mut call = call(sbc, &rtp).await;
    while !matches!(next(&mut call, 10).await, LegEvent::Answered(_)) {}
}

async fn run_corpus(transport: Transport) {
    let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
        .await
        .expect("demo");
    let sbc = torture_sbc(&demo).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut mismatches = Vec::new();
    for (n, case) in cases().iter().enumerate() {
        let want = expected(&case.name, transport).unwrap_or_else(|| {
            panic!(
                "index.tsv case {:?} has no expectation in tests/torture.rs",
                case.name
            )
        });
        let got = match transport {
            Transport::Udp => run_udp(&sock, sbc.local_addr(), case, n).await,
            Transport::Tcp => run_tcp(sbc.local_addr(), case, n, want).await,
        };
        if got != want {
            mismatches.push(format!("{}: expected {want:?}, got {got:?}", case.name));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{transport:?} mismatches:\n{}",
        mismatches.join("\n")
    );
    assert_healthy(&sbc).await;
}

#[tokio::test]
async fn torture_corpus_over_udp() {
    tokio::time::timeout(LIMIT, run_corpus(Transport::Udp))
        .await
        .expect("finished in time");
}

#[tokio::test]
async fn torture_corpus_over_tcp() {
    tokio::time::timeout(LIMIT, run_corpus(Transport::Tcp))
        .await
        .expect("finished in time");
}

#[tokio::test]
async fn oversized_messages_get_513_on_both_transports() {
    tokio::time::timeout(LIMIT, async {
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo");
        let sbc = torture_sbc(&demo).await;
        let big = String::from_utf8(probe(1)).expect("utf8").replace(
            "Max-Forwards: 70\r\n",
            &format!("X-Pad: {}\r\n", "a".repeat(30_000)),
        );
        let case = Case {
            name: "oversized".into(),
            bytes: big.into_bytes(),
        };
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        assert_eq!(
            run_udp(&sock, sbc.local_addr(), &case, 2).await,
            Expect::Status(513)
        );
        let got = run_tcp(sbc.local_addr(), &case, 3, Expect::Status(513)).await;
        assert_eq!(got, Expect::Status(513));
        assert_healthy(&sbc).await;
    })
    .await
    .expect("finished in time");
}

/// Datagrams that once stopped the SIP task, or probe the same class (multi-byte characters
/// where the parser looks at fixed byte offsets), sent from a trusted trunk address.
const HOSTILE: &[&str] = &[
    // A multi-byte character in the version: `version[..4]` panicked on it.
    "OPTIONS sip:a@127.0.0.1 SIP\u{e9}",
    "OPTIONS sip:a@127.0.0.1 SIP\u{e9}\r\n\r\n",
    "OPTIONS sip:a@127.0.0.1 SI\u{20ac}/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n",
    "SI\u{e9} 200 OK\r\n\r\n",
    "S\u{1f4de} 200 OK\r\n\r\n",
    "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\r\n\r\n",
    "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.\u{e9}/UDP 127.0.0.1;branch=z9hG4bK1\r\n\
     From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
    "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\
     From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\u{e9}\r\n\r\n",
];

#[tokio::test]
async fn hostile_datagrams_cost_no_call() {
    tokio::time::timeout(LIMIT, async {
        let demo = DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo");
        let sbc = torture_sbc(&demo).await;
        let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        for (n, text) in HOSTILE.iter().enumerate() {
            let case = Case {
                name: format!("hostile {n}: {text:?}"),
                bytes: text.as_bytes().to_vec(),
            };
            // Nothing to answer in any of them: a silent drop, or a 400 where a request
            // could be read far enough to reply.
            let got = run_udp(&sock, sbc.local_addr(), &case, 1000 + n).await;
            assert!(
                matches!(got, Expect::Silence | Expect::Status(400 | 505)),
                "{}: {got:?}",
                case.name
            );
            let mut stream = TcpStream::connect(sbc.local_addr()).await.expect("connect");
            stream.write_all(&case.bytes).await.expect("write");
            drop(stream);
        }
        assert_healthy(&sbc).await;
    })
    .await
    .expect("finished in time");
}
