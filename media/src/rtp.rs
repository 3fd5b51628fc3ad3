//! Plain RTP (RFC 3550) on the trunk side: just enough parsing and writing to relay G.711 and
//! telephone-events without copying more than once.

/// Fixed RTP header length, bytes (RFC 3550 §5.1).
const HEADER_LEN: usize = 12;

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Payload type (7 bits).
    pub pt: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub seq: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Payload without padding.
    pub payload: &'a [u8],
}

/// Parses an RTP packet; None for RTCP, other versions and truncated or inconsistent packets.
pub fn parse(data: &[u8]) -> Option<RtpPacket<'_>> {
    if data.len() < HEADER_LEN || data[0] >> 6 != 2 {
        return None;
    }
    let pt = data[1] & 0x7f;
    // RTCP multiplexed on the RTP port (RFC 5761 §4): payload types 64–95 with the marker bit.
    if (64..96).contains(&pt) {
        return None;
    }
    let cc = usize::from(data[0] & 0x0f);
    let mut start = HEADER_LEN + 4 * cc;
    if data[0] & 0x10 != 0 {
        let ext = data.get(start..start + 4)?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        start += 4 + 4 * words;
    }
    let mut end = data.len();
    if data[0] & 0x20 != 0 {
        let pad = usize::from(*data.last()?);
        end = end.checked_sub(pad)?;
    }
    if start > end {
        return None;
    }
    Some(RtpPacket {
        pt,
        marker: data[1] & 0x80 != 0,
        seq: u16::from_be_bytes([data[2], data[3]]),
        timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
        ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
        payload: &data[start..end],
    })
}

/// Writes an RTP packet with no CSRCs, extensions or padding.
pub fn write(pt: u8, marker: bool, seq: u16, timestamp: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(0x80);
    out.push((pt & 0x7f) | if marker { 0x80 } else { 0 });
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Maps an incoming stream's sequence numbers and timestamps into one continuous outgoing
/// stream, so a source change on the far side (early media, then answer from another box)
/// looks like one stream to the receiver.
#[derive(Debug, Default, Clone)]
pub struct Rewriter {
    current: Option<Epoch>,
    last_out: Option<(u16, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Epoch {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

/// Timestamp step assumed across a source change: one 20 ms G.711 packet.
const TS_STEP: u32 = 160;

impl Rewriter {
    /// The outgoing (seq, timestamp) for an incoming packet of `ssrc`.
    pub fn rewrite(&mut self, ssrc: u32, seq: u16, timestamp: u32) -> (u16, u32) {
        let epoch = match self.current {
            Some(e) if e.ssrc == ssrc => e,
            _ => {
                let (seq_offset, ts_offset) = match self.last_out {
                    Some((s, t)) => (
                        s.wrapping_add(1).wrapping_sub(seq),
                        t.wrapping_add(TS_STEP).wrapping_sub(timestamp),
                    ),
                    None => (0, 0),
                };
                let e = Epoch {
                    ssrc,
                    seq_offset,
                    ts_offset,
                };
                self.current = Some(e);
                e
            }
        };
        let out = (
            seq.wrapping_add(epoch.seq_offset),
            timestamp.wrapping_add(epoch.ts_offset),
        );
        self.last_out = Some(out);
        out
    }
}

impl Rewriter {
    /// The (seq, timestamp) of a packet we make ourselves (music on hold) `ts_step` after the
    /// last one out; the next incoming packet starts a new epoch right after it, as a source
    /// change would, so the receiver sees one stream throughout.
    pub fn generated(&mut self, ts_step: u32) -> (u16, u32) {
        let out = match self.last_out {
            Some((s, t)) => (s.wrapping_add(1), t.wrapping_add(ts_step)),
            None => (rand::random(), rand::random()),
        };
        self.last_out = Some(out);
        self.current = None;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse_round_trips() {
        let p = write(0, true, 65535, 0xdead_beef, 7, &[1, 2, 3]);
        let r = parse(&p).expect("parse");
        assert_eq!(
            (r.pt, r.marker, r.seq, r.timestamp, r.ssrc, r.payload),
            (0, true, 65535, 0xdead_beef, 7, &[1u8, 2, 3][..])
        );
    }

    #[test]
    fn garbage_rtcp_and_truncation_are_refused() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80; 11]), None);
        assert_eq!(parse(&[0x40; 20]), None);
        let mut rtcp = write(0, false, 1, 1, 1, &[]);
        rtcp[1] = 200; // SR
        assert_eq!(parse(&rtcp), None);
        let mut ext = write(0, false, 1, 1, 1, &[]);
        ext[0] |= 0x10; // extension bit but no extension header
        assert_eq!(parse(&ext), None);
        let mut pad = write(0, false, 1, 1, 1, &[9]);
        pad[0] |= 0x20; // padding count 9 > payload
        assert_eq!(parse(&pad), None);
    }

    #[test]
    fn a_source_change_continues_the_outgoing_stream() {
        let mut r = Rewriter::default();
        assert_eq!(r.rewrite(1, 100, 1000), (100, 1000));
        assert_eq!(r.rewrite(1, 101, 1160), (101, 1160));
        assert_eq!(r.rewrite(2, 5000, 90000), (102, 1320));
        assert_eq!(r.rewrite(2, 5001, 90160), (103, 1480));
        assert_eq!(
            r.rewrite(2, 5001u16.wrapping_add(u16::MAX), 90160),
            (102, 1480)
        );
    }

    #[test]
    fn generated_packets_continue_the_stream_and_relaying_resumes_after_them() {
        let mut r = Rewriter::default();
        assert_eq!(r.rewrite(1, 100, 1000), (100, 1000));
        assert_eq!(r.generated(160), (101, 1160));
        assert_eq!(r.generated(160 * 3), (102, 1640));
        // The same source again: re-anchored after the generated packets, not where it was.
        assert_eq!(r.rewrite(1, 101, 1160), (103, 1800));
        assert_eq!(r.rewrite(1, 102, 1320), (104, 1960));
        // Nothing sent yet: any start will do.
        let mut fresh = Rewriter::default();
        let (s, t) = fresh.generated(160);
        assert_eq!(
            fresh.generated(160),
            (s.wrapping_add(1), t.wrapping_add(160))
        );
    }
}
