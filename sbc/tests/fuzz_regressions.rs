//! Replays every input the fuzz targets (`fuzz/`, FUZZING.md) ever crashed on, through the
//! same SBC functions, so a fixed bug that comes back fails `cargo test`, on stable, without
//! libFuzzer. Inputs live in `fuzz/regressions/<target>/`, one file each.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use c2c_guard::RateLimit;
use c2c_sbc::ingress::{Ingress, IngressConfig, Screened, UntrustedPolicy};
use c2c_sbc::interrupted::{InterruptedDialog, RecordedMessage};
use c2c_sbc::leg::{Output, TrunkLeg};
use c2c_sbc::sdp::{offered_direction, parse_answer, parse_offer};
use c2c_sbc::sip::{parse_message, Framed, Message, StreamFramer};
use c2c_token::{
    CallGrant, KeyRing, Route, RouteKey, SigningKey, TokenIssuer, TokenVerifier, UsedTokenIds,
};

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
        let _ = answering.screen(&data, addr(TRUNK), now, |_| false);
        let stranger = answering.screen(&data, addr(STRANGER), now, |_| false);
        assert!(
            matches!(stranger, Screened::Drop(_) | Screened::Reply(_)),
            "{name}"
        );
        let mut silent = ingress(UntrustedPolicy::Drop);
        assert!(
            matches!(
                silent.screen(&data, addr(STRANGER), now, |_| false),
                Screened::Drop(_)
            ),
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
                        let _ = ingress.screen(&m, addr(TRUNK), Instant::now(), |_| false);
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

/// As `fuzz/src/interrupted.rs`: messages split on 0xff, byte 0 of each has direction and peer.
#[test]
fn interrupted_dialog_regressions_do_not_crash() {
    const PEERS: [&str; 4] = [
        "192.0.2.7:5060",
        "[2001:db8::7]:5061",
        " 192.0.2.8:5070 ",
        "nonsense",
    ];
    for (path, data) in inputs("interrupted_dialog") {
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
        let Ok(d) = InterruptedDialog::rebuild(&messages) else {
            continue;
        };
        let _ = d.next_hop();
        let now = Instant::now();
        let mut leg = TrunkLeg::interrupted(&d, addr("198.51.100.1:5060"), now);
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

/// As `fuzz/src/token.rs`: byte 0 is the mode (0 token LF origin, 1 edits of a genuine token,
/// 2 claims signed with the real key, 3 header LF claims signed with it).
#[test]
fn call_token_regressions_do_not_crash() {
    const NOW: i64 = 1_800_000_000;
    const ORIGIN: &str = "https://shop.example";
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("pkcs8");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("pair");
    let current = SigningKey::from_pkcs8("fuzzkid".into(), pkcs8.as_ref()).expect("key");
    let ring = Arc::new(KeyRing {
        accepted: BTreeMap::from([("fuzzkid".to_owned(), current.clone())]),
        current,
        route_key: RouteKey::generate().expect("route key").0,
    });
    let grant = CallGrant {
        session_id: "ws_1".into(),
        org: "org_1".into(),
        campaign: "cmp_1".into(),
        number: "+15550000001".parse().expect("number"),
        origin: ORIGIN.into(),
        route: Route {
            trunk: "main".into(),
            destinations: vec!["+15551230000".into()],
            privacy: false,
            agents: false,
        },
    };
    let (genuine, _) = TokenIssuer::new(ring.clone(), "c2c-fuzz", 60)
        .mint(&grant, NOW)
        .expect("mint");
    let verifier = TokenVerifier::new(ring, "c2c-fuzz", Arc::new(UsedTokenIds::new()));
    let sign = |header: &[u8], claims: &[u8]| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    };
    for (_, data) in inputs("call_token") {
        let Some((&mode, rest)) = data.split_first() else {
            continue;
        };
        let (token, origin) = match mode % 4 {
            0 => {
                let text = String::from_utf8_lossy(rest).into_owned();
                match text.split_once('\n') {
                    Some((t, o)) => (t.to_owned(), Some(o.to_owned())),
                    None => (text, None),
                }
            }
            1 => {
                let mut token = genuine.as_bytes().to_vec();
                for e in rest.chunks_exact(3) {
                    if token.is_empty() {
                        break;
                    }
                    let i = usize::from(e[0]) * token.len() / 256;
                    match e[1] % 4 {
                        0 => token[i] = e[2],
                        1 => token.insert(i, e[2]),
                        2 => {
                            token.remove(i);
                        }
                        _ => token.truncate(i),
                    }
                }
                (
                    String::from_utf8_lossy(&token).into_owned(),
                    Some(ORIGIN.to_owned()),
                )
            }
            2 => {
                let header = br#"{"alg":"ES256","typ":"JWT","kid":"fuzzkid"}"#;
                (sign(header, rest), Some(ORIGIN.to_owned()))
            }
            _ => {
                let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
                    Some(at) => (&rest[..at], &rest[at + 1..]),
                    None => (rest, &b"{}"[..]),
                };
                (sign(header, claims), Some(ORIGIN.to_owned()))
            }
        };
        if let Ok(checked) = verifier.check(&token, origin.as_deref(), NOW + 1) {
            let c = checked.claims();
            let ledger = UsedTokenIds::new();
            assert!(ledger.claim(&c.jti, c.exp, NOW + 1));
            let _ = ledger.claim("later", c.exp, NOW + 3600);
        }
    }
}
