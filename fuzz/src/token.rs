//! `call_token`: `TokenVerifier::check`, the gate before any SIP leaves, fed arbitrary
//! tokens and origins, edits of a genuine token, and (as an insider holding the key would)
//! arbitrary headers and claims signed with the real key, so the checks after the signature
//! are reached too.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use c2c_token::{
    CallGrant, KeyRing, Route, RouteKey, SigningKey, TokenIssuer, TokenVerifier, UsedTokenIds,
};

/// Unix time the fixture's token was minted at, and every check runs at.
pub const NOW: i64 = 1_800_000_000;
/// The issuer both sides are configured with.
pub const ISS: &str = "c2c-fuzz";
/// The origin the genuine token was issued to.
pub const ORIGIN: &str = "https://shop.example";

struct Fixture {
    verifier: TokenVerifier,
    pair: EcdsaKeyPair,
    kid: String,
    genuine: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec())
            .ok()
            .unwrap_or_default();
        let kid = "fuzzkid".to_owned();
        let current = SigningKey::from_pkcs8(kid.clone(), &pkcs8)
            .ok()
            .unwrap_or_else(|| panic!("key"));
        let (route_key, _) = RouteKey::generate()
            .ok()
            .unwrap_or_else(|| panic!("route key"));
        let ring = Arc::new(KeyRing {
            accepted: BTreeMap::from([(kid.clone(), current.clone())]),
            current,
            route_key,
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
        let (genuine, _) = TokenIssuer::new(ring.clone(), ISS, 60)
            .mint(&grant, NOW)
            .ok()
            .unwrap_or_else(|| panic!("mint"));
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .ok()
            .unwrap_or_else(|| panic!("pair"));
        Fixture {
            verifier: TokenVerifier::new(ring, ISS, Arc::new(UsedTokenIds::new())),
            pair,
            kid,
            genuine,
        }
    })
}

/// The genuine token (for seeds and tests).
pub fn genuine() -> &'static str {
    &fixture().genuine
}

/// Byte 0 is the mode:
/// - 0: the rest is `token` LF `origin` (no LF: no Origin header);
/// - 1: the rest is edits of the genuine token, 3 bytes each (position, operation, byte);
/// - 2: the rest is raw claims JSON, signed with the real key under a proper header;
/// - 3: the rest is raw header JSON LF raw claims JSON, signed with the real key.
pub fn call_token(data: &[u8]) {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let (token, origin) = match text.split_once('\n') {
                Some((t, o)) => (t, Some(o)),
                None => (&text[..], None),
            };
            check(token, origin);
        }
        1 => {
            let mut token = f.genuine.as_bytes().to_vec();
            for e in rest.chunks_exact(3) {
                edit(&mut token, e[0], e[1], e[2]);
            }
            let token = String::from_utf8_lossy(&token);
            let accepted = check(&token, Some(ORIGIN));
            if accepted {
                // Only edits that leave the signed bytes as they were can keep it valid.
                assert_eq!(token.split('.').nth(1), f.genuine.split('.').nth(1));
            }
        }
        2 => {
            let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, f.kid);
            check(&sign(header.as_bytes(), rest), Some(ORIGIN));
        }
        _ => {
            let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b"{}"[..]),
            };
            check(&sign(header, claims), Some(ORIGIN));
        }
    }
}

/// Runs the check; a pass is then spent in an in-memory ledger as `verify` would, and
/// forgotten again once expired (a fresh ledger each time: the input alone decides).
fn check(token: &str, origin: Option<&str>) -> bool {
    let f = fixture();
    match f.verifier.check(token, origin, NOW + 1) {
        Ok(checked) => {
            let c = checked.claims();
            let ledger = UsedTokenIds::new();
            assert!(
                ledger.claim(&c.jti, c.exp, NOW + 1),
                "a fresh ledger takes the id"
            );
            assert!(!ledger.claim(&c.jti, c.exp, NOW + 2), "an id is taken once");
            let _ = ledger.claim("later", c.exp, NOW + 3600);
            true
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
            false
        }
    }
}

/// One edit: 0 replaces, 1 inserts, 2 removes, 3 truncates.
fn edit(token: &mut Vec<u8>, at: u8, op: u8, byte: u8) {
    if token.is_empty() {
        return;
    }
    let i = usize::from(at) * token.len() / 256;
    match op % 4 {
        0 => token[i] = byte,
        1 => token.insert(i, byte),
        2 => {
            token.remove(i);
        }
        _ => token.truncate(i),
    }
}

/// A compact JWS of raw header and claims bytes, ES256-signed with the fixture's key.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = fixture()
        .pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .map(|s| s.as_ref().to_vec())
        .unwrap_or_default();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
