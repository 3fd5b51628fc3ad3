//! `[sip] trunk_networks` holds for every address the SBC sends to, not only the trunk's host:
//! a real SIPp trunk on 127.0.0.1 answers with a Contact or an SDP media address on another
//! loopback address (127.0.0.9) that the networks do not allow. A UDP socket listening
//! there must get nothing; the call ends, through the trunk's own address, with the reason.

mod common;

use std::time::Duration;

use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::networks::Networks;
use c2c_sbc::shell::{Sbc, SbcConfig, SbcOptions};
use common::sipp::{scenario, Sipp};
use common::{call, free_udp_port, next, trunk};
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);
/// Where the trunk tries to send us; outside the allowed 127.0.0.1/32.
const FOREIGN: &str = "127.0.0.9";

/// An SBC that may send only to 127.0.0.1.
async fn strict_sbc(trunk_port: u16) -> Sbc {
    let networks = Networks::parse(&["127.0.0.1/32".to_string()]).expect("networks");
    Sbc::start_with(
        SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![trunk(trunk_port)],
        },
        SbcOptions {
            trunk_networks: networks,
            ..SbcOptions::default()
        },
    )
    .await
    .expect("sbc starts")
}

/// Runs one call against a trunk whose answer names `contact_hop` (the trunk itself when
/// None) and `sdp`; returns the events up to the end and asserts nothing reached `foreign`.
async fn call_with_answer(
    contact_hop: Option<&str>,
    sdp: (&str, u16),
    foreign: &UdpSocket,
) -> Vec<LegEvent> {
    let port = free_udp_port();
    let own = format!("127.0.0.1:{port}");
    let contact_hop = contact_hop.unwrap_or(&own);
    let mut sipp = Sipp::start(
        port,
        &["-sf", &scenario("uas_foreign_hop.xml")],
        &[
            "-key",
            "contact_hop",
            contact_hop,
            "-key",
            "sdp_ip",
            sdp.0,
            "-key",
            "sdp_port",
            &sdp.1.to_string(),
        ],
    );
    let sbc = strict_sbc(port).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
    let mut call = call(&sbc, &rtp).await;
    let mut events = Vec::new();
    loop {
        let ev = next(&mut call, 10).await;
        let end = matches!(ev, LegEvent::Ended { .. });
        events.push(ev);
        if end {
            break;
        }
    }
    let status = sipp.wait().await;
    assert!(
        status.success(),
        "SIPp got its ACK and BYE through its own address: {status}"
    );
    let mut buf = [0u8; 2048];
    let got = tokio::time::timeout(Duration::from_millis(500), foreign.recv_from(&mut buf)).await;
    assert!(
        got.is_err(),
        "a packet reached the foreign address: {got:?}"
    );
    events
}

fn refused(events: &[LegEvent]) -> Option<&str> {
    events.iter().find_map(|e| match e {
        LegEvent::Refused(why) => Some(why.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn a_contact_outside_the_networks_gets_no_packet_and_ends_the_call() {
    tokio::time::timeout(LIMIT, async {
        let foreign = UdpSocket::bind((FOREIGN, 0)).await.expect("bind 127.0.0.9");
        let hop = foreign.local_addr().expect("addr").to_string();
        let events = call_with_answer(Some(&hop), ("127.0.0.1", 40000), &foreign).await;
        let why = refused(&events).unwrap_or_else(|| panic!("no refusal in {events:?}"));
        assert!(
            why.contains(&hop) && why.contains("trunk_networks"),
            "{why}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, LegEvent::Answered(_))),
            "{events:?}"
        );
        assert!(matches!(
            events.last(),
            Some(LegEvent::Ended {
                reason: EndReason::Failed,
                status: Some(200)
            })
        ));
    })
    .await
    .expect("test finished in time");
}

#[tokio::test]
async fn media_outside_the_networks_is_refused_and_ends_the_call() {
    tokio::time::timeout(LIMIT, async {
        let foreign = UdpSocket::bind((FOREIGN, 0)).await.expect("bind 127.0.0.9");
        let media = foreign.local_addr().expect("addr");
        let events = call_with_answer(None, (FOREIGN, media.port()), &foreign).await;
        let why = refused(&events).unwrap_or_else(|| panic!("no refusal in {events:?}"));
        assert!(
            why.contains("media address") && why.contains(&media.to_string()),
            "{why}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, LegEvent::Answered(_))),
            "{events:?}"
        );
        assert!(matches!(
            events.last(),
            Some(LegEvent::Ended {
                reason: EndReason::Failed,
                ..
            })
        ));
    })
    .await
    .expect("test finished in time");
}

/// A header's value in a traced message.
fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn another_trunk_cannot_end_a_call_that_is_not_its_own() {
    tokio::time::timeout(LIMIT, async {
        let demo = c2c_sbc::demo_trunk::DemoTrunk::start("127.0.0.1".parse().expect("ip"))
            .await
            .expect("demo trunk");
        // A second trunk on 127.0.0.2: trusted by the SBC, but not a peer of this call.
        let other = c2c_sbc::trunk::TrunkConfig {
            name: "other".into(),
            host: "127.0.0.2".into(),
            ..trunk(demo.sip_addr.port())
        };
        let sbc = Sbc::start_with(
            SbcConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                advertised: None,
                trunks: vec![trunk(demo.sip_addr.port()), other],
            },
            SbcOptions::default(),
        )
        .await
        .expect("sbc starts");
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("rtp");
        let mut call = call(&sbc, &rtp).await;
        let mut trace = call.take_trace().expect("trace");
        while !matches!(next(&mut call, 10).await, LegEvent::Answered(_)) {}
        let mut invite = None;
        let mut answer = None;
        while invite.is_none() || answer.is_none() {
            let entry = tokio::time::timeout(Duration::from_secs(5), trace.recv())
                .await
                .expect("traced")
                .expect("trace open");
            if let c2c_sbc::shell::TraceEntry::Message(m) = entry {
                if m.text.starts_with("INVITE ") {
                    invite = Some(m.text);
                } else if m.text.starts_with("SIP/2.0 200") {
                    answer = Some(m.text);
                }
            }
        }
        let (invite, answer) = (invite.unwrap_or_default(), answer.unwrap_or_default());
        let field = |msg: &str, name: &str| header(msg, name).unwrap_or_default().to_owned();
        let bye = format!(
            "BYE sip:c2c@{sbc_addr} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKspoof\r\n\
             From: {to}\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: 9 BYE\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n",
            sbc_addr = sbc.local_addr(),
            to = field(&answer, "To"),
            from = field(&invite, "From"),
            call_id = field(&invite, "Call-ID"),
        );
        let spoofer = UdpSocket::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
        spoofer
            .send_to(bye.as_bytes(), sbc.local_addr())
            .await
            .expect("send");
        let mut buf = [0u8; 4096];
        let reply =
            tokio::time::timeout(Duration::from_millis(700), spoofer.recv_from(&mut buf)).await;
        assert!(reply.is_err(), "the BYE from another trunk was answered");
        let ended = tokio::time::timeout(Duration::from_millis(300), call.next_event()).await;
        assert!(ended.is_err(), "the call reacted to another trunk: {ended:?}");
        call.hangup();
        assert!(matches!(
            next(&mut call, 5).await,
            LegEvent::Ended { reason: EndReason::HangupLocal, .. }
        ));
    })
    .await
    .expect("test finished in time");
}
