//! `sdp`: the trunk's SDP (answers, re-offers, their direction) as the SBC reads it, and the
//! browser's offer as the gateway answers it with str0m.

use c2c::call::trunk_media;
use c2c_media::peer::{BrowserPeer, PeerOutput};
use c2c_sbc::sdp::{offered_direction, parse_answer, parse_offer};

use crate::{clock, peer};

/// Most outputs drained from one peer: str0m's queue is small; more would be a loop.
const MAX_OUTPUTS: usize = 256;

/// One SDP body, read as every side of the product reads one.
pub fn sdp(data: &[u8]) {
    if let Ok(m) = parse_answer(data) {
        assert!(
            !m.addr.ip().is_unspecified(),
            "an answer says where to send"
        );
        let _ = trunk_media(&m);
    }
    if let Ok(m) = parse_offer(data) {
        let t = trunk_media(&m);
        assert_eq!(t.receives, m.receives());
    }
    let _ = offered_direction(data).answer();
    if let Ok(offer) = std::str::from_utf8(data) {
        browser_offer(offer);
    }
}

/// The browser's offer, answered as `call.rs` does, then run for a few virtual seconds.
fn browser_offer(offer: &str) {
    let Ok((mut p, answer)) = BrowserPeer::answer(offer, peer::local(), clock::base()) else {
        return;
    };
    assert!(answer.starts_with("v=0"), "our answer is SDP");
    let _ = p.pts();
    for ms in [0, 20, 1000, 5000] {
        p.handle_timeout(clock::at(ms));
        for _ in 0..MAX_OUTPUTS {
            if matches!(
                p.poll_output(),
                PeerOutput::Timeout(_) | PeerOutput::Disconnected
            ) {
                break;
            }
        }
    }
}
