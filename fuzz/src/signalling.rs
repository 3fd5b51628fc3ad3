//! `signalling_json`: the text frames a browser sends on `/v1/calls/ws`, deserialised into
//! `c2c_wire::ClientMessage` as `call.rs` does, then the checks it runs on them (DTMF digits)
//! and the DTMF sender they reach.

use c2c_media::dtmf::{event_code, DtmfSender, MAX_QUEUED};
use c2c_wire::ClientMessage;

use crate::clock;

/// Packets a sender may yield per queued digit (tone, end repeats) plus slack.
const PACKETS_PER_DIGIT: usize = 16;

/// One WebSocket text frame (the bytes must be UTF-8, as tungstenite guarantees).
pub fn signalling_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let msg = match serde_json::from_str::<ClientMessage>(text) {
        Ok(m) => m,
        Err(e) => {
            // The error text goes back to the browser in a `bad_message` error.
            let _ = e.to_string();
            return;
        }
    };
    let json = match serde_json::to_string(&msg) {
        Ok(j) => j,
        Err(e) => panic!("a client message does not serialise: {e}"),
    };
    assert_eq!(
        serde_json::from_str::<ClientMessage>(&json).ok(),
        Some(msg.clone())
    );
    if let ClientMessage::Dtmf { digits } = msg {
        // `Call::run`: only all-valid digit strings reach the media loop.
        if digits.chars().all(|c| event_code(c).is_ok()) {
            play(&digits);
        }
    }
}

/// Plays digits as the bridge would, every 20 ms until the sender is idle.
fn play(digits: &str) {
    let mut sender = DtmfSender::default();
    let now = clock::base();
    assert!(sender.push(digits, now).is_ok(), "valid digits are queued");
    let mut at = now;
    let limit = digits.chars().count().min(MAX_QUEUED) * PACKETS_PER_DIGIT + 1;
    let mut polls = 0;
    while let Some(next) = sender.next_timeout() {
        at = at.max(next);
        while sender.poll(at).is_some() {}
        polls += 1;
        assert!(polls <= limit, "the sender ends");
    }
}
