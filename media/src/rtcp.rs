//! RTCP sender and receiver reports from the trunk (RFC 3550 §6.4): what it says about the
//! stream we send it (loss, jitter) and about its own (packets, octets), for the call record.

/// RTCP version (RFC 3550 §6.4.1).
const VERSION: u8 = 2;
/// Packet type of a sender report (RFC 3550 §6.4.1).
const PT_SR: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
const PT_RR: u8 = 201;
/// Common header plus the sender's SSRC, bytes (RFC 3550 §6.4.1).
const HEADER_LEN: usize = 8;
/// Sender info in an SR: NTP timestamp, RTP timestamp, packet and octet counts (§6.4.1).
const SENDER_INFO_LEN: usize = 20;
/// One report block, bytes (RFC 3550 §6.4.1).
const REPORT_BLOCK_LEN: usize = 24;

/// What the reporter says about one source it receives (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Interarrival jitter, RTP timestamp units.
    pub jitter: u32,
}

/// The reporter's own sending, from an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Packets sent since the start of transmission.
    pub packets: u32,
    /// Payload octets sent since the start of transmission.
    pub octets: u32,
}

/// One SR or RR of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reporter.
    pub ssrc: u32,
    /// Present in a sender report.
    pub sender: Option<SenderInfo>,
    /// What it receives.
    pub blocks: Vec<ReportBlock>,
}

/// Whether a datagram looks like RTCP (version 2, packet type 192–223, RFC 5761 §4).
pub fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 4 && data[0] >> 6 == VERSION && (192..=223).contains(&data[1])
}

/// The SRs and RRs of a compound RTCP packet; other packet types (SDES, BYE, APP, XR) are
/// skipped. None when it is not RTCP or a length does not fit (RFC 3550 §A.2).
pub fn parse(data: &[u8]) -> Option<Vec<Report>> {
    if !is_rtcp(data) {
        return None;
    }
    let mut reports = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let head = rest.get(..4)?;
        if head[0] >> 6 != VERSION {
            return None;
        }
        let count = usize::from(head[0] & 0x1f);
        let pt = head[1];
        let len = (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1) * 4;
        let packet = rest.get(..len)?;
        rest = &rest[len..];
        let blocks_at = match pt {
            PT_SR => HEADER_LEN + SENDER_INFO_LEN,
            PT_RR => HEADER_LEN,
            _ => continue,
        };
        let ssrc = be32(packet, 4)?;
        let sender = (pt == PT_SR)
            .then(|| {
                Some(SenderInfo {
                    packets: be32(packet, 20)?,
                    octets: be32(packet, 24)?,
                })
            })
            .flatten();
        if pt == PT_SR && sender.is_none() {
            return None;
        }
        let blocks = (0..count)
            .map(|i| block(packet.get(blocks_at + i * REPORT_BLOCK_LEN..)?))
            .collect::<Option<Vec<_>>>()?;
        reports.push(Report {
            ssrc,
            sender,
            blocks,
        });
    }
    Some(reports)
}

fn block(b: &[u8]) -> Option<ReportBlock> {
    let b = b.get(..REPORT_BLOCK_LEN)?;
    // Cumulative lost is a signed 24-bit number: sign-extend through the top byte.
    let lost = i32::from_be_bytes([b[4], b[5], b[6], b[7]]) << 8 >> 8;
    Some(ReportBlock {
        ssrc: be32(b, 0)?,
        fraction_lost: b[4],
        cumulative_lost: lost,
        jitter: be32(b, 12)?,
    })
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Writes a compound-less SR or RR (tests and tools).
pub fn write(report: &Report) -> Vec<u8> {
    let words = (HEADER_LEN
        + report.sender.map_or(0, |_| SENDER_INFO_LEN)
        + report.blocks.len() * REPORT_BLOCK_LEN)
        / 4
        - 1;
    let mut out = Vec::with_capacity((words + 1) * 4);
    out.push(0x80 | (report.blocks.len() as u8 & 0x1f));
    out.push(if report.sender.is_some() {
        PT_SR
    } else {
        PT_RR
    });
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&report.ssrc.to_be_bytes());
    if let Some(s) = report.sender {
        out.extend_from_slice(&[0; 12]); // NTP and RTP timestamps
        out.extend_from_slice(&s.packets.to_be_bytes());
        out.extend_from_slice(&s.octets.to_be_bytes());
    }
    for b in &report.blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let lost = (b.cumulative_lost as u32) & 0x00ff_ffff;
        out.extend_from_slice(&(u32::from(b.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&[0; 4]); // extended highest sequence number
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&[0; 8]); // LSR, DLSR
    }
    out
}

/// What the trunk's reports said, kept for the call record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrunkReports {
    /// SR and RR packets received from the trunk.
    pub reports: u64,
    /// The trunk's count of packets it sent us (last SR).
    pub packets_sent: u32,
    /// The trunk's count of payload octets it sent us (last SR).
    pub octets_sent: u32,
    /// Packets of our stream the trunk lost, cumulative (last report block about us).
    pub lost: i32,
    /// Fraction of our stream lost in the last interval, in 1/256.
    pub fraction_lost: u8,
    /// Interarrival jitter of our stream at the trunk, RTP timestamp units (8 per ms).
    pub jitter: u32,
}

impl TrunkReports {
    /// Takes in a parsed compound packet; only blocks about `our_ssrc` count as ours.
    pub fn update(&mut self, reports: &[Report], our_ssrc: u32) {
        for r in reports {
            self.reports += 1;
            if let Some(s) = r.sender {
                self.packets_sent = s.packets;
                self.octets_sent = s.octets;
            }
            if let Some(b) = r.blocks.iter().find(|b| b.ssrc == our_ssrc) {
                self.lost = b.cumulative_lost;
                self.fraction_lost = b.fraction_lost;
                self.jitter = b.jitter;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, lost: i32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 12,
            cumulative_lost: lost,
            jitter: 80,
        }
    }

    #[test]
    fn sender_and_receiver_reports_round_trip() {
        let sr = Report {
            ssrc: 7,
            sender: Some(SenderInfo {
                packets: 500,
                octets: 80_000,
            }),
            blocks: vec![block(1, 3), block(2, -2)],
        };
        assert_eq!(parse(&write(&sr)), Some(vec![sr]));
        let rr = Report {
            ssrc: 9,
            sender: None,
            blocks: vec![block(1, 0x7f_ffff)],
        };
        assert_eq!(parse(&write(&rr)), Some(vec![rr]));
    }

    #[test]
    fn compound_packets_skip_sdes_and_bye() {
        let rr = Report {
            ssrc: 9,
            sender: None,
            blocks: vec![block(1, 4)],
        };
        let mut data = write(&rr);
        // SDES with one chunk: SSRC, CNAME "ab", end + padding (RFC 3550 §6.5).
        data.extend_from_slice(&[0x81, 202, 0, 3, 0, 0, 0, 9, 1, 2, b'a', b'b', 0, 0, 0, 0]);
        data.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 9]); // BYE
        assert_eq!(parse(&data), Some(vec![rr]));
    }

    #[test]
    fn truncated_and_foreign_data_is_refused() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0x80, 0, 0, 1]), None); // RTP PCMU
        let sr = write(&Report {
            ssrc: 7,
            sender: Some(SenderInfo {
                packets: 1,
                octets: 1,
            }),
            blocks: vec![block(1, 1)],
        });
        for cut in 1..sr.len() {
            assert_eq!(parse(&sr[..cut]), None, "cut at {cut}");
        }
        let mut lying = sr.clone();
        lying[0] = 0x80 | 5; // claims five blocks in room for one
        assert_eq!(parse(&lying), None);
        let mut short_sr = write(&Report {
            ssrc: 7,
            sender: None,
            blocks: vec![],
        });
        short_sr[1] = PT_SR; // an SR without sender info
        assert_eq!(parse(&short_sr), None);
    }

    #[test]
    fn only_blocks_about_us_are_kept() {
        let mut stats = TrunkReports::default();
        let reports = [Report {
            ssrc: 7,
            sender: Some(SenderInfo {
                packets: 50,
                octets: 8000,
            }),
            blocks: vec![block(99, 40), block(1234, 3)],
        }];
        stats.update(&reports, 1234);
        assert_eq!(
            stats,
            TrunkReports {
                reports: 1,
                packets_sent: 50,
                octets_sent: 8000,
                lost: 3,
                fraction_lost: 12,
                jitter: 80,
            }
        );
    }
}
