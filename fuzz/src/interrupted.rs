//! `interrupted_dialog`: rebuilding a crashed call's trunk dialog from its recorded SIP texts
//! (read back from the database), then the BYE the interrupted call's leg sends and what it does with
//! the trunk's answers.

use std::net::SocketAddr;

use c2c_sbc::leg::{Output, TrunkLeg};
use c2c_sbc::interrupted::{RecordedMessage, InterruptedDialog};
use c2c_sbc::sip::{parse_message, Message};

use crate::clock;

/// Separates recorded messages in one input (never part of UTF-8 text).
pub const MESSAGE_SEP: u8 = 0xff;
/// Most outputs drained after one input.
const MAX_OUTPUTS: usize = 64;

/// The peer addresses a timeline may hold, picked by bits 1–2 of a message's first byte.
const PEERS: [&str; 4] = [
    "192.0.2.7:5060",
    "[2001:db8::7]:5061",
    " 192.0.2.8:5070 ",
    "nonsense",
];

/// Messages separated by [`MESSAGE_SEP`]; each one's first byte has the direction (bit 0:
/// sent by us) and the peer (bits 1–2), the rest is its text.
pub fn interrupted_dialog(data: &[u8]) {
    let texts: Vec<(bool, &str, String)> = crate::split_on(data, MESSAGE_SEP)
        .filter_map(|m| {
            let (&flags, text) = m.split_first()?;
            let peer = PEERS[usize::from(flags >> 1) % PEERS.len()];
            Some((
                flags & 1 == 1,
                peer,
                String::from_utf8_lossy(text).into_owned(),
            ))
        })
        .collect();
    let messages: Vec<RecordedMessage<'_>> = texts
        .iter()
        .map(|(sent, peer, text)| RecordedMessage {
            sent: *sent,
            peer,
            text,
        })
        .collect();
    let Ok(d) = InterruptedDialog::rebuild(&messages) else {
        return;
    };
    let _ = d.next_hop();
    let local = SocketAddr::from(([198, 51, 100, 1], 5060));
    let mut leg = TrunkLeg::interrupted(&d, local, clock::base());
    drain(&mut leg);
    // The trunk answers the BYE (or anything else recorded from it).
    for m in messages.iter().filter(|m| !m.sent) {
        if let Ok(msg) = Message::parse(m.text.as_bytes()) {
            if leg.owns(&msg) {
                leg.handle_datagram(msg, d.trunk_addr, clock::at(100));
                drain(&mut leg);
            }
        }
    }
    for ms in [500, 4_000, 32_000, 64_000] {
        leg.handle_timeout(clock::at(ms));
        drain(&mut leg);
    }
}

fn drain(leg: &mut TrunkLeg) {
    for _ in 0..MAX_OUTPUTS {
        match leg.poll_output() {
            Some(Output::Transmit { bytes, .. }) => {
                if let Err(e) = parse_message(&bytes) {
                    panic!("the interrupted call's leg sent a message it cannot parse: {e}");
                }
            }
            Some(Output::Event(_)) => {}
            Some(Output::Timeout(_)) | None => return,
        }
    }
}
