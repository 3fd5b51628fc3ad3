//! Replays every input the fuzz targets (`fuzz/`, FUZZING.md) ever crashed on, through the
//! same SBC functions, so a fixed bug that comes back fails `cargo test`, on stable, without
//! libFuzzer. Inputs live in `fuzz/regressions/<target>/`, one file each.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use c2c_sbc::ingress::{Ingress, IngressConfig, RateLimit, Screened, UntrustedPolicy};
use c2c_sbc::leg::{Output, TrunkLeg};
use c2c_sbc::recovered::{RecordedMessage, RecoveredDialog};
use c2c_sbc::sdp::{offered_direction, parse_answer, parse_offer};
use c2c_sbc::sip::{parse_message, Framed, Message, StreamFramer};

const TRUNK: &str = "192.0.2.1:5060";
const STRANGER: &str = "203.0.113.7:5060";

/// Every saved input of `target` (none yet is fine: the folder may not exist).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn ingress(untrusted: UntrustedPolicy) -> Ingress {
    let unlimited = RateLimit {
        per_second: 1e9,
        burst: 1e9,
    };
    let mut i = Ingress::new(IngressConfig {
        untrusted,
        trusted_rate: unlimited,
        untrusted_rate: unlimited,
        ..IngressConfig::default()
    });
    i.trust(addr(TRUNK).ip());
    i
}

fn without_length(msg: &Message) -> Message {
    let mut msg = msg.clone();
    match &mut msg {
        Message::Request(r) => r.headers.remove("Content-Length"),
        Message::Response(r) => r.headers.remove("Content-Length"),
    }
    msg
}

#[test]
fn the_mechanism_finds_the_sip_regressions() {
    assert!(
        !inputs("sip_datagram").is_empty(),
        "fuzz/regressions/sip_datagram/ holds at least the version-splitting datagram"
    );
}

/// As `fuzz/src/sip.rs::datagram`: parse, round trip, screen from the trunk and a stranger.
#[test]
fn sip_datagram_regressions_do_not_crash() {
    for (path, data) in inputs("sip_datagram") {
        let name = path.display();
        if let Ok(msg) = parse_message(&data) {
            let again = parse_message(&msg.to_bytes())
                .unwrap_or_else(|e| panic!("{name}: does not parse back: {e}"));
            assert_eq!(without_length(&again), without_length(&msg), "{name}");
        }
        let now = Instant::now();
        let mut answering = ingress(UntrustedPolicy::Forbidden);
        let _ = answering.screen(&data, addr(TRUNK), now);
        let stranger = answering.screen(&data, addr(STRANGER), now);
        assert!(
            matches!(stranger, Screened::Drop(_) | Screened::Reply(_)),
            "{name}"
        );
        let mut silent = ingress(UntrustedPolicy::Drop);
        assert!(
            matches!(silent.screen(&data, addr(STRANGER), now), Screened::Drop(_)),
            "{name}"
        );
    }
}

/// As `fuzz/src/sip.rs::stream`: byte 0 counts the chunk sizes that follow, then the stream.
#[test]
fn sip_stream_regressions_do_not_crash() {
    for (_, data) in inputs("sip_stream") {
        let Some((&n, rest)) = data.split_first() else {
            continue;
        };
        let (sizes, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));
        let mut sizes = sizes.iter().map(|s| usize::from(*s).max(1)).cycle();
        let mut ingress = ingress(UntrustedPolicy::Forbidden);
        let mut framer = StreamFramer::new(ingress.max_message());
        let mut rest = stream;
        'stream: while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
            framer.push(&rest[..n]);
            rest = &rest[n..];
            loop {
                match framer.next_message() {
                    Ok(Some(Framed::Message(m))) => {
                        let _ = ingress.screen(&m, addr(TRUNK), Instant::now());
                    }
                    Ok(Some(Framed::Ping)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        let _ = ingress.screen_frame_error(framer.pending(), e, addr(TRUNK));
                        break 'stream;
                    }
                }
            }
        }
    }
}

/// The SBC half of `fuzz/src/sdp.rs` (the browser half is in the gateway's replay test).
#[test]
fn sdp_regressions_do_not_crash() {
    for (_, data) in inputs("sdp") {
        let _ = parse_answer(&data);
        let _ = parse_offer(&data);
        let _ = offered_direction(&data).answer();
    }
}

/// As `fuzz/src/recovered.rs`: messages split on 0xff, byte 0 of each has direction and peer.
#[test]
fn recovered_dialog_regressions_do_not_crash() {
    const PEERS: [&str; 4] = [
        "192.0.2.7:5060",
        "[2001:db8::7]:5061",
        " 192.0.2.8:5070 ",
        "nonsense",
    ];
    for (path, data) in inputs("recovered_dialog") {
        let texts: Vec<(bool, &str, String)> = data
            .split(|b| *b == 0xff)
            .filter_map(|m| {
                let (&flags, text) = m.split_first()?;
                let peer = PEERS[usize::from(flags >> 1) % PEERS.len()];
                Some((
                    flags & 1 == 1,
                    peer,
                    String::from_utf8_lossy(text).into_owned(),
                ))
            })
            .collect();
        let messages: Vec<RecordedMessage<'_>> = texts
            .iter()
            .map(|(sent, peer, text)| RecordedMessage {
                sent: *sent,
                peer,
                text,
            })
            .collect();
        let Ok(d) = RecoveredDialog::rebuild(&messages) else {
            continue;
        };
        let _ = d.next_hop();
        let now = Instant::now();
        let mut leg = TrunkLeg::recovered(&d, addr("198.51.100.1:5060"), now);
        for at in [0, 500, 4_000, 32_000, 64_000] {
            leg.handle_timeout(now + Duration::from_millis(at));
            while let Some(out) = leg.poll_output() {
                match out {
                    Output::Transmit { bytes, .. } => {
                        assert!(parse_message(&bytes).is_ok(), "{}", path.display());
                    }
                    Output::Event(_) => {}
                    Output::Timeout(_) => break,
                }
            }
        }
    }
}
