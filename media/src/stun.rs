//! The little of STUN (RFC 8489) the media loops read before any call has claimed a
//! datagram: whether it is STUN, and whose ICE check it is. Every call's peer (str0m) does
//! the real work, integrity included; this only picks the one call to hand it to, in O(1),
//! so a flood at the shared port costs one hash lookup per packet whatever the call count.

/// The STUN magic cookie (RFC 8489 §5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// Bytes of the STUN header.
const HEADER: usize = 20;
/// The USERNAME attribute (RFC 8489 §14.3).
const USERNAME: u16 = 0x0006;

/// Whether `data` looks like a STUN message (RFC 8489 §5: the first two bits zero, the magic
/// cookie), not RTP, RTCP or DTLS (RFC 7983 demultiplexing).
pub fn is_stun(data: &[u8]) -> bool {
    data.len() >= HEADER && data[0] < 4 && data[4..8] == MAGIC_COOKIE
}

/// The receiver's ufrag of an ICE connectivity check: the part of USERNAME before the colon
/// (RFC 8445 §7.2.2: `receiver-ufrag:sender-ufrag`), for us the ufrag of our answer.
pub fn receiver_ufrag(data: &[u8]) -> Option<&str> {
    if !is_stun(data) {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let end = data.len().min(HEADER + declared);
    let mut at = HEADER;
    while at + 4 <= end {
        let kind = u16::from_be_bytes([data[at], data[at + 1]]);
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        let value = data.get(at + 4..at + 4 + len)?;
        if kind == USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next().filter(|u| !u.is_empty());
        }
        // Values are padded to a multiple of four bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding request with the given attributes (type, value).
    fn binding(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn the_receiver_ufrag_is_read_past_other_attributes() {
        let check = binding(&[
            (0x8022, b"odd-length software"), // padded
            (USERNAME, b"ourUfrag:browserUfrag"),
            (0x0008, &[0; 20]),
        ]);
        assert!(is_stun(&check));
        assert_eq!(receiver_ufrag(&check), Some("ourUfrag"));
        assert_eq!(
            receiver_ufrag(&binding(&[(0x0024, &[0; 4])])),
            None,
            "no USERNAME"
        );
        assert_eq!(
            receiver_ufrag(&binding(&[(USERNAME, b":x")])),
            None,
            "empty ufrag"
        );
        assert_eq!(receiver_ufrag(&binding(&[(USERNAME, &[0xff, 0xfe])])), None);
    }

    #[test]
    fn truncated_and_lying_lengths_are_safe() {
        let check = binding(&[(USERNAME, b"ourUfrag:browserUfrag")]);
        for cut in 0..check.len() {
            let _ = receiver_ufrag(&check[..cut]);
        }
        let mut lying = check.clone();
        lying[2] = 0xff; // a message length far past the datagram
        assert_eq!(receiver_ufrag(&lying), Some("ourUfrag"));
        let mut attr_lies = check;
        attr_lies[22] = 0xff; // an attribute length past the end
        assert_eq!(receiver_ufrag(&attr_lies), None);
        assert!(!is_stun(b"\x80\x00 not stun at all, an RTP packet"));
    }

    #[test]
    fn only_stun_passes() {
        let mut binding = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        binding.extend([0u8; 12]);
        assert!(is_stun(&binding));
        assert!(!is_stun(&binding[..19]), "shorter than a STUN header");
        let mut dtls = binding.clone();
        dtls[0] = 22; // a DTLS handshake record
        assert!(!is_stun(&dtls));
        let mut rtp = binding.clone();
        rtp[0] = 0x80;
        assert!(!is_stun(&rtp));
        let mut no_cookie = binding;
        no_cookie[4] = 0;
        assert!(!is_stun(&no_cookie));
    }
}
