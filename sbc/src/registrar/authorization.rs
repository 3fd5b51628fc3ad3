//! The server side of SIP digest (RFC 3261 §22.4, RFC 7616, RFC 8760): the challenge we
//! send and the check of an `Authorization` header against a stored HA1.

use crate::digest::{digest_params, quote, Algorithm};

/// The digest parameters of one `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Who claims to be asking.
    pub username: String,
    /// The protection space answered.
    pub realm: String,
    /// The nonce answered.
    pub nonce: String,
    /// The digest-uri the client hashed.
    pub uri: String,
    /// The client's response, lowercase hex.
    pub response: String,
    /// The hash used.
    pub algorithm: Algorithm,
    /// `qop=auth` with its `nc` and `cnonce`, when the client used it.
    pub qop: Option<(String, String)>,
}

impl Credentials {
    /// Parses one `Digest username="…", …` value; None when it is not a usable digest answer.
    pub fn parse(value: &str) -> Option<Self> {
        let params = digest_params(value)?;
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let algorithm = Algorithm::named(get("algorithm").as_deref()).ok()?;
        let qop = match get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some((get("nc")?, get("cnonce")?)),
            Some(_) => return None,
        };
        Some(Self {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?.to_ascii_lowercase(),
            algorithm,
            qop,
        })
    }

    /// Whether the response is what `ha1` (for this algorithm) gives for `method`, in
    /// constant time over the compared digests.
    pub fn verify(&self, ha1: &str, method: &str) -> bool {
        let h = |t: &str| self.algorithm.hash(t);
        let ha2 = h(&format!("{method}:{}", self.uri));
        let expected = match &self.qop {
            Some((nc, cnonce)) => h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce)),
            None => h(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            self.response.as_bytes(),
        )
        .is_ok()
    }
}

/// The `WWW-Authenticate` values for a challenge, one per algorithm in order of preference
/// (RFC 8760 §2.4: the client picks the first it supports; SHA-256 before MD5 by default).
pub fn challenges(realm: &str, nonce: &str, stale: bool, algorithms: &[Algorithm]) -> Vec<String> {
    let one = |algorithm: Algorithm| {
        let mut value = format!(
            "Digest realm={}, nonce={}, algorithm={}, qop=\"auth\"",
            quote(realm),
            quote(nonce),
            algorithm.as_str()
        );
        if stale {
            value.push_str(", stale=true");
        }
        value
    };
    algorithms.iter().map(|a| one(*a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{self, Answer, Challenge};

    /// Our own client side answers our challenge and the check accepts it, for both hashes;
    /// one wrong byte anywhere fails it.
    #[test]
    fn what_a_client_computes_verifies_and_nothing_else_does() {
        for offer in challenges("c2c", "5.abcd", false, &[Algorithm::Sha256, Algorithm::Md5]) {
            let challenge = Challenge::parse(&offer).expect("our challenge parses");
            let answer = Answer {
                username: "alice",
                password: "s3cret",
                method: "REGISTER",
                uri: "sip:c2c.example",
                cnonce: "0a4f113b",
                nc: 1,
            };
            let header = digest::credentials(&challenge, &answer);
            let creds = Credentials::parse(&header).expect("parses");
            assert_eq!(creds.username, "alice");
            let ha1 = digest::ha1(challenge.algorithm, "alice", "c2c", "s3cret");
            assert!(creds.verify(&ha1, "REGISTER"), "{header}");
            assert!(!creds.verify(&ha1, "INVITE"));
            let wrong = digest::ha1(challenge.algorithm, "alice", "c2c", "s3creT");
            assert!(!creds.verify(&wrong, "REGISTER"));
            let mut other_uri = creds.clone();
            other_uri.uri.push('x');
            assert!(!other_uri.verify(&ha1, "REGISTER"));
        }
    }

    #[test]
    fn unusable_answers_are_refused() {
        for bad in [
            "Basic YWxpY2U6cw==",
            "Digest",
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\"",
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", algorithm=MD5-sess",
            "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth",
            "Digest username=\"é\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth-int, nc=1, cnonce=c",
        ] {
            assert_eq!(Credentials::parse(bad), None, "{bad}");
        }
    }
}
