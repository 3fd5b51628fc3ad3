//! Locating a trunk by DNS (RFC 3263): the test runs its own name server on loopback, which
//! knows `trunk.test` only through SRV records, and a real SIPp answers the call at the port
//! the SRV record names.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use c2c_sbc::leg::LegEvent;
use c2c_sbc::shell::{Sbc, SbcConfig, SbcOptions};
use c2c_sbc::trunk::TrunkConfig;
use common::sipp::Sipp;
use common::{call, free_udp_port, next, trunk};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

/// A name server for the zone `trunk.test`: SRV `_sip._udp.trunk.test` → a dead target at
/// priority 5 with no address, then `sbc-a.trunk.test:{sip_port}` at priority 10; A records
/// for the latter only. Every other query gets an empty answer.
async fn name_server(sip_port: u16) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns");
    let addr = socket.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut reply = Message::response(query.metadata.id, OpCode::Query);
            reply.metadata.authoritative = true;
            reply.metadata.recursion_desired = query.metadata.recursion_desired;
            reply.metadata.message_type = MessageType::Response;
            for q in &query.queries {
                reply.queries.push(q.clone());
                let name = q.name().to_ascii().to_ascii_lowercase();
                let answer = match (q.query_type(), name.as_str()) {
                    (RecordType::SRV, "_sip._udp.trunk.test.") => vec![
                        srv(q.name(), 5, "gone.trunk.test.", sip_port),
                        srv(q.name(), 10, "sbc-a.trunk.test.", sip_port),
                    ],
                    (RecordType::A, "sbc-a.trunk.test.") => vec![Record::from_rdata(
                        q.name().clone(),
                        60,
                        RData::A(A(Ipv4Addr::LOCALHOST)),
                    )],
                    _ => Vec::new(),
                };
                reply.answers.extend(answer);
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    (addr, task)
}

fn srv(owner: &Name, priority: u16, target: &str, port: u16) -> Record {
    let target = Name::from_ascii(target).expect("name");
    Record::from_rdata(
        owner.clone(),
        60,
        RData::SRV(SRV::new(priority, 0, port, target)),
    )
}

fn srv_trunk() -> TrunkConfig {
    // No port: RFC 3263 §4.2 says look up SRV records first.
    TrunkConfig {
        host: "trunk.test".into(),
        port: 0,
        ..trunk(0)
    }
}

#[tokio::test]
async fn a_trunk_named_only_by_srv_records_is_found_and_called() {
    tokio::time::timeout(Duration::from_secs(30), async {
        let port = free_udp_port();
        let (ns, dns_task) = name_server(port).await;
        let mut sipp = Sipp::start(port, &["-sn", "uas"], &[]);
        let options = SbcOptions {
            nameserver: Some(ns),
            ..SbcOptions::default()
        };
        let config = SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![srv_trunk()],
        };
        let sbc = Sbc::start_with(config, options).await.expect("sbc starts");
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut c = call(&sbc, &rtp).await;
        common::until_answered(&mut c, 10, "the SRV-located trunk should answer").await;
        c.hangup();
        assert!(matches!(next(&mut c, 10).await, LegEvent::Ended { .. }));
        let status = sipp.wait().await;
        assert!(status.success(), "SIPp: {status}");
        dns_task.abort();
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn a_name_with_neither_srv_nor_address_records_fails_clearly() {
    let (ns, dns_task) = name_server(5060).await;
    let dns = c2c_sbc::dns::Dns::with_nameserver(ns).expect("dns");
    let nowhere = TrunkConfig {
        host: "nowhere.test".into(),
        port: 0,
        ..trunk(0)
    };
    let err = dns.locate(&nowhere).await.expect_err("no records");
    assert!(err.to_string().contains("nowhere.test"), "{err}");
    // An IP literal never touches DNS; an explicit port skips SRV (RFC 3263 §4.2).
    let ip = TrunkConfig {
        host: "127.0.0.1".into(),
        port: 5080,
        ..trunk(0)
    };
    assert_eq!(
        dns.locate(&ip).await.expect("literal"),
        vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5080)]
    );
    let with_port = TrunkConfig {
        host: "trunk.test".into(),
        port: 5070,
        ..trunk(0)
    };
    assert!(
        dns.locate(&with_port).await.is_err(),
        "no A record for trunk.test itself"
    );
    dns_task.abort();
}
