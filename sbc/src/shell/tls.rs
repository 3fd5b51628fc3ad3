//! SIP over TLS toward trunks (RFC 3261 §26.2.1, RFC 5922 §7): a TCP connection per call
//! attempt, a handshake that checks the trunk's certificate against the trunk's CA roots
//! (`tls_ca_file`, else the platform's) and its configured host name, then the same framing
//! as TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

use super::dispatch::{ConnOut, Inbound};
use super::tcp;
use crate::trunk::TrunkConfig;

/// How long a TLS handshake may take after the TCP connection is up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a trunk's TLS client could not be set up.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("trunk {trunk:?}: tls_ca_file {path:?}: {reason}")]
    CaFile {
        /// Trunk name.
        trunk: String,
        /// The configured file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Neither a CA file nor any platform root certificate.
    #[error("trunk {0:?}: no CA certificates (the platform has none; set tls_ca_file)")]
    NoRoots(String),
    /// The trunk host cannot be checked against a certificate.
    #[error("trunk {trunk:?}: host {host:?} is not a valid TLS server name")]
    ServerName {
        /// Trunk name.
        trunk: String,
        /// The host.
        host: String,
    },
    /// The TLS library refused the configuration.
    #[error("trunk {trunk:?}: TLS setup: {reason}")]
    Setup {
        /// Trunk name.
        trunk: String,
        /// What went wrong.
        reason: String,
    },
}

impl TlsError {
    /// The trunk this error is about.
    pub fn trunk(&self) -> &str {
        match self {
            Self::CaFile { trunk, .. }
            | Self::NoRoots(trunk)
            | Self::ServerName { trunk, .. }
            | Self::Setup { trunk, .. } => trunk,
        }
    }
}

/// The TLS client of one trunk: whom it trusts and the name the certificate must carry.
#[derive(Clone)]
pub struct TrunkTls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TrunkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrunkTls({:?})", self.name)
    }
}

impl TrunkTls {
    /// Reads the trunk's CA roots (its `tls_ca_file`, else `platform`) and checks its host.
    pub fn new(trunk: &TrunkConfig, platform: &RootCertStore) -> Result<Self, TlsError> {
        let roots = match &trunk.tls_ca_file {
            Some(path) => ca_file(trunk, path)?,
            None if platform.is_empty() => return Err(TlsError::NoRoots(trunk.name.clone())),
            None => platform.clone(),
        };
        let host = trunk.host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).map_err(|_| TlsError::ServerName {
            trunk: trunk.name.clone(),
            host: trunk.host.clone(),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup {
                trunk: trunk.name.clone(),
                reason: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TrunkTls {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        })
    }

    /// Connects to `peer`, completes the handshake and starts the connection's reader and
    /// writer; what it receives goes to the SIP task like any other message.
    pub(super) async fn connect(
        &self,
        peer: SocketAddr,
        inbound: mpsc::Sender<Inbound>,
        max_message: usize,
        idle: Duration,
    ) -> std::io::Result<mpsc::Sender<ConnOut>> {
        let stream = tcp::open(peer).await?;
        let handshake = self.connector.connect(self.name.clone(), stream);
        let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake"))??;
        Ok(tcp::spawn_outbound(tls, peer, inbound, max_message, idle))
    }
}

/// The platform's root certificates (empty when it has none); unreadable ones are skipped.
pub fn platform_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    for err in &found.errors {
        tracing::debug!(%err, "platform CA certificates");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "platform CA roots loaded");
    roots
}

fn ca_file(trunk: &TrunkConfig, path: &std::path::Path) -> Result<RootCertStore, TlsError> {
    let err = |reason: String| TlsError::CaFile {
        trunk: trunk.name.clone(),
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(roots)
}
