//! Forged and altered call tokens: every one must be refused.
//!
//! Tokens here are built by hand — header and claims as raw JSON, signed with either our real
//! key (to reach the claim checks) or an attacker's — so each case changes exactly one thing.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use c2c_token::{
    CallGrant, KeyRing, Route, SigningKey, TokenError, TokenIssuer, TokenVerifier, UsedTokenIds,
};
use serde_json::{json, Value};

const NOW: i64 = 1_800_000_000;
const ISS: &str = "c2c-test";
const ORIGIN: &str = "https://shop.example";

struct Fixture {
    keys: Arc<KeyRing>,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
}

fn fixture() -> Fixture {
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let issuer = TokenIssuer::new(keys.clone(), ISS, 60);
    let verifier = TokenVerifier::new(keys.clone(), ISS, Arc::new(UsedTokenIds::new()));
    Fixture {
        keys,
        issuer,
        verifier,
    }
}

fn grant() -> CallGrant {
    CallGrant {
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
    }
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// Splits a real token into its header and claims as JSON values.
fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().expect("h")).expect("b64");
    let c = URL_SAFE_NO_PAD.decode(it.next().expect("c")).expect("b64");
    (
        serde_json::from_slice(&h).expect("json"),
        serde_json::from_slice(&c).expect("json"),
    )
}

/// Signs raw header and claims text with an ES256 PKCS#8 key.
fn sign_raw(header: &str, claims: &str, pkcs8: &[u8]) -> String {
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).expect("key");
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let sig = pair
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("sign");
    format!("{input}.{}", b64(sig.as_ref()))
}

/// A fixture whose ring is loaded from a key file, so the test holds the private key too.
fn insider_fixture() -> (Fixture, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!(
        "c2c-insider-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let path = dir.join("keys.json");
    let keys = Arc::new(KeyRing::load_or_create(&path, NOW).expect("ring"));
    let file: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let _ = std::fs::remove_dir_all(&dir);
    let pkcs8 = base64::engine::general_purpose::STANDARD
        .decode(file["signing"][0]["pkcs8"].as_str().expect("pkcs8"))
        .expect("b64");
    let issuer = TokenIssuer::new(keys.clone(), ISS, 60);
    let verifier = TokenVerifier::new(keys.clone(), ISS, Arc::new(UsedTokenIds::new()));
    (
        Fixture {
            keys,
            issuer,
            verifier,
        },
        pkcs8,
    )
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("rand");
    u64::from_le_bytes(b)
}

#[tokio::test]
async fn a_genuine_token_verifies_once_and_opens_its_route() {
    let f = fixture();
    let (token, claims) = f.issuer.mint(&grant(), NOW).expect("mint");
    let ok = f
        .verifier
        .verify(&token, Some(ORIGIN), NOW + 1)
        .await
        .expect("verify");
    assert_eq!(ok.claims(), &claims);
    assert_eq!(ok.route(), &grant().route);
    assert_eq!(
        f.verifier.verify(&token, Some(ORIGIN), NOW + 2).await,
        Err(TokenError::Replayed)
    );
}

#[test]
fn the_issuer_caps_the_lifetime_at_sixty_seconds() {
    let keys = Arc::new(KeyRing::generate().expect("keys"));
    let (_, claims) = TokenIssuer::new(keys, ISS, 3600)
        .mint(&grant(), NOW)
        .expect("mint");
    assert_eq!(claims.exp - claims.iat, 60);
}

/// Makes a forged token from the fixture, a genuine token and the real private key.
type Forge = fn(&Fixture, &str, &[u8]) -> String;

/// A boxed forging closure.
type ForgeFn = Box<dyn Fn(&Fixture, &str, &[u8]) -> String>;

/// One case: a name, how to forge, and the origin the WebSocket presents.
type Case = (&'static str, ForgeFn, &'static str);

fn resign_claims(edit: fn(&mut Value)) -> impl Fn(&Fixture, &str, &[u8]) -> String {
    move |_f, token, key| {
        let (h, mut c) = parts(token);
        edit(&mut c);
        sign_raw(&h.to_string(), &c.to_string(), key)
    }
}

fn resign_header(edit: fn(&mut Value)) -> impl Fn(&Fixture, &str, &[u8]) -> String {
    move |_f, token, key| {
        let (mut h, c) = parts(token);
        edit(&mut h);
        sign_raw(&h.to_string(), &c.to_string(), key)
    }
}

/// Alters the claims but keeps the genuine signature, as a visitor editing their token would.
fn altered_claims(edit: fn(&mut Value)) -> impl Fn(&Fixture, &str, &[u8]) -> String {
    move |_f, token, _key| {
        let (h, mut c) = parts(token);
        edit(&mut c);
        let sig = token.rsplit('.').next().unwrap_or("");
        format!(
            "{}.{}.{sig}",
            b64(h.to_string().as_bytes()),
            b64(c.to_string().as_bytes())
        )
    }
}

fn unsigned_with_alg(alg: &'static str) -> impl Fn(&Fixture, &str, &[u8]) -> String {
    move |_f, token, _key| {
        let (mut h, c) = parts(token);
        h["alg"] = json!(alg);
        format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(c.to_string().as_bytes())
        )
    }
}

fn hs256_with_public_key(f: &Fixture, token: &str, _key: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let (mut h, c) = parts(token);
    h["alg"] = json!("HS256");
    let input = format!(
        "{}.{}",
        b64(h.to_string().as_bytes()),
        b64(c.to_string().as_bytes())
    );
    let jwk = serde_json::to_vec(&f.keys.current.jwk()).expect("jwk");
    let k = hmac::Key::new(hmac::HMAC_SHA256, &jwk);
    format!("{input}.{}", b64(hmac::sign(&k, input.as_bytes()).as_ref()))
}

fn attacker_key_same_kid(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    let (h, c) = parts(token);
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("gen");
    sign_raw(&h.to_string(), &c.to_string(), doc.as_ref())
}

fn embedded_attacker_jwk(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    let (mut h, c) = parts(token);
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("gen");
    let attacker = SigningKey::from_pkcs8("evil".into(), doc.as_ref()).expect("key");
    h["jwk"] = serde_json::to_value(attacker.jwk()).expect("jwk");
    h["kid"] = json!("evil");
    sign_raw(&h.to_string(), &c.to_string(), doc.as_ref())
}

fn payload_swapped_unsigned(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    let mut it = token.split('.');
    let (h, c, s) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).expect("b64")).expect("json");
    claims["num"] = json!("+15559999999");
    format!("{h}.{}.{s}", b64(claims.to_string().as_bytes()))
}

fn tamper_rte_bit(_f: &Fixture, token: &str, key: &[u8]) -> String {
    let (h, mut c) = parts(token);
    let mut raw = URL_SAFE_NO_PAD
        .decode(c["rte"].as_str().expect("rte"))
        .expect("b64");
    let n = raw.len() - 1;
    raw[n] ^= 0x01;
    c["rte"] = json!(b64(&raw));
    sign_raw(&h.to_string(), &c.to_string(), key)
}

fn rte_from_other_token(f: &Fixture, token: &str, key: &[u8]) -> String {
    let (other, _) = f.issuer.mint(&grant(), NOW).expect("mint");
    let (_, oc) = parts(&other);
    let (h, mut c) = parts(token);
    c["rte"] = oc["rte"].clone();
    sign_raw(&h.to_string(), &c.to_string(), key)
}

fn duplicated_claim(_f: &Fixture, token: &str, key: &[u8]) -> String {
    let (h, c) = parts(token);
    let text = c.to_string();
    let dup = text.replacen('{', "{\"num\":\"+15559999999\",", 1);
    sign_raw(&h.to_string(), &dup, key)
}

fn duplicated_header_alg(_f: &Fixture, token: &str, key: &[u8]) -> String {
    let (h, c) = parts(token);
    let dup = h.to_string().replacen('{', "{\"alg\":\"none\",", 1);
    sign_raw(&dup, &c.to_string(), key)
}

fn oversized(_f: &Fixture, token: &str, key: &[u8]) -> String {
    let (h, mut c) = parts(token);
    c["sub"] = json!("x".repeat(8000));
    sign_raw(&h.to_string(), &c.to_string(), key)
}

fn padded_base64(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    let mut it = token.split('.');
    let (h, c, s) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    format!("{h}==.{c}.{s}")
}

fn bad_base64_chars(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    token.replacen('.', ".*", 1)
}

fn four_parts(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    format!("{token}.AAAA")
}

fn two_parts(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    token
        .rsplit_once('.')
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

fn empty(_f: &Fixture, _token: &str, _key: &[u8]) -> String {
    String::new()
}

fn truncated_signature(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    token[..token.len() - 4].to_string()
}

fn json_web_encryption_shape(_f: &Fixture, token: &str, _key: &[u8]) -> String {
    format!("{token}.AAAA.BBBB")
}

fn claims_not_an_object(_f: &Fixture, token: &str, key: &[u8]) -> String {
    let (h, _) = parts(token);
    sign_raw(&h.to_string(), "[1,2,3]", key)
}

fn cases() -> Vec<Case> {
    fn b(f: impl Fn(&Fixture, &str, &[u8]) -> String + 'static) -> ForgeFn {
        Box::new(f)
    }
    let plain: fn(Forge) -> ForgeFn = |f| Box::new(f);
    vec![
        ("alg none", b(unsigned_with_alg("none")), ORIGIN),
        ("alg None", b(unsigned_with_alg("None")), ORIGIN),
        ("alg NONE", b(unsigned_with_alg("NONE")), ORIGIN),
        ("alg nOnE", b(unsigned_with_alg("nOnE")), ORIGIN),
        ("alg empty", b(unsigned_with_alg("")), ORIGIN),
        (
            "HS256 keyed with the public key",
            plain(hs256_with_public_key),
            ORIGIN,
        ),
        (
            "alg ES384 in header",
            b(resign_header(|h| h["alg"] = json!("ES384"))),
            ORIGIN,
        ),
        (
            "alg RS256 in header",
            b(resign_header(|h| h["alg"] = json!("RS256"))),
            ORIGIN,
        ),
        (
            "alg EdDSA in header",
            b(resign_header(|h| h["alg"] = json!("EdDSA"))),
            ORIGIN,
        ),
        (
            "unknown kid",
            b(resign_header(|h| h["kid"] = json!("nope"))),
            ORIGIN,
        ),
        (
            "missing kid",
            b(resign_header(|h| {
                h.as_object_mut().map(|o| o.remove("kid"));
            })),
            ORIGIN,
        ),
        (
            "kid path traversal",
            b(resign_header(|h| h["kid"] = json!("../../keys.json"))),
            ORIGIN,
        ),
        ("embedded jwk", plain(embedded_attacker_jwk), ORIGIN),
        (
            "jku",
            b(resign_header(|h| {
                h["jku"] = json!("https://evil.example/jwks.json")
            })),
            ORIGIN,
        ),
        (
            "x5u",
            b(resign_header(|h| {
                h["x5u"] = json!("https://evil.example/cert.pem")
            })),
            ORIGIN,
        ),
        (
            "x5c",
            b(resign_header(|h| h["x5c"] = json!(["MIIB"]))),
            ORIGIN,
        ),
        (
            "duplicated alg in header",
            plain(duplicated_header_alg),
            ORIGIN,
        ),
        (
            "attacker key with our kid",
            plain(attacker_key_same_kid),
            ORIGIN,
        ),
        (
            "payload altered, old signature",
            plain(payload_swapped_unsigned),
            ORIGIN,
        ),
        ("truncated signature", plain(truncated_signature), ORIGIN),
        (
            "expired",
            b(resign_claims(|c| {
                c["iat"] = json!(NOW - 120);
                c["nbf"] = json!(NOW - 120);
                c["exp"] = json!(NOW - 60);
            })),
            ORIGIN,
        ),
        (
            "nbf in the future",
            b(resign_claims(|c| {
                c["nbf"] = json!(NOW + 30);
                c["exp"] = json!(NOW + 60);
            })),
            ORIGIN,
        ),
        (
            "iat in the future",
            b(resign_claims(|c| {
                c["iat"] = json!(NOW + 30);
                c["exp"] = json!(NOW + 60);
            })),
            ORIGIN,
        ),
        (
            "lifetime too long",
            b(resign_claims(|c| c["exp"] = json!(NOW + 3600))),
            ORIGIN,
        ),
        (
            "exp before iat",
            b(resign_claims(|c| {
                c["iat"] = json!(NOW);
                c["exp"] = json!(NOW - 1);
            })),
            ORIGIN,
        ),
        (
            "exp as string",
            b(resign_claims(|c| c["exp"] = json!(format!("{}", NOW + 60)))),
            ORIGIN,
        ),
        (
            "missing exp",
            b(resign_claims(|c| {
                c.as_object_mut().map(|o| o.remove("exp"));
            })),
            ORIGIN,
        ),
        (
            "missing jti",
            b(resign_claims(|c| {
                c.as_object_mut().map(|o| o.remove("jti"));
            })),
            ORIGIN,
        ),
        (
            "missing rte",
            b(resign_claims(|c| {
                c.as_object_mut().map(|o| o.remove("rte"));
            })),
            ORIGIN,
        ),
        (
            "missing aud",
            b(resign_claims(|c| {
                c.as_object_mut().map(|o| o.remove("aud"));
            })),
            ORIGIN,
        ),
        (
            "unknown extra claim",
            b(resign_claims(|c| c["dst"] = json!("+19005550000"))),
            ORIGIN,
        ),
        ("duplicated num claim", plain(duplicated_claim), ORIGIN),
        (
            "wrong aud",
            b(resign_claims(|c| c["aud"] = json!("someone-else"))),
            ORIGIN,
        ),
        (
            "aud as array",
            b(resign_claims(|c| c["aud"] = json!(["c2c-sbc"]))),
            ORIGIN,
        ),
        (
            "wrong iss",
            b(resign_claims(|c| c["iss"] = json!("evil"))),
            ORIGIN,
        ),
        ("tampered rte bit", plain(tamper_rte_bit), ORIGIN),
        (
            "rte from another token",
            plain(rte_from_other_token),
            ORIGIN,
        ),
        (
            "rte replaced by plaintext",
            b(resign_claims(|c| {
                c["rte"] = json!("{\"trunk\":\"main\",\"destinations\":[\"+19005550000\"]}")
            })),
            ORIGIN,
        ),
        (
            "altered ori",
            b(altered_claims(|c| c["ori"] = json!("https://evil.example"))),
            "https://evil.example",
        ),
        (
            "altered cmp",
            b(altered_claims(|c| c["cmp"] = json!("cmp_other"))),
            ORIGIN,
        ),
        (
            "altered num",
            b(altered_claims(|c| c["num"] = json!("+15559999999"))),
            ORIGIN,
        ),
        (
            "altered rte",
            b(altered_claims(|c| c["rte"] = json!("AAAA"))),
            ORIGIN,
        ),
        (
            "altered exp",
            b(altered_claims(|c| c["exp"] = json!(NOW + 59))),
            ORIGIN,
        ),
        (
            "other origin presents it",
            b(|_f: &Fixture, t: &str, _k: &[u8]| t.to_string()),
            "https://evil.example",
        ),
        (
            "look-alike origin",
            b(|_f: &Fixture, t: &str, _k: &[u8]| t.to_string()),
            "https://shop.example.evil.example",
        ),
        (
            "origin with trailing slash",
            b(|_f: &Fixture, t: &str, _k: &[u8]| t.to_string()),
            "https://shop.example/",
        ),
        (
            "http instead of https",
            b(|_f: &Fixture, t: &str, _k: &[u8]| t.to_string()),
            "http://shop.example",
        ),
        (
            "null origin",
            b(|_f: &Fixture, t: &str, _k: &[u8]| t.to_string()),
            "null",
        ),
        ("oversized", plain(oversized), ORIGIN),
        ("padded base64", plain(padded_base64), ORIGIN),
        ("bad base64 characters", plain(bad_base64_chars), ORIGIN),
        ("four parts", plain(four_parts), ORIGIN),
        ("JWE shape", plain(json_web_encryption_shape), ORIGIN),
        ("two parts", plain(two_parts), ORIGIN),
        ("empty", plain(empty), ORIGIN),
        ("claims not an object", plain(claims_not_an_object), ORIGIN),
    ]
}

#[test]
fn every_forged_or_altered_token_is_refused() {
    let all = cases();
    assert!(all.len() >= 40, "the suite promises at least 40 cases");
    let mut accepted = Vec::new();
    for (name, forge, origin) in &all {
        let (f, key) = insider_fixture();
        let (token, _) = f.issuer.mint(&grant(), NOW).expect("mint");
        let forged = forge(&f, &token, &key);
        match f.verifier.check(&forged, Some(origin), NOW + 1) {
            Ok(_) => accepted.push(*name),
            Err(e) => eprintln!("{name}: refused ({e})"),
        }
    }
    assert!(accepted.is_empty(), "accepted forged tokens: {accepted:?}");
}

#[test]
fn a_missing_websocket_origin_is_refused() {
    let f = fixture();
    let (token, _) = f.issuer.mint(&grant(), NOW).expect("mint");
    assert_eq!(f.verifier.check(&token, None, NOW), Err(TokenError::Origin));
}

#[tokio::test]
async fn a_refused_token_does_not_spend_its_id() {
    let f = fixture();
    let (token, _) = f.issuer.mint(&grant(), NOW).expect("mint");
    assert_eq!(
        f.verifier
            .verify(&token, Some("https://evil.example"), NOW)
            .await,
        Err(TokenError::Origin)
    );
    assert!(f.verifier.verify(&token, Some(ORIGIN), NOW).await.is_ok());
}

#[test]
fn the_resigning_harness_itself_produces_accepted_tokens() {
    // Guards the table above: a re-signed but unaltered token must pass, or every "refused"
    // result would prove nothing.
    let (f, key) = insider_fixture();
    let (token, _) = f.issuer.mint(&grant(), NOW).expect("mint");
    let (h, c) = parts(&token);
    let again = sign_raw(&h.to_string(), &c.to_string(), &key);
    assert!(f.verifier.check(&again, Some(ORIGIN), NOW + 1).is_ok());
}

#[test]
fn skew_is_tolerated_but_no_more() {
    let f = fixture();
    let (token, claims) = f.issuer.mint(&grant(), NOW).expect("mint");
    assert_eq!(
        f.verifier.check(&token, Some(ORIGIN), claims.exp + 6),
        Err(TokenError::Expired)
    );
    assert!(f
        .verifier
        .check(&token, Some(ORIGIN), claims.exp + 5)
        .is_ok());
}
