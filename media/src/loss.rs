//! Packets lost on the way to us, from RTP sequence numbers (RFC 3550 §6.4.1, appendix A.3):
//! expected (highest extended sequence number − first + 1) minus received, per source.

/// Loss of one incoming direction, across source changes (a new SSRC starts a new count).
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamLoss {
    current: Option<Source>,
    /// Expected and received packets of sources that have been replaced.
    closed_expected: u64,
    closed_received: u64,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    /// Extended sequence numbers (16-bit wraps counted), offset so reordering before the
    /// first packet cannot go below zero.
    first: i64,
    highest: i64,
    received: u64,
}

/// Room below the first packet's extended number for packets reordered before it.
const START: i64 = 1 << 20;

impl StreamLoss {
    /// Counts one packet of `ssrc` with sequence number `seq`.
    pub fn packet(&mut self, ssrc: u32, seq: u16) {
        match &mut self.current {
            Some(s) if s.ssrc == ssrc => {
                // The nearest extension of `seq` to the highest so far (wrap in either direction).
                let delta = i64::from(seq.wrapping_sub(s.highest as u16) as i16);
                let ext = s.highest + delta;
                s.highest = s.highest.max(ext);
                s.first = s.first.min(ext);
                s.received += 1;
            }
            _ => {
                let (expected, received) = self.current.map_or((0, 0), |s| s.counts());
                self.closed_expected += expected;
                self.closed_received += received;
                let ext = START + i64::from(seq);
                self.current = Some(Source {
                    ssrc,
                    first: ext,
                    highest: ext,
                    received: 1,
                });
            }
        }
    }

    /// Packets expected but never received; duplicates never make it negative.
    pub fn lost(&self) -> u64 {
        let (expected, received) = self.current.map_or((0, 0), |s| s.counts());
        (self.closed_expected + expected).saturating_sub(self.closed_received + received)
    }
}

impl Source {
    fn counts(&self) -> (u64, u64) {
        let expected = u64::try_from(self.highest - self.first + 1).unwrap_or(0);
        (expected, self.received)
    }
}

#[cfg(test)]
mod tests {
    use super::StreamLoss;

    fn run(packets: &[(u32, u16)]) -> u64 {
        let mut loss = StreamLoss::default();
        for &(ssrc, seq) in packets {
            loss.packet(ssrc, seq);
        }
        loss.lost()
    }

    #[test]
    fn gaps_count_as_lost_and_nothing_else_does() {
        assert_eq!(run(&[]), 0);
        assert_eq!(run(&[(1, 10), (1, 11), (1, 12)]), 0);
        assert_eq!(run(&[(1, 10), (1, 13), (1, 14)]), 2);
        // Reordered, duplicated: nothing lost.
        assert_eq!(run(&[(1, 10), (1, 12), (1, 11), (1, 12), (1, 13)]), 0);
        // Reordered before the first packet seen.
        assert_eq!(run(&[(1, 10), (1, 8), (1, 11)]), 1);
    }

    #[test]
    fn the_sequence_number_wraps() {
        assert_eq!(run(&[(1, 65_534), (1, 65_535), (1, 0), (1, 1)]), 0);
        assert_eq!(run(&[(1, 65_534), (1, 1)]), 2);
        // Late packet from before the wrap.
        assert_eq!(run(&[(1, 65_535), (1, 1), (1, 0)]), 0);
        let mut long = Vec::new();
        for i in 0..200_000u32 {
            if i % 1000 != 7 {
                long.push((1, (i % 65_536) as u16));
            }
        }
        assert_eq!(run(&long), 200);
    }

    #[test]
    fn a_new_source_starts_its_own_count() {
        // 2 lost from the first source, 1 from the second; the jump between them is no loss.
        let packets = [(1, 100), (1, 103), (2, 5_000), (2, 5_002)];
        assert_eq!(run(&packets), 3);
    }
}
