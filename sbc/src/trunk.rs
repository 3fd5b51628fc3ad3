//! Trunk configuration: where calls go and how caller ID is presented.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::context::ContextHeaders;
use thiserror::Error;

/// Default SIP port over UDP and TCP (RFC 3261 §19.1.2).
pub const DEFAULT_SIP_PORT: u16 = 5060;
/// Default SIP port over TLS (RFC 3261 §19.1.2).
pub const DEFAULT_SIPS_PORT: u16 = 5061;

/// Transport toward a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP (RFC 3261 §18).
    #[default]
    Udp,
    /// SIP over TCP (RFC 3261 §18), one connection per call attempt.
    Tcp,
    /// SIP over TLS (RFC 3261 §26.2), one connection per call attempt, certificate checked
    /// against the trunk host name.
    Tls,
}

impl Transport {
    /// The port used when the configuration gives none and DNS has no SRV record.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => DEFAULT_SIP_PORT,
            Self::Tls => DEFAULT_SIPS_PORT,
        }
    }

    /// The lowercase name, as in configuration and a Via's `SIP/2.0/UDP` (lowercased).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
        }
    }
}

/// Which headers carry the caller's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerIdHeader {
    /// Only the From header.
    From,
    /// Only P-Asserted-Identity (RFC 3325); From carries the trunk account.
    Pai,
    /// Both From and P-Asserted-Identity.
    #[default]
    Both,
}

/// One SIP trunk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Name campaigns refer to.
    pub name: String,
    /// Host name or IP address of the trunk.
    pub host: String,
    /// SIP port of the trunk; 0 (the default) looks up DNS SRV for a host name (RFC 3263
    /// §4.2), else uses the transport's default port (see [`TrunkConfig::port_or_default`]).
    #[serde(default)]
    pub port: u16,
    /// Transport toward the trunk.
    #[serde(default)]
    pub transport: Transport,
    /// Account user name (From user when caller ID goes in P-Asserted-Identity only).
    #[serde(default)]
    pub username: Option<String>,
    /// Account password for digest authentication.
    #[serde(default)]
    pub password: Option<String>,
    /// Domain of the From / P-Asserted-Identity URIs; the trunk host when absent.
    #[serde(default)]
    pub from_domain: Option<String>,
    /// Where the caller's number goes.
    #[serde(default)]
    pub caller_id_header: CallerIdHeader,
    /// Add `;user=phone` to the Request-URI (RFC 3261 §19.1.1).
    #[serde(default)]
    pub user_phone: bool,
    /// Trunks with the same group back each other up: a call to one may complete on another.
    #[serde(default)]
    pub group: Option<String>,
    /// Order within a group: lower is tried first (as in DNS SRV, RFC 2782).
    #[serde(default = "default_priority")]
    pub priority: u16,
    /// Share among trunks of equal priority (RFC 2782 weighted selection).
    #[serde(default = "default_weight")]
    pub weight: u16,
    /// Try the next trunk of the group when this one sent nothing at all for this long, ms.
    #[serde(default = "default_failover_after_ms")]
    pub failover_after_ms: u64,
    /// Only answer digest challenges from this realm (any realm of this trunk when absent).
    #[serde(default)]
    pub realm: Option<String>,
    /// Ping the trunk with OPTIONS this often, seconds (0: never); UDP trunks only.
    #[serde(default)]
    pub keepalive_s: u64,
    /// PEM file of the CA certificates a TLS trunk's certificate must chain to; the
    /// platform's roots when absent.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Which headers carry the visitor's web context: `x_c2c` (`X-C2C-*`, the default),
    /// `user_to_user` (RFC 7433, the session id) or `both`.
    #[serde(default)]
    pub context_headers: ContextHeaders,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            host: String::new(),
            port: 0,
            transport: Transport::default(),
            username: None,
            password: None,
            from_domain: None,
            caller_id_header: CallerIdHeader::default(),
            user_phone: false,
            group: None,
            priority: default_priority(),
            weight: default_weight(),
            failover_after_ms: default_failover_after_ms(),
            realm: None,
            keepalive_s: 0,
            tls_ca_file: None,
            context_headers: ContextHeaders::default(),
        }
    }
}

/// Default priority: middle of the road, so one trunk can be put before or after it.
fn default_priority() -> u16 {
    10
}

fn default_weight() -> u16 {
    100
}

/// Default failover timer: after Timer A's third retransmission (T1 * 7 = 3.5 s, RFC 3261
/// §17.1.1.2) a trunk that has not even sent 100 Trying is taken as down.
fn default_failover_after_ms() -> u64 {
    4000
}

/// Why a trunk configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrunkConfigError {
    /// `tls_ca_file` is set on a trunk that does not use TLS.
    #[error("trunk {0:?}: tls_ca_file is only used with transport = \"tls\"")]
    CaFileWithoutTls(String),
    /// A field holds something that cannot go into a SIP URI.
    #[error("trunk {trunk:?}: invalid {field}")]
    Invalid {
        /// Trunk name.
        trunk: String,
        /// The offending field.
        field: &'static str,
    },
}

impl TrunkConfigError {
    /// The trunk this error is about.
    pub fn trunk(&self) -> &str {
        match self {
            Self::CaFileWithoutTls(trunk) | Self::Invalid { trunk, .. } => trunk,
        }
    }
}

/// True when `text` can be a URI host: letters, digits, '-', '.', or an IPv6 literal.
fn is_host(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
}

/// True when `text` can be the user part of a SIP URI (RFC 3261 §25.1, unescaped subset).
fn is_sip_user(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()&=+$,;?/%".contains(c))
}

/// True when `text` can go inside a quoted string of a digest header (RFC 3261 §25.1).
fn is_quotable(text: &str) -> bool {
    text.len() <= 256
        && !text
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
}

impl TrunkConfig {
    /// The domain for From / P-Asserted-Identity.
    pub fn from_domain(&self) -> &str {
        self.from_domain.as_deref().unwrap_or(&self.host)
    }

    /// Checks that this trunk can be used by the UDP shell.
    pub fn validate(&self) -> Result<(), TrunkConfigError> {
        let invalid = |field| TrunkConfigError::Invalid {
            trunk: self.name.clone(),
            field,
        };
        if self.name.is_empty() {
            return Err(invalid("name"));
        }
        if !is_host(&self.host) {
            return Err(invalid("host"));
        }
        if !is_host(self.from_domain()) {
            return Err(invalid("from_domain"));
        }
        if self.username.as_deref().is_some_and(|u| !is_sip_user(u)) {
            return Err(invalid("username"));
        }
        if self.realm.as_deref().is_some_and(|r| !is_quotable(r)) {
            return Err(invalid("realm"));
        }
        // The password only goes into the digest hash, so quotes are fine; control
        // characters are a paste accident.
        let bad_password = |p: &str| p.len() > 256 || p.chars().any(char::is_control);
        if self.password.as_deref().is_some_and(bad_password) {
            return Err(invalid("password"));
        }
        if self.tls_ca_file.is_some() && self.transport != Transport::Tls {
            return Err(TrunkConfigError::CaFileWithoutTls(self.name.clone()));
        }
        Ok(())
    }

    /// The configured port, or the transport's default when none was given.
    pub fn port_or_default(&self) -> u16 {
        match self.port {
            0 => self.transport.default_port(),
            port => port,
        }
    }

    /// The group this trunk belongs to (its own name when it has none).
    pub fn group_name(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.name)
    }

    /// The host as written in a URI (IPv6 literals bracketed).
    pub fn uri_host(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// How the SBC knows an organisation's trunk: `org/name` (trunk names never hold a `/`).
pub fn qualified_name(org: &str, name: &str) -> String {
    format!("{org}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply() {
        let t: TrunkConfig =
            serde_json::from_str(r#"{"name":"main","host":"sip.example.net"}"#).expect("parse");
        assert_eq!(t.port_or_default(), 5060);
        assert_eq!(t.transport, Transport::Udp);
        assert_eq!(t.caller_id_header, CallerIdHeader::Both);
        assert!(!t.user_phone);
        assert_eq!(t.from_domain(), "sip.example.net");
        assert_eq!(t.validate(), Ok(()));
    }

    #[test]
    fn tls_defaults_to_5061_and_bad_hosts_are_refused() {
        let t: TrunkConfig = serde_json::from_str(
            r#"{"name":"x","host":"h","transport":"tls","caller_id_header":"pai","tls_ca_file":"/ca.pem"}"#,
        )
        .expect("parse");
        assert_eq!(t.validate(), Ok(()));
        assert_eq!(t.port_or_default(), 5061);
        let udp_with_ca = TrunkConfig {
            transport: Transport::Udp,
            ..t.clone()
        };
        assert_eq!(
            udp_with_ca.validate(),
            Err(TrunkConfigError::CaFileWithoutTls("x".into()))
        );
        let bad = TrunkConfig {
            host: "evil host\r\n".into(),
            ..t
        };
        assert!(bad.validate().is_err());
        assert!(serde_json::from_str::<TrunkConfig>(
            r#"{"name":"x","host":"h","transport":"sctp"}"#
        )
        .is_err());
    }
}
