//! SIP digest authentication as a client (RFC 3261 §22.4, RFC 8760): reading the trunk's
//! WWW-Authenticate / Proxy-Authenticate challenge and computing our credentials, with MD5 or
//! SHA-256 and `qop=auth`. SHA-256 is preferred when a trunk offers both (RFC 8760 §2.4).

use md5::{Digest as _, Md5};
use sha2::Sha256;
use thiserror::Error;

/// The hash of a digest challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    /// MD5 (RFC 3261 §22.4; the default when no algorithm is named).
    Md5,
    /// SHA-256 (RFC 8760 §2.2).
    Sha256,
}

impl Algorithm {
    /// The token written in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// The algorithm an `algorithm=` value names (MD5 when there is none, RFC 3261 §22.4);
    /// the value back when we do not implement it (`-sess` variants, AKA).
    pub(crate) fn named(value: Option<&str>) -> Result<Self, String> {
        match value {
            None => Ok(Self::Md5),
            Some(a) if a.eq_ignore_ascii_case("MD5") => Ok(Self::Md5),
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Ok(Self::Sha256),
            Some(a) => Err(a.to_owned()),
        }
    }

    /// The lowercase hex digest of `text`.
    pub(crate) fn hash(self, text: &str) -> String {
        let bytes: Vec<u8> = match self {
            Self::Md5 => Md5::digest(text.as_bytes()).to_vec(),
            Self::Sha256 => Sha256::digest(text.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A parsed digest challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection space; echoed back.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque data to echo back.
    pub opaque: Option<String>,
    /// Hash to use.
    pub algorithm: Algorithm,
    /// The server offers `qop=auth`.
    pub qop_auth: bool,
    /// The previous credentials were right but the nonce was old (RFC 2617 §3.2.1).
    pub stale: bool,
}

/// Why a challenge cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    /// Not a Digest challenge.
    #[error("not a Digest challenge")]
    NotDigest,
    /// realm or nonce is missing.
    #[error("challenge lacks {0}")]
    Missing(&'static str),
    /// An algorithm we do not implement (e.g. `-sess` variants, AKA).
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// qop is offered but not `auth` (e.g. only `auth-int`).
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
}

/// The parameters of a `Digest k=v, …` header value (challenge or credentials); None for
/// another scheme.
pub(crate) fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = value.trim().split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("Digest")
        .then(|| auth_params(rest))
}

/// Splits `k=v, k="v, w"` into pairs, honouring quotes; names lowercased.
fn auth_params(text: &str) -> Vec<(String, String)> {
    crate::sip::split_list(text)
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(v);
            Some((
                k.trim().to_ascii_lowercase(),
                v.replace("\\\"", "\"").replace("\\\\", "\\"),
            ))
        })
        .collect()
}

impl Challenge {
    /// Parses one `Digest realm="…", nonce="…", …` header value.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let params = digest_params(value).ok_or(DigestError::NotDigest)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let algorithm = Algorithm::named(get("algorithm").as_deref())
            .map_err(DigestError::UnsupportedAlgorithm)?;
        let qop_auth = match get("qop") {
            None => false,
            Some(q) if q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) => true,
            Some(q) => return Err(DigestError::UnsupportedQop(q)),
        };
        Ok(Self {
            realm: get("realm").ok_or(DigestError::Missing("realm"))?,
            nonce: get("nonce").ok_or(DigestError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The strongest challenge we can answer among several header values.
    pub fn pick<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        values
            .into_iter()
            .filter_map(|v| Self::parse(v).ok())
            .max_by_key(|c| c.algorithm)
    }
}

/// What goes into one Authorization / Proxy-Authorization header.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// Account name.
    pub username: &'a str,
    /// Account password.
    pub password: &'a str,
    /// Request method.
    pub method: &'a str,
    /// Request-URI of the request being authorised.
    pub uri: &'a str,
    /// Our client nonce (random, used with qop).
    pub cnonce: &'a str,
    /// How many requests this nonce has authorised, starting at 1.
    pub nc: u32,
}

/// HA1 = H(username:realm:password), what a registrar stores instead of the password
/// (RFC 7616 §3.4.2): it only opens this user's account in this realm.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash(&format!("{username}:{realm}:{password}"))
}

/// The `response` value (RFC 3261 §22.4 / RFC 2617 §3.2.2.1 with RFC 8760 hashes).
pub fn response(ch: &Challenge, a: &Answer<'_>) -> String {
    let h = |t: &str| ch.algorithm.hash(t);
    let ha1 = ha1(ch.algorithm, a.username, &ch.realm, a.password);
    let ha2 = h(&format!("{}:{}", a.method, a.uri));
    if ch.qop_auth {
        h(&format!(
            "{ha1}:{}:{:08x}:{}:auth:{ha2}",
            ch.nonce, a.nc, a.cnonce
        ))
    } else {
        h(&format!("{ha1}:{}:{ha2}", ch.nonce))
    }
}

/// Quotes a value for a quoted-string (escaping `"` and `\`).
pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The full credentials header value.
pub fn credentials(ch: &Challenge, a: &Answer<'_>) -> String {
    let mut out = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
        quote(a.username),
        quote(&ch.realm),
        quote(&ch.nonce),
        quote(a.uri),
        quote(&response(ch, a)),
        ch.algorithm.as_str(),
    );
    if ch.qop_auth {
        out.push_str(&format!(
            ", cnonce={}, qop=auth, nc={:08x}",
            quote(a.cnonce),
            a.nc
        ));
    }
    if let Some(opaque) = &ch.opaque {
        out.push_str(&format!(", opaque={}", quote(opaque)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the same digest computation, with both hashes.
    #[test]
    fn rfc7616_vectors() {
        let answer = Answer {
            username: "Mufasa",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        };
        let header = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", \
             algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let sha = Challenge::parse(header).expect("parse");
        assert_eq!(sha.algorithm, Algorithm::Sha256);
        assert!(sha.qop_auth);
        assert_eq!(
            response(&sha, &answer),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let md5 = Challenge::parse(&header.replace("SHA-256", "MD5")).expect("parse");
        assert_eq!(response(&md5, &answer), "8ca523f5e9506fed4657c9700eebdbec");
        let creds = credentials(&sha, &answer);
        assert!(creds.contains("qop=auth, nc=00000001"), "{creds}");
        assert!(creds.contains("opaque=\"FQhe"), "{creds}");
    }

    #[test]
    fn picks_sha256_and_refuses_what_it_cannot_do() {
        let md5 = "Digest realm=\"r\", nonce=\"n\"";
        let sha = "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256";
        let picked = Challenge::pick([md5, sha, "Basic realm=\"x\""]).expect("one");
        assert_eq!(picked.algorithm, Algorithm::Sha256);
        assert!(Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess").is_err());
        assert!(Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"").is_err());
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(DigestError::Missing("realm"))
        );
        assert_eq!(
            Challenge::parse("Basic realm=\"r\""),
            Err(DigestError::NotDigest)
        );
        assert!(
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", stale=TRUE")
                .expect("p")
                .stale
        );
    }
}
