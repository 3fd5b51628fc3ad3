//! The trunk set replaced at run time (`Sbc::set_trunks`): a trunk added after start takes the
//! next call and its address becomes trusted; a removed trunk is no longer trusted, except
//! while a call of its own is in progress. Real UDP peers on distinct loopback addresses, so
//! trust (which is per IP) tells them apart; untrusted requests get 403 so the outcome is an
//! answer, not a silence to wait for.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use c2c_sbc::ingress::{IngressConfig, UntrustedPolicy};
use c2c_sbc::networks::Networks;
use c2c_sbc::shell::{Sbc, SbcConfig, SbcError, SbcOptions};
use c2c_sbc::trunk::TrunkConfig;
use common::{outbound, trunk};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);

/// A trunk named `name` at `addr`.
fn trunk_at(name: &str, addr: SocketAddr) -> TrunkConfig {
    TrunkConfig {
        name: common::trunk_name(name),
        host: addr.ip().to_string(),
        ..trunk(addr.port())
    }
}

/// The status code the SBC answers an OPTIONS from `peer` with.
async fn options_status(peer: &UdpSocket, sbc: SocketAddr) -> u16 {
    let local = peer.local_addr().expect("addr");
    let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
    let req = format!(
        "OPTIONS sip:c2c@{sbc} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
         From: <sip:peer@{local}>;tag=p1\r\nTo: <sip:c2c@{sbc}>\r\nCall-ID: {branch}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    peer.send_to(req.as_bytes(), sbc).await.expect("send");
    loop {
        let text = recv_text(peer).await;
        if text.starts_with("SIP/2.0 ") && text.contains(&branch) {
            return text[8..11].parse().expect("status code");
        }
    }
}

/// The next datagram `peer` receives, as text.
async fn recv_text(peer: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    let (len, _) = peer.recv_from(&mut buf).await.expect("recv");
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Waits for an INVITE at `peer`, skipping anything else; returns its Request-URI line.
async fn expect_invite(peer: &UdpSocket) -> String {
    loop {
        let text = recv_text(peer).await;
        if text.starts_with("INVITE ") {
            return text.lines().next().unwrap_or_default().to_owned();
        }
    }
}

#[tokio::test]
async fn trunks_added_and_removed_at_run_time() {
    tokio::time::timeout(LIMIT, async {
        let a = UdpSocket::bind("127.0.0.2:0").await.expect("peer a");
        let b = UdpSocket::bind("127.0.0.3:0").await.expect("peer b");
        let (a_addr, b_addr) = (a.local_addr().expect("a"), b.local_addr().expect("b"));
        let options = SbcOptions {
            ingress: IngressConfig {
                untrusted: UntrustedPolicy::Forbidden,
                ..IngressConfig::default()
            },
            ..SbcOptions::default()
        };
        let sbc = Sbc::start_with(
            SbcConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                advertised: None,
                trunks: vec![trunk_at("a", a_addr)],
            },
            options,
        )
        .await
        .expect("sbc starts");
        let at = sbc.local_addr();
        assert_eq!(options_status(&a, at).await, 200, "a is a trunk");
        assert_eq!(options_status(&b, at).await, 403, "b is not yet");
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        assert!(matches!(
            outbound("b", &rtp).place(&sbc).await,
            Err(SbcError::UnknownTrunk(_))
        ));

        // Add b: trusted at once (before any call to it), and it takes the next call.
        sbc.set_trunks(vec![trunk_at("a", a_addr), trunk_at("b", b_addr)])
            .await
            .expect("set");
        assert_eq!(sbc.trunk_names(), ["o/a", "o/b"]);
        assert_eq!(options_status(&b, at).await, 200, "b added");
        let call_b = outbound("b", &rtp).place(&sbc).await.expect("call b");
        assert!(expect_invite(&b).await.contains("+15550100"));

        // Remove a (no call in progress): no longer trusted, no longer callable.
        // Remove b too while its call rings: it stays trusted until that call ends.
        sbc.set_trunks(Vec::new()).await.expect("set");
        assert!(sbc.trunk_names().is_empty());
        assert_eq!(options_status(&a, at).await, 403, "a removed");
        assert_eq!(options_status(&b, at).await, 200, "b's call in progress");
        assert!(matches!(
            outbound("a", &rtp).place(&sbc).await,
            Err(SbcError::UnknownTrunk(_))
        ));

        // An invalid set changes nothing.
        let bad = TrunkConfig {
            host: "bad host".into(),
            ..trunk_at("a", a_addr)
        };
        assert!(sbc.set_trunks(vec![bad]).await.is_err());
        assert!(sbc.trunk_names().is_empty());
        drop(call_b);
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn trunks_outside_the_allowed_networks_are_never_called_or_trusted() {
    tokio::time::timeout(LIMIT, async {
        // A tenant pointed trunk "inside" at the operator's own gateway (127.0.0.2 here); only
        // 127.0.0.3 is a network trunks may use.
        let inside = UdpSocket::bind("127.0.0.2:0").await.expect("peer");
        let allowed = UdpSocket::bind("127.0.0.3:0").await.expect("peer");
        let (inside_addr, allowed_addr) = (
            inside.local_addr().expect("a"),
            allowed.local_addr().expect("b"),
        );
        let options = SbcOptions {
            ingress: IngressConfig {
                untrusted: UntrustedPolicy::Forbidden,
                ..IngressConfig::default()
            },
            trunk_networks: Networks::parse(&["127.0.0.3/32".to_string()]).expect("networks"),
            ..SbcOptions::default()
        };
        let sbc = Sbc::start_with(
            SbcConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                advertised: None,
                trunks: vec![
                    trunk_at("inside", inside_addr),
                    trunk_at("ok", allowed_addr),
                ],
            },
            options,
        )
        .await
        .expect("sbc starts");
        let at = sbc.local_addr();
        assert_eq!(options_status(&inside, at).await, 403, "never trusted");
        assert_eq!(options_status(&allowed, at).await, 200);
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let refused = outbound("inside", &rtp).place(&sbc).await;
        assert!(
            matches!(refused, Err(SbcError::OutsideNetworks(_))),
            "{refused:?}"
        );
        let call = outbound("ok", &rtp).place(&sbc).await.expect("call");
        assert!(expect_invite(&allowed).await.starts_with("INVITE "));
        // Nothing ever went to the refused trunk: its next datagram would be ours.
        let stray = tokio::time::timeout(Duration::from_millis(300), recv_text(&inside)).await;
        assert!(stray.is_err(), "the refused trunk got {stray:?}");
        drop(call);
    })
    .await
    .expect("test finished in time");
}
