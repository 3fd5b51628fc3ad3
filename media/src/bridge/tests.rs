//! Bridge tests: payload-type mapping, RTP timeout, hold and RTCP, all in virtual time.

use super::*;

const BROWSER: BrowserPts = BrowserPts {
    pcmu: 0,
    telephone_event: Some(126),
};

fn trunk(te: Option<u8>) -> TrunkMedia {
    TrunkMedia {
        addr: "127.0.0.1:6000".parse().expect("addr"),
        telephone_event: te,
        receives: true,
        sends: true,
        latch: false,
    }
}

#[test]
fn telephone_events_are_renumbered_both_ways() {
    assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 126), Some(101));
    assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 101), Some(126));
    assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 0), Some(0));
    assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 0), Some(0));
}

#[test]
fn what_the_other_side_did_not_negotiate_is_dropped() {
    assert_eq!(pt_to_trunk(BROWSER, trunk(None), 126), None);
    assert_eq!(
        pt_to_browser(
            BrowserPts {
                pcmu: 0,
                telephone_event: None
            },
            trunk(Some(101)),
            101
        ),
        None
    );
    assert_eq!(pt_to_browser(BROWSER, trunk(Some(101)), 13), None); // CN
    assert_eq!(pt_to_trunk(BROWSER, trunk(Some(101)), 111), None); // opus
}

use std::time::Duration;

use super::super::rtcp::{Report, ReportBlock, SenderInfo};

const OFFER: &str = include_str!("../../tests/fixtures/chromium_offer.sdp");
const TRUNK_ADDR: &str = "127.0.0.1:6000";

fn bridge(rtp_timeout: Option<Duration>, now: Instant) -> Bridge {
    let local: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let (peer, _answer) = BrowserPeer::answer(OFFER, local, now).expect("answer");
    Bridge::new(peer, BridgeConfig { rtp_timeout }, now)
}

fn media(addr: &str, receives: bool, sends: bool) -> TrunkMedia {
    TrunkMedia {
        addr: addr.parse().expect("addr"),
        telephone_event: Some(101),
        receives,
        sends,
        latch: false,
    }
}

/// Runs the bridge in virtual time from `from` to `until`, returning what it asked to send to
/// the trunk and the RTP timeouts it reported, with their times.
fn run(b: &mut Bridge, from: Instant, until: Instant) -> (Vec<SocketAddr>, Vec<(Side, Instant)>) {
    let (mut to_trunk, mut timeouts) = (Vec::new(), Vec::new());
    let mut now = from;
    for _ in 0..1_000_000 {
        match b.poll_output() {
            BridgeOutput::ToTrunk { to, .. } => to_trunk.push(to),
            BridgeOutput::RtpTimeout(side) => timeouts.push((side, now)),
            BridgeOutput::Timeout(at) => {
                if at > until {
                    return (to_trunk, timeouts);
                }
                now = now.max(at);
                b.handle_timeout(now);
            }
            BridgeOutput::BrowserGone => return (to_trunk, timeouts),
            BridgeOutput::ToBrowser { .. } | BridgeOutput::Connected => {}
        }
    }
    panic!("the bridge never settled");
}

#[test]
fn a_silent_browser_ends_the_call_with_an_rtp_timeout() {
    // Shorter than str0m's own give-up on a peer that never ran ICE (15 s), which would
    // report the browser gone instead.
    let limit = Duration::from_secs(10);
    let t0 = Instant::now();
    let mut b = bridge(Some(limit), t0);
    let almost = t0 + limit - Duration::from_millis(1);
    let (_, timeouts) = run(&mut b, t0, almost);
    assert!(timeouts.is_empty(), "{timeouts:?}");
    let (_, timeouts) = run(&mut b, almost, t0 + 2 * limit);
    assert_eq!(timeouts, vec![(Side::Browser, t0 + limit)]);
}

#[test]
fn without_a_limit_silence_is_allowed() {
    let t0 = Instant::now();
    let mut b = bridge(None, t0);
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    b.trunk_answered(t0);
    let (_, timeouts) = run(&mut b, t0, t0 + Duration::from_secs(120));
    assert!(timeouts.is_empty(), "{timeouts:?}");
}

#[test]
fn hold_stops_sending_to_the_trunk_until_unhold() {
    let t0 = Instant::now();
    let step = Duration::from_secs(2);
    let mut b = bridge(None, t0);
    let trunk: SocketAddr = TRUNK_ADDR.parse().expect("addr");
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    b.trunk_answered(t0);
    b.send_dtmf("1", t0).expect("dtmf");
    let (sent, _) = run(&mut b, t0, t0 + step);
    assert!(
        !sent.is_empty() && sent.iter().all(|a| *a == trunk),
        "{sent:?}"
    );

    // RFC 2543 hold (c=0.0.0.0), then RFC 3264 hold (a=sendonly from the trunk): nothing goes out.
    let t1 = t0 + step;
    b.set_trunk_media(media("0.0.0.0:6000", false, false), t1);
    b.send_dtmf("2", t1).expect("dtmf");
    let (sent, _) = run(&mut b, t1, t1 + step);
    assert!(sent.is_empty(), "sent while held: {sent:?}");
    let t2 = t1 + step;
    b.set_trunk_media(media(TRUNK_ADDR, false, true), t2);
    b.send_dtmf("3", t2).expect("dtmf");
    let (sent, _) = run(&mut b, t2, t2 + step);
    assert!(sent.is_empty(), "sent while held: {sent:?}");
    assert!(b.stats().held > 0);

    // Music on hold still comes from the trunk's last real address.
    let moh = rtp::write(0, false, 1, 160, 77, &[0xff; 160]);
    b.handle_trunk(trunk, &moh, t2 + step);
    assert_eq!(b.stats().from_trunk, 1);

    // Unhold: sending resumes, to the real address only.
    let t3 = t2 + step;
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t3);
    b.send_dtmf("4", t3).expect("dtmf");
    let (sent, _) = run(&mut b, t3, t3 + step);
    assert!(
        !sent.is_empty() && sent.iter().all(|a| *a == trunk),
        "{sent:?}"
    );
}

#[test]
fn trunk_rtp_and_rtcp_are_only_taken_from_the_trunk() {
    let t0 = Instant::now();
    let mut b = bridge(None, t0);
    let trunk: SocketAddr = TRUNK_ADDR.parse().expect("addr");
    let packet = rtp::write(0, false, 1, 160, 77, &[0xff; 160]);
    b.handle_trunk(trunk, &packet, t0); // before any SDP: nobody to take it from
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    b.handle_trunk("127.0.0.1:6002".parse().expect("addr"), &packet, t0);
    b.handle_trunk(trunk, &packet, t0);
    let sr = rtcp::write(&Report {
        ssrc: 77,
        sender: Some(SenderInfo {
            packets: 1,
            octets: 160,
        }),
        blocks: vec![],
    });
    b.handle_trunk_rtcp("192.0.2.1:6001".parse().expect("addr"), &sr, t0);
    let stats = b.stats();
    assert_eq!((stats.from_trunk, stats.dropped_foreign), (1, 3));
    assert_eq!(stats.trunk_rtcp.reports, 0);
}

#[test]
fn a_device_behind_nat_is_latched_once_inside_the_scope_and_answered_there() {
    let t0 = Instant::now();
    let scope = LatchScope::new(|ip| ip.to_string().starts_with("198.51.100."));
    let mut b = bridge(None, t0).latching_within(scope);
    // Its SDP names a private address it cannot be reached at.
    let sdp = TrunkMedia {
        latch: true,
        ..media("10.0.0.5:4000", true, true)
    };
    b.set_trunk_media(sdp, t0);
    let packet = rtp::write(0, false, 1, 160, 77, &[0xff; 160]);
    b.handle_trunk("203.0.113.9:5000".parse().expect("addr"), &packet, t0);
    assert_eq!(
        b.stats().dropped_foreign,
        1,
        "outside the scope: never latched"
    );
    let nat: SocketAddr = "198.51.100.7:31000".parse().expect("addr");
    b.handle_trunk(nat, &packet, t0);
    assert_eq!(b.stats().from_trunk, 1, "latched to the NAT's address");
    b.handle_trunk("198.51.100.8:31000".parse().expect("addr"), &packet, t0);
    assert_eq!(
        b.stats().dropped_foreign,
        2,
        "once latched, no other source"
    );
    // A re-INVITE's SDP keeps the latched address.
    b.set_trunk_media(sdp, t0);
    b.handle_trunk(nat, &packet, t0);
    assert_eq!(b.stats().from_trunk, 2);
}

#[test]
fn a_trunk_is_never_latched() {
    let t0 = Instant::now();
    let mut b = bridge(None, t0).latching_within(LatchScope::new(|_| true));
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    let packet = rtp::write(0, false, 1, 160, 77, &[0xff; 160]);
    b.handle_trunk("198.51.100.7:31000".parse().expect("addr"), &packet, t0);
    assert_eq!((b.stats().from_trunk, b.stats().dropped_foreign), (0, 1));
}

#[test]
fn trunk_rtcp_reports_land_in_the_stats() {
    let t0 = Instant::now();
    let mut b = bridge(None, t0);
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    let about_us = ReportBlock {
        ssrc: b.trunk_ssrc(),
        fraction_lost: 25,
        cumulative_lost: 7,
        jitter: 160,
    };
    let sr = rtcp::write(&Report {
        ssrc: 77,
        sender: Some(SenderInfo {
            packets: 250,
            octets: 40_000,
        }),
        blocks: vec![about_us],
    });
    // On the RTCP port (RTP port + 1) ...
    b.handle_trunk_rtcp("127.0.0.1:6001".parse().expect("addr"), &sr, t0);
    let s = b.stats().trunk_rtcp;
    assert_eq!(
        (
            s.reports,
            s.packets_sent,
            s.octets_sent,
            s.lost,
            s.fraction_lost,
            s.jitter
        ),
        (1, 250, 40_000, 7, 25, 160)
    );
    // ... and multiplexed on the RTP port (RFC 5761).
    let rr = rtcp::write(&Report {
        ssrc: 77,
        sender: None,
        blocks: vec![ReportBlock {
            cumulative_lost: 9,
            ..about_us
        }],
    });
    b.handle_trunk(TRUNK_ADDR.parse().expect("addr"), &rr, t0);
    let s = b.stats();
    assert_eq!(
        (s.trunk_rtcp.reports, s.trunk_rtcp.lost, s.from_trunk),
        (2, 9, 0)
    );
}

#[test]
fn gaps_in_the_trunk_stream_count_as_lost_and_forwarded_packets_as_sent() {
    let t0 = Instant::now();
    let mut b = bridge(None, t0);
    b.set_trunk_media(media(TRUNK_ADDR, true, true), t0);
    let trunk: SocketAddr = TRUNK_ADDR.parse().expect("addr");
    // 10, 11, 14: 12 and 13 never came; then the trunk's source changes (a new SSRC).
    for (ssrc, seq) in [(77, 10), (77, 11), (77, 14), (78, 500), (78, 501)] {
        let packet = rtp::write(0, false, seq, u32::from(seq) * 160, ssrc, &[0xff; 160]);
        b.handle_trunk(trunk, &packet, t0);
    }
    let s = b.stats();
    assert_eq!((s.from_trunk, s.lost_from_trunk, s.to_browser), (5, 2, 5));
    assert_eq!(s.lost_from_browser, 0);
}
