//! A dialog rebuilt after a crash is ended with a BYE from the SBC's SIP socket, traced like
//! any call; a dialog leading to an address that is no (longer a) trunk gets no traffic.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use c2c_sbc::interrupted::{InterruptedDialog, RecordedMessage};
use c2c_sbc::leg::{EndReason, LegEvent};
use c2c_sbc::shell::{Direction, Sbc, SbcConfig, SbcError, TraceEntry};
use c2c_sbc::sip::{response_to, Message};
use c2c_sbc::trunk::TrunkConfig;
use tokio::net::UdpSocket;

const LIMIT: Duration = Duration::from_secs(30);

/// Our INVITE and the trunk's 200 as a call's timeline recorded them.
fn recorded(trunk: SocketAddr, contact: SocketAddr) -> (String, String) {
    let common = "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKold;rport\r\n\
        From: \"Web caller\" <sip:+15550100000@c2c.test>;tag=ours\r\n\
        Call-ID: crashed-call-1\r\nCSeq: 1 INVITE\r\n";
    let invite = format!(
        "INVITE sip:+4930123456@{trunk} SIP/2.0\r\n{common}To: <sip:+4930123456@{trunk}>\r\n\
         Max-Forwards: 70\r\nContact: <sip:c2c@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n"
    );
    let ok = format!(
        "SIP/2.0 200 OK\r\n{common}To: <sip:+4930123456@{trunk}>;tag=theirs\r\n\
         Contact: <sip:callee@{contact}>\r\nContent-Length: 0\r\n\r\n"
    );
    (invite, ok)
}

fn dialog(trunk: SocketAddr, contact: SocketAddr) -> InterruptedDialog {
    let (invite, ok) = recorded(trunk, contact);
    let peer = trunk.to_string();
    let messages = [
        RecordedMessage {
            sent: true,
            peer: &peer,
            text: &invite,
        },
        RecordedMessage {
            sent: false,
            peer: &peer,
            text: &ok,
        },
    ];
    InterruptedDialog::rebuild(&messages).expect("rebuilt")
}

fn trunk_at(addr: SocketAddr) -> TrunkConfig {
    TrunkConfig {
        host: addr.ip().to_string(),
        ..common::trunk(addr.port())
    }
}

#[tokio::test]
async fn a_interrupted_dialog_is_ended_at_its_trunk_and_only_at_a_configured_one() {
    tokio::time::timeout(LIMIT, async {
        let peer = UdpSocket::bind("127.0.0.2:0").await.expect("trunk socket");
        let trunk = peer.local_addr().expect("addr");
        let sbc = Sbc::start(SbcConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            advertised: None,
            trunks: vec![trunk_at(trunk)],
        })
        .await
        .expect("sbc");
        let mut call = sbc.end_interrupted(&dialog(trunk, trunk)).expect("sent");
        let mut trace = call.take_trace().expect("trace");

        let mut buf = vec![0u8; 65536];
        let (len, from) = peer.recv_from(&mut buf).await.expect("BYE");
        assert_eq!(
            from,
            sbc.local_addr(),
            "from the SIP socket the trunk knows"
        );
        let Ok(Message::Request(bye)) = Message::parse(&buf[..len]) else {
            panic!("not a request: {}", String::from_utf8_lossy(&buf[..len]));
        };
        assert_eq!(bye.uri, format!("sip:callee@{trunk}"));
        let h = &bye.headers;
        assert_eq!(h.get("Call-ID"), Some("crashed-call-1"));
        assert_eq!(h.get("CSeq"), Some("2 BYE"));
        assert!(h.get("From").is_some_and(|v| v.ends_with(";tag=ours")));
        assert!(h.get("To").is_some_and(|v| v.ends_with(";tag=theirs")));
        let via = h.get("Via").expect("Via");
        assert!(
            via.starts_with(&format!("SIP/2.0/UDP {}", sbc.local_addr())),
            "{via}"
        );
        let ok = response_to(&bye, 200, "OK", None);
        peer.send_to(&Message::Response(ok).to_bytes(), from)
            .await
            .expect("send 200");
        assert_eq!(
            call.next_event().await,
            Some(LegEvent::Ended {
                reason: EndReason::HangupLocal,
                status: None
            })
        );
        let mut ladder = Vec::new();
        while let Ok(TraceEntry::Message(m)) = trace.try_recv() {
            ladder.push((m.direction, m.first_line().to_owned(), m.peer));
        }
        let bye_line = format!("BYE {} SIP/2.0", bye.uri);
        let ok_line = "SIP/2.0 200 OK".to_owned();
        assert_eq!(
            ladder,
            vec![
                (Direction::Sent, bye_line, trunk),
                (Direction::Received, ok_line, trunk)
            ]
        );

        // A Contact elsewhere than a trunk gets nothing.
        let elsewhere: SocketAddr = "127.0.0.9:5060".parse().expect("addr");
        assert!(matches!(
            sbc.end_interrupted(&dialog(trunk, elsewhere)),
            Err(SbcError::NotATrunk(a)) if a == elsewhere
        ));
        // Neither does a trunk removed since.
        sbc.set_trunks(Vec::new()).await.expect("no trunks");
        assert!(matches!(
            sbc.end_interrupted(&dialog(trunk, trunk)),
            Err(SbcError::NotATrunk(a)) if a == trunk
        ));
        let quiet = tokio::time::timeout(Duration::from_millis(300), peer.recv_from(&mut buf));
        assert!(quiet.await.is_err(), "no traffic to a removed trunk");
    })
    .await
    .expect("in time");
}
