//! Every input the fuzzers of the call token ever saved (`fuzz/regressions/call_token/`), replayed
//! on stable Rust, so a crash once found stays fixed without libFuzzer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use c2c_token::{
    CallGrant, KeyRing, Route, RouteKey, SigningKey, TokenIssuer, TokenVerifier, UsedTokenIds,
};

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
