//! `stun`: what the media loops do with every datagram arriving on the shared WebRTC port
//! (`loops.rs`): from a new address, `media::stun::receiver_ufrag` (the USERNAME read that
//! picks the call, `is_stun` inside it), then that peer's own check (`accepts`, str0m's STUN
//! parser and integrity check), then the datagram fed to the peer.

use std::net::SocketAddr;

use aws_lc_rs::hmac;
use c2c_media::peer::PeerOutput;
use c2c_media::stun::{is_stun, receiver_ufrag};

use crate::{clock, peer};

/// Separates datagrams in one input.
pub const DATAGRAM_SEP: &[u8] = b"\xff\xfeDG";
/// STUN magic cookie (RFC 5389 §6).
const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Most outputs drained after one input.
const MAX_OUTPUTS: usize = 256;

/// Mode bit: wrap the first datagram as a Binding request naming our peer's ufrag.
pub const WRAP: u8 = 1;
/// Mode bit: also append MESSAGE-INTEGRITY (our ICE password) and FINGERPRINT.
pub const SIGN: u8 = 2;
/// Mode bit: the datagrams come from an address that is not the browser's candidate.
pub const ELSEWHERE: u8 = 4;

/// Byte 0 is the mode; the rest is datagrams separated by [`DATAGRAM_SEP`]. With [`WRAP`],
/// the first one is a transaction id (12 bytes) and STUN attributes to put after USERNAME.
pub fn stun(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (mut p, ufrag, pwd) = peer::answered(clock::base());
    let from: SocketAddr = if mode & ELSEWHERE != 0 {
        SocketAddr::from(([198, 51, 100, 9], 61000))
    } else {
        peer::browser()
    };
    let mut known = false;
    for (i, raw) in split(rest, DATAGRAM_SEP).into_iter().enumerate() {
        let now = clock::at(i as u64 * 20);
        let built;
        let datagram = if i == 0 && mode & WRAP != 0 {
            let username = format!("{ufrag}:{}", peer::REMOTE_UFRAG);
            built = binding_request(raw, &username, (mode & SIGN != 0).then_some(pwd.as_str()));
            &built[..]
        } else {
            raw
        };
        let stun = is_stun(datagram);
        if stun {
            assert!(datagram.len() >= 20, "a STUN header is 20 bytes");
        }
        let named = receiver_ufrag(datagram);
        if named.is_some() {
            assert!(stun, "only STUN names a ufrag");
        }
        // As `read_webrtc`: an unknown address is opened only by a check naming our ufrag
        // that our peer accepts.
        if !known {
            if named != Some(p.local_ufrag()) || !p.accepts(from, datagram, now) {
                continue;
            }
            known = true;
        }
        p.handle_datagram(from, datagram, now);
        drain(&mut p);
        p.handle_timeout(now);
        drain(&mut p);
    }
}

fn drain(p: &mut c2c_media::peer::BrowserPeer) {
    for _ in 0..MAX_OUTPUTS {
        if matches!(
            p.poll_output(),
            PeerOutput::Timeout(_) | PeerOutput::Disconnected
        ) {
            return;
        }
    }
}

/// `data` cut at every `sep`.
pub fn split<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(at) = data.windows(sep.len()).position(|w| w == sep) {
        out.push(&data[..at]);
        data = &data[at + sep.len()..];
    }
    out.push(data);
    out
}

/// A Binding request: transaction id and attributes from `body`, USERNAME first, then
/// MESSAGE-INTEGRITY and FINGERPRINT when a password is given (RFC 5389 §15.4, §15.5).
pub fn binding_request(body: &[u8], username: &str, pwd: Option<&str>) -> Vec<u8> {
    let (txid, attrs) = body.split_at(body.len().min(12));
    let mut msg = vec![0x00, 0x01, 0, 0];
    msg.extend_from_slice(&COOKIE);
    msg.extend_from_slice(txid);
    msg.resize(20, 0);
    push_attr(&mut msg, 0x0006, username.as_bytes());
    msg.extend_from_slice(attrs);
    if let Some(pwd) = pwd {
        // The length covers the attribute being added, as the receiver recomputes it.
        set_length(&mut msg, 24);
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, pwd.as_bytes());
        let tag = hmac::sign(&key, &msg);
        push_attr(&mut msg, 0x0008, tag.as_ref());
        set_length(&mut msg, 8);
        let crc = crc32(&msg) ^ 0x5354_554e;
        push_attr(&mut msg, 0x8028, &crc.to_be_bytes());
    }
    set_length(&mut msg, 0);
    msg
}

fn push_attr(msg: &mut Vec<u8>, kind: u16, value: &[u8]) {
    msg.extend_from_slice(&kind.to_be_bytes());
    msg.extend_from_slice(&(value.len() as u16).to_be_bytes());
    msg.extend_from_slice(value);
    msg.resize(msg.len().div_ceil(4) * 4, 0);
}

/// Sets the header's length field to the attributes so far plus `extra` bytes.
fn set_length(msg: &mut [u8], extra: usize) {
    let len = (msg.len() - 20 + extra) as u16;
    msg[2..4].copy_from_slice(&len.to_be_bytes());
}

/// CRC-32 (IEEE 802.3), as the STUN FINGERPRINT uses.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
