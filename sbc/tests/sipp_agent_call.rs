//! Calls to an agent's registered phone (SIPp as the phone): it registers with digest from
//! behind "NAT" (its Contact names a private address it cannot be reached at), the call goes
//! where its REGISTER came from, and so does our BYE; the phone is never trusted as a trunk.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use c2c_sbc::digest::{self, Algorithm};
use c2c_sbc::ingress::IngressConfig;
use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::networks::Networks;
use c2c_sbc::registrar::{AgentCredential, AgentRef, Change, RegistrarConfig};
use c2c_sbc::sdp::{build_offer, MediaOffer};
use c2c_sbc::shell::{AgentDevice, Sbc, SbcConfig, SbcError, SbcOptions};
use c2c_sbc::trunk::Transport;
use common::sipp::scenario;
use common::{next, verified};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};

const LIMIT: Duration = Duration::from_secs(40);

/// A SIPp phone registering as `user` (password `wonder`) for 6 s, taking calls with the
/// out-of-call scenario `ooc`.
fn phone(sbc: &Sbc, dir: &Path, user: &str, ooc: &str, media_port: u16) -> Child {
    let csv = dir.join(format!("{user}.csv"));
    std::fs::write(
        &csv,
        format!("SEQUENTIAL\n{user};[authentication username={user} password=wonder]\n"),
    )
    .expect("csv");
    Command::new("sipp")
        .arg(sbc.local_addr().to_string())
        .args(["-sf", &scenario("agent_phone.xml")])
        .args(["-oocsf", &scenario(ooc)])
        .args(["-inf", &csv.display().to_string()])
        .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-m", "1"])
        .args(["-d", "6000", "-mp", &media_port.to_string()])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_err",
            "-trace_msg",
        ])
        .arg("-message_file")
        .arg(dir.join(format!("{user}-messages.log")))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("SIPp is required (apt-get install sip-tester)")
}

async fn registrar_sbc(networks: &[&str]) -> Sbc {
    let sbc = Sbc::start_with(
        SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: Vec::new(),
        },
        SbcOptions {
            ingress: IngressConfig {
                agent_networks: Some(
                    Networks::parse(&networks.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                        .expect("nets"),
                ),
                ..IngressConfig::default()
            },
            // SIPp 3.6 reads only the first challenge and knows MD5 alone.
            registrar: Some(RegistrarConfig {
                algorithms: vec![Algorithm::Md5, Algorithm::Sha256],
                ..RegistrarConfig::default()
            }),
            ..SbcOptions::default()
        },
    )
    .await
    .expect("sbc starts");
    let realm = RegistrarConfig::default().realm;
    let account = |user: &str| AgentCredential {
        agent: AgentRef {
            org: common::ORG.into(),
            agent: format!("ag_{user}"),
            username: user.into(),
        },
        ha1_md5: digest::ha1(Algorithm::Md5, user, &realm, "wonder"),
        ha1_sha256: digest::ha1(Algorithm::Sha256, user, &realm, "wonder"),
    };
    sbc.set_agent_credentials(["alice", "bob", "carol"].map(account).to_vec())
        .expect("credentials");
    sbc
}

#[tokio::test]
async fn a_registered_phone_behind_nat_is_called_where_it_registered_from() {
    tokio::time::timeout(LIMIT, async {
        // The private network is allowed too: only pinning keeps the BYE off the Contact.
        let sbc = registrar_sbc(&["127.0.0.0/8", "10.0.0.0/8"]).await;
        let mut changes = sbc.take_registrations().expect("changes");
        let dir = tempfile::tempdir().expect("dir");
        let media_port = common::free_udp_port();
        let mut phone = phone(&sbc, dir.path(), "alice", "agent_answer.xml", media_port);
        let Some(Change::Bound { binding, .. }) = changes.recv().await else {
            panic!("the phone did not register");
        };
        assert_eq!(
            binding.contact,
            "sip:alice@10.255.0.1:5060;transport=udp;ob"
        );
        let device = AgentDevice {
            username: "alice".into(),
            contact: binding.contact.clone(),
            source: binding.source,
            transport: binding.transport,
        };
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let offer = build_offer(&MediaOffer {
            addr: rtp.local_addr().expect("addr"),
            session_id: 1,
            session_version: 1,
        });
        let call = verified("main", &[], false);
        let mut leg = sbc
            .place_agent_call(&call, &device, &Default::default(), &offer)
            .await
            .expect("placed");
        // The private Contact is unreachable: only a pinned call rings at all.
        assert_eq!(next(&mut leg, 10).await, LegEvent::Ringing);
        assert_eq!(next(&mut leg, 5).await, LegEvent::Picked { fork: 0 });
        let LegEvent::Answered(media) = next(&mut leg, 5).await else {
            panic!("expected Answered")
        };
        assert_eq!(media.addr.port(), media_port);
        leg.hangup();
        assert_eq!(
            next(&mut leg, 5).await,
            LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: None
            },
            "the BYE reached the phone (at its source, not its Contact) and was answered"
        );
        let status = phone.wait().await.expect("sipp");
        assert!(status.success(), "the phone's scenarios failed: {status}");
        assert!(matches!(changes.recv().await, Some(Change::Unbound { .. })));
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn a_device_outside_the_registrar_networks_is_never_called() {
    let sbc = registrar_sbc(&["198.51.100.0/24"]).await;
    let device = AgentDevice {
        username: "alice".into(),
        contact: "sip:alice@127.0.0.1:5999".into(),
        source: "127.0.0.1:5999".parse().expect("addr"),
        transport: Transport::Udp,
    };
    let err = sbc
        .place_agent_call(
            &verified("main", &[], false),
            &device,
            &Default::default(),
            "",
        )
        .await
        .expect_err("refused");
    assert!(matches!(err, SbcError::OutsideAgentNetworks(_)), "{err}");
}

#[tokio::test]
async fn ring_all_rings_every_phone_and_cancels_the_others_as_completed_elsewhere() {
    tokio::time::timeout(LIMIT, async {
        let sbc = registrar_sbc(&["127.0.0.0/8"]).await;
        let mut changes = sbc.take_registrations().expect("changes");
        let dir = tempfile::tempdir().expect("dir");
        let mut phones = Vec::new();
        for (user, ooc) in [
            ("alice", "agent_ring.xml"),
            ("bob", "agent_answer.xml"),
            ("carol", "agent_ring.xml"),
        ] {
            let media_port = common::free_udp_port();
            phones.push(phone(&sbc, dir.path(), user, ooc, media_port));
        }
        let mut devices = std::collections::BTreeMap::new();
        while devices.len() < 3 {
            let change = changes.recv().await;
            let Some(Change::Bound { agent, binding }) = change else {
                panic!("the phones did not register: {change:?}");
            };
            devices.insert(
                agent.username.clone(),
                AgentDevice {
                    username: agent.username,
                    contact: binding.contact,
                    source: binding.source,
                    transport: binding.transport,
                },
            );
        }
        let devices: Vec<AgentDevice> = devices.into_values().collect();
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let offer = build_offer(&MediaOffer {
            addr: rtp.local_addr().expect("addr"),
            session_id: 1,
            session_version: 1,
        });
        let mut leg = sbc
            .ring_devices(
                &verified("main", &[], false),
                &devices,
                &Default::default(),
                &offer,
            )
            .await
            .expect("placed");
        assert_eq!(next(&mut leg, 10).await, LegEvent::Ringing, "once, for all");
        assert_eq!(
            next(&mut leg, 5).await,
            LegEvent::Picked { fork: 1 },
            "bob (the second device) answers"
        );
        assert!(matches!(next(&mut leg, 5).await, LegEvent::Answered(_)));
        leg.hangup();
        assert_eq!(
            next(&mut leg, 5).await,
            LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: None
            }
        );
        for (n, mut p) in phones.into_iter().enumerate() {
            let status = p.wait().await.expect("sipp");
            assert!(status.success(), "phone {n} failed: {status}");
        }
        // The two that rang got a CANCEL with the RFC 3326 reason; bob our BYE.
        let received = |user: &str, method: &str| -> Vec<String> {
            let log = std::fs::read_to_string(dir.path().join(format!("{user}-messages.log")))
                .unwrap_or_default();
            log.split("message received")
                .filter_map(|m| m.split_once("\n\n").map(|(_, m)| m.trim_start()))
                .filter(|m| m.starts_with(&format!("{method} ")))
                .map(str::to_owned)
                .collect()
        };
        for user in ["alice", "carol"] {
            let cancels = received(user, "CANCEL");
            assert_eq!(cancels.len(), 1, "{user}: {cancels:?}");
            assert!(
                cancels[0].contains("Reason: SIP;cause=200;text=\"Call completed elsewhere\""),
                "{user}: {}",
                cancels[0]
            );
            assert!(received(user, "BYE").is_empty(), "{user}");
        }
        assert_eq!(received("bob", "BYE").len(), 1);
        assert!(received("bob", "CANCEL").is_empty());
    })
    .await
    .expect("test finished in time");
}
