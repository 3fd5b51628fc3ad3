//! An answered browser peer, as `call.rs` makes one for every call, from the Chromium offer
//! the gateway's own tests use.

use std::net::SocketAddr;
use std::time::Instant;

use c2c_media::peer::BrowserPeer;

/// A real Chromium offer (PCMU, telephone-event, ICE ufrag `abcd`).
pub const CHROMIUM_OFFER: &str = include_str!("../../media/tests/fixtures/chromium_offer.sdp");
/// The offer's ICE ufrag (the remote half of a STUN USERNAME).
pub const REMOTE_UFRAG: &str = "abcd";

/// Our WebRTC socket address.
pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// The browser's address (the offer's host candidate).
pub fn browser() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000))
}

/// A peer that answered the Chromium offer at `now`, with our answer's ICE ufrag and pwd.
pub fn answered(now: Instant) -> (BrowserPeer, String, String) {
    let (peer, answer) = match BrowserPeer::answer(CHROMIUM_OFFER, local(), now) {
        Ok(v) => v,
        Err(e) => panic!("the fixture offer must be answerable: {e}"),
    };
    let attr = |name: &str| -> String {
        answer
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_default()
            .to_owned()
    };
    let (ufrag, pwd) = (attr("a=ice-ufrag:"), attr("a=ice-pwd:"));
    (peer, ufrag, pwd)
}
