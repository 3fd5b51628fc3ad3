//! Driving a `TrunkLeg` with virtual time: a leg on a documentation trunk, its outputs
//! parsed, and the trunk's responses built from our requests.

use std::net::SocketAddr;
use std::time::Instant;

use c2c_sbc::leg::{LegEvent, LegParams, Output, TrunkLeg};
use c2c_sbc::sdp::{build_offer, MediaOffer};
use c2c_sbc::sip::{self, Message, Method, Request};
use c2c_sbc::trunk::{CallerIdHeader, Transport, TrunkConfig};

/// The trunk's address.
pub const TRUNK: &str = "192.0.2.1:5060";
/// The Contact the trunk answers with.
pub const CONTACT: &str = "192.0.2.7:5099";

/// Parses a socket address.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

/// A UDP call to +15550100 through the trunk, without failover.
pub fn params() -> LegParams {
    LegParams {
        trunk: TrunkConfig {
            name: "main".into(),
            host: "192.0.2.1".into(),
            port: 5060,
            transport: Transport::Udp,
            username: None,
            password: None,
            from_domain: Some("calls.example.com".into()),
            caller_id_header: CallerIdHeader::Both,
            user_phone: true,
            ..TrunkConfig::default()
        },
        trunk_addr: addr(TRUNK),
        local_addr: addr("198.51.100.2:5060"),
        call: super::verified("main", &["+15550100"], false),
        destination: "+15550100".into(),
        context: c2c_sbc::context::CallContext {
            page_url: "https://shop.example/p?a=1\r\nVia: injected".into(),
            referrer: "https://search.example/".into(),
            utm: vec![("source".into(), "mail".into())],
        },
        pinned: false,
        sdp_offer: build_offer(&MediaOffer {
            addr: addr("198.51.100.2:40000"),
            session_id: 1,
            session_version: 1,
        }),
        give_up_after: None,
        networks: c2c_sbc::networks::Networks::any(),
        continues: None,
    }
}

/// What a leg put out, parsed.
#[derive(Default, Debug)]
pub struct Drained {
    pub sent: Vec<(Request, SocketAddr)>,
    pub responses: Vec<(Message, SocketAddr)>,
    pub events: Vec<LegEvent>,
    pub timeout: Option<Instant>,
}

/// Every output of the leg up to its timer.
pub fn drain(leg: &mut TrunkLeg) -> Drained {
    let mut out = Drained::default();
    while let Some(o) = leg.poll_output() {
        match o {
            Output::Transmit { bytes, to } => {
                match sip::parse_message(&bytes).expect("we emit valid SIP") {
                    Message::Request(r) => out.sent.push((r, to)),
                    resp => out.responses.push((resp, to)),
                }
            }
            Output::Event(e) => out.events.push(e),
            Output::Timeout(t) => out.timeout = Some(t),
        }
    }
    out
}

/// A leg started at `now` and the INVITE it sent.
pub fn start(now: Instant) -> (TrunkLeg, Request) {
    let mut leg = TrunkLeg::new(params(), now).expect("leg");
    let mut d = drain(&mut leg);
    assert_eq!(d.sent.len(), 1);
    let (invite, to) = d.sent.remove(0);
    assert_eq!(to, addr(TRUNK));
    (leg, invite)
}

/// A response from the trunk to `req`, with our To tag, Contact and optional SDP/Record-Route.
pub fn reply(req: &Request, status: u16, sdp: bool, record_route: &[&str]) -> Message {
    let tag = if status == 100 {
        None
    } else {
        Some("trunk-tag")
    };
    let mut resp = sip::response_to(req, status, "X", tag);
    resp.headers.push("Contact", format!("<sip:gw@{CONTACT}>"));
    for rr in record_route {
        resp.headers.push("Record-Route", *rr);
    }
    if sdp {
        resp.headers.push("Content-Type", "application/sdp");
        resp.body = build_offer(&MediaOffer {
            addr: addr("203.0.113.5:30000"),
            session_id: 9,
            session_version: 1,
        })
        .into_bytes();
    }
    Message::Response(resp)
}

/// Feeds a message from the trunk and drains the leg.
pub fn feed(leg: &mut TrunkLeg, msg: Message, now: Instant) -> Drained {
    leg.handle_datagram(msg, addr(TRUNK), now);
    drain(leg)
}

/// The CSeq number and method of a request.
pub fn cseq(req: &Request) -> (u32, Method) {
    let c = Message::Request(req.clone()).cseq().expect("cseq");
    (c.number, c.method)
}

/// The top Via branch of a request.
pub fn branch(req: &Request) -> String {
    Message::Request(req.clone())
        .top_via_branch()
        .expect("branch")
}
