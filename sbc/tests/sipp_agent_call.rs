//! Calls to an agent's registered phone (SIPp as the phone): it registers with digest from
//! behind "NAT" (its Contact names a private address it cannot be reached at), the call goes
//! where its REGISTER came from, and so does our BYE; the phone is never trusted as a trunk.

mod common;

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
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(40);

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
    sbc.set_agent_credentials(vec![AgentCredential {
        agent: AgentRef {
            org: common::ORG.into(),
            agent: "ag_alice".into(),
            username: "alice".into(),
        },
        ha1_md5: digest::ha1(Algorithm::Md5, "alice", &realm, "wonder"),
        ha1_sha256: digest::ha1(Algorithm::Sha256, "alice", &realm, "wonder"),
    }])
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
        let csv = dir.path().join("agent.csv");
        std::fs::write(
            &csv,
            "SEQUENTIAL\nalice;[authentication username=alice password=wonder]\n",
        )
        .expect("csv");
        let media_port = common::free_udp_port();
        let mut phone = Command::new("sipp")
            .arg(sbc.local_addr().to_string())
            .args(["-sf", &scenario("agent_phone.xml")])
            .args(["-oocsf", &scenario("agent_answer.xml")])
            .args(["-inf", &csv.display().to_string()])
            .args(["-i", "127.0.0.1", "-p", "0", "-nostdin", "-m", "1"])
            .args(["-d", "6000", "-mp", &media_port.to_string()])
            .args(["-timeout", "30s", "-timeout_error", "-trace_err"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("SIPp is required (apt-get install sip-tester)");
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
            .place_agent_call(&call, &device, "https://shop.example/pricing", &offer)
            .await
            .expect("placed");
        // The private Contact is unreachable: only a pinned call rings at all.
        assert_eq!(next(&mut leg, 10).await, LegEvent::Ringing);
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
        .place_agent_call(&verified("main", &[], false), &device, "", "")
        .await
        .expect_err("refused");
    assert!(matches!(err, SbcError::OutsideAgentNetworks(_)), "{err}");
}
