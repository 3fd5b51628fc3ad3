//! Helpers shared by the socket-level tests.
#![allow(dead_code)] // each test binary uses a different subset

pub mod leg;
pub mod sipp;

use std::net::SocketAddr;
use std::time::Duration;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::sdp::{build_offer, MediaOffer};
use c2c_sbc::shell::{Attempt, Sbc, SbcConfig, SbcError, TrunkCall};
use c2c_sbc::trunk::{CallerIdHeader, Transport, TrunkConfig};
use c2c_token::{CallClaims, Route, VerifiedCall};
use tokio::net::UdpSocket;

/// A trunk named "main" at 127.0.0.1:`port`.
pub fn trunk(port: u16) -> TrunkConfig {
    TrunkConfig {
        name: trunk_name("main"),
        host: "127.0.0.1".into(),
        port,
        transport: Transport::Udp,
        username: None,
        password: None,
        from_domain: Some("c2c.test".into()),
        caller_id_header: CallerIdHeader::Both,
        user_phone: false,
        ..TrunkConfig::default()
    }
}

/// An SBC on loopback with one trunk.
pub async fn sbc(trunk_port: u16) -> Sbc {
    Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks: vec![trunk(trunk_port)],
    })
    .await
    .expect("sbc starts")
}

/// An SBC on loopback whose one trunk answers digest challenges as `c2c` / `s3cret` (the
/// account `uas_auth.xml` checks with `-key password s3cret`).
pub async fn sbc_with_account(trunk_port: u16) -> Sbc {
    let mut account = trunk(trunk_port);
    account.username = Some("c2c".into());
    account.password = Some("s3cret".into());
    Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks: vec![account],
    })
    .await
    .expect("sbc starts")
}

/// A trunk of group "carrier" at 127.0.0.1:`port`, given up after 1 s of silence.
pub fn group_member(name: &str, port: u16, priority: u16) -> TrunkConfig {
    let mut t = trunk(port);
    t.name = trunk_name(name);
    t.group = Some("carrier".into());
    t.priority = priority;
    t.failover_after_ms = 1000;
    t
}

/// An SBC on loopback with these trunks.
pub async fn group_sbc(trunks: Vec<TrunkConfig>) -> Sbc {
    Sbc::start(SbcConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        advertised: None,
        trunks,
    })
    .await
    .expect("sbc")
}

/// Places a call whose SDP offer points at `rtp`.
pub async fn call(sbc: &Sbc, rtp: &UdpSocket) -> TrunkCall {
    call_via(sbc, rtp, "main").await
}

/// Places a call through the named trunk (or its group).
pub async fn call_via(sbc: &Sbc, rtp: &UdpSocket, trunk: &str) -> TrunkCall {
    outbound(trunk, rtp).place(sbc).await.expect("call placed")
}

/// The organisation of every test call; its trunks are named `o/<name>`, as the SBC knows them.
pub const ORG: &str = "o";

/// The name the SBC knows the test organisation's trunk `name` by.
pub fn trunk_name(name: &str) -> String {
    c2c_sbc::trunk::qualified_name(ORG, name)
}

/// A verified call of [`ORG`] through its trunk `trunk` to `destinations`, as a real token
/// would grant it.
pub fn verified(trunk: &str, destinations: &[&str], privacy: bool) -> VerifiedCall {
    let claims = CallClaims {
        iss: "c2c-test".into(),
        aud: c2c_token::AUDIENCE.into(),
        sub: "ws-1".into(),
        org: ORG.into(),
        cmp: "cmp-1".into(),
        num: "+15559999".parse().expect("number"),
        ori: "https://shop.example".into(),
        iat: 0,
        nbf: 0,
        exp: 60,
        jti: "jti-1".into(),
        rte: String::new(),
    };
    let route = Route {
        trunk: trunk.into(),
        destinations: destinations.iter().map(|d| d.to_string()).collect(),
        privacy,
        agents: false,
    };
    VerifiedCall::for_tests(claims, route)
}

/// A verified call and its first attempt.
pub struct Outbound {
    pub call: VerifiedCall,
    pub attempt: Attempt,
}

impl Outbound {
    /// Places the attempt.
    pub async fn place(&self, sbc: &Sbc) -> Result<TrunkCall, SbcError> {
        sbc.place_call(&self.call, &self.attempt).await
    }

    /// The same call with the caller's identity withheld (`Privacy: id`).
    pub fn private(self) -> Self {
        let route = Route {
            privacy: true,
            ..self.call.route().clone()
        };
        Outbound {
            call: VerifiedCall::for_tests(self.call.claims().clone(), route),
            attempt: self.attempt,
        }
    }
}

/// A call to +15550100 through `trunk` whose SDP offer points at `rtp`.
pub fn outbound(trunk: &str, rtp: &UdpSocket) -> Outbound {
    let offer = build_offer(&MediaOffer {
        addr: rtp.local_addr().expect("rtp addr"),
        session_id: 7,
        session_version: 1,
    });
    Outbound {
        call: verified(trunk, &["+15550100"], false),
        attempt: Attempt {
            destination: 0,
            context: c2c_sbc::context::CallContext {
                page_url: "https://shop.example/".into(),
                ..Default::default()
            },
            sdp_offer: offer,
        },
    }
}

/// Skips provisional events until the call is answered, allowing `secs` per event; fails
/// with `why` should the call end first.
pub async fn until_answered(call: &mut TrunkCall, secs: u64, why: &str) {
    loop {
        match next(call, secs).await {
            LegEvent::Answered(_) => return,
            ended @ LegEvent::Ended { .. } => panic!("{why}: {ended:?}"),
            _ => {}
        }
    }
}

/// The next event, failing the test after `secs`.
pub async fn next(call: &mut TrunkCall, secs: u64) -> LegEvent {
    tokio::time::timeout(Duration::from_secs(secs), call.next_event())
        .await
        .expect("event in time")
        .expect("call still known")
}

/// Sends an RTP-shaped packet to `to` and expects the same bytes back.
pub async fn assert_echo(rtp: &UdpSocket, to: SocketAddr) {
    let mut packet = vec![0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
    packet.extend(std::iter::repeat_n(0xffu8, 160));
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        rtp.send_to(&packet, to).await.expect("send rtp");
        if let Ok(Ok((len, _))) =
            tokio::time::timeout(Duration::from_millis(300), rtp.recv_from(&mut buf)).await
        {
            assert_eq!(&buf[..len], &packet[..], "echoed payload differs");
            return;
        }
    }
    panic!("no RTP echo from {to}");
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}
