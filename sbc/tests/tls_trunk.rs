//! SIP over TLS toward a trunk (RFC 3261 §26.2). Debian's SIPp is built without TLS, so the
//! trunk is a TLS peer made here with tokio-rustls, its CA and certificate made by rcgen into
//! a temporary directory. The call must complete over TLS; a certificate for another name or
//! from another CA must stop it before any SIP is sent.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::sdp::{build_offer, MediaOffer};
use c2c_sbc::shell::{Sbc, SbcConfig, SbcError};
use c2c_sbc::sip::{self, Framed, Message, Method, Request, StreamFramer};
use c2c_sbc::trunk::{Transport, TrunkConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::TlsAcceptor;

const LIMIT: Duration = Duration::from_secs(20);

/// A temporary directory removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA (its PEM in `dir/ca.pem`) and a server configuration with a certificate for `names`
/// signed by it.
struct Pki {
    dir: TempDir,
    server: Arc<rustls::ServerConfig>,
}

impl Pki {
    fn new(names: &[&str], tag: &str) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
            .expect("ca");
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, &ca)
            .expect("server cert");
        let dir = std::env::temp_dir().join(format!("c2c-tls-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("ca.pem");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .expect("server config");
        Pki {
            dir: TempDir(dir),
            server: Arc::new(server),
        }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.0.join("ca.pem")
    }
}

fn tls_trunk(addr: SocketAddr, ca_file: PathBuf) -> TrunkConfig {
    TrunkConfig {
        name: common::trunk_name("secure"),
        host: addr.ip().to_string(),
        port: addr.port(),
        transport: Transport::Tls,
        from_domain: Some("c2c.test".into()),
        tls_ca_file: Some(ca_file),
        ..TrunkConfig::default()
    }
}

async fn sbc(trunk: TrunkConfig) -> Sbc {
    Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks: vec![trunk],
    })
    .await
    .expect("sbc starts")
}

/// Reads the next SIP message from a stream.
async fn read_message<S: AsyncRead + Unpin>(s: &mut S, framer: &mut StreamFramer) -> Request {
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(Framed::Message(bytes)) = framer.next_message().expect("framing") {
            match sip::parse_message(&bytes).expect("parse") {
                Message::Request(r) => return r,
                Message::Response(r) => panic!("unexpected response {}", r.status),
            }
        }
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "connection closed");
        framer.push(&buf[..n]);
    }
}

async fn respond<S: AsyncWrite + Unpin>(s: &mut S, req: &Request, status: u16, sdp: bool) {
    let mut resp = sip::response_to(req, status, "OK", Some("tls-trunk"));
    // A Contact on another port: in-dialog requests must still use our verified connection.
    resp.headers
        .push("Contact", "<sip:trunk@127.0.0.1:1;transport=tls>");
    if sdp {
        resp.headers.push("Content-Type", "application/sdp");
        resp.body = build_offer(&MediaOffer {
            addr: "127.0.0.1:40000".parse().expect("addr"),
            session_id: 3,
            session_version: 1,
        })
        .into_bytes();
    }
    let bytes = Message::Response(resp).to_bytes();
    s.write_all(&bytes).await.expect("write");
}

/// The trunk: accepts one TLS connection, answers the INVITE, takes the ACK and the BYE.
/// Returns the INVITE's top Via and Request-URI.
async fn answer_one_call(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> (String, String) {
    let (tcp, _) = listener.accept().await.expect("accept");
    let mut tls = TlsAcceptor::from(config)
        .accept(tcp)
        .await
        .expect("handshake");
    let mut framer = StreamFramer::new(64 * 1024);
    let invite = read_message(&mut tls, &mut framer).await;
    assert_eq!(invite.method, Method::Invite);
    respond(&mut tls, &invite, 200, true).await;
    let ack = read_message(&mut tls, &mut framer).await;
    assert_eq!(ack.method, Method::Ack);
    let bye = read_message(&mut tls, &mut framer).await;
    assert_eq!(bye.method, Method::Bye);
    respond(&mut tls, &bye, 200, false).await;
    let via = invite.headers.get("Via").unwrap_or_default().to_owned();
    (via, invite.uri)
}

#[tokio::test]
async fn call_completes_over_tls() {
    tokio::time::timeout(LIMIT, async {
        let pki = Pki::new(&["127.0.0.1"], "ok");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let addr = listener.local_addr().expect("addr");
        let trunk = tokio::spawn(answer_one_call(listener, pki.server.clone()));
        let sbc = sbc(tls_trunk(addr, pki.ca_file())).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = common::outbound("secure", &rtp)
            .place(&sbc)
            .await
            .expect("call placed over TLS");
        assert!(matches!(
            common::next(&mut call, 5).await,
            LegEvent::Answered(_)
        ));
        call.hangup();
        assert_eq!(
            common::next(&mut call, 5).await,
            LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: None
            }
        );
        let (via, uri) = trunk.await.expect("trunk task");
        assert!(via.starts_with("SIP/2.0/TLS "), "{via}");
        assert!(via.contains(";alias"), "{via}");
        assert!(uri.ends_with(";transport=tls"), "{uri}");
    })
    .await
    .expect("test finished in time");
}

/// Places a call at a TLS trunk whose certificate must not be accepted; the peer must see
/// the handshake fail and no SIP.
async fn refused(trusted: &Pki, served: &Pki) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let addr = listener.local_addr().expect("addr");
    let config = served.server.clone();
    let trunk = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        TlsAcceptor::from(config).accept(tcp).await.is_ok()
    });
    let sbc = sbc(tls_trunk(addr, trusted.ca_file())).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
    let err = common::outbound("secure", &rtp)
        .place(&sbc)
        .await
        .expect_err("certificate refused");
    assert!(matches!(err, SbcError::Unreachable(_)), "{err}");
    assert!(!trunk.await.expect("trunk task"), "handshake must fail");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let pki = Pki::new(&["sip.example.com"], "name");
        refused(&pki, &pki).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    tokio::time::timeout(LIMIT, async {
        let trusted = Pki::new(&["127.0.0.1"], "trusted");
        let other = Pki::new(&["127.0.0.1"], "other");
        refused(&trusted, &other).await;
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn an_unreadable_ca_file_stops_the_start() {
    let trunk = tls_trunk(
        "127.0.0.1:5061".parse().expect("addr"),
        PathBuf::from("/nonexistent/c2c-ca.pem"),
    );
    let err = Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks: vec![trunk],
    })
    .await
    .expect_err("unreadable CA file");
    assert!(err.to_string().contains("tls_ca_file"), "{err}");
}
