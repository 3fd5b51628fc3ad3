//! G.711 µ-law (PCMU), for audio the gateway makes itself (music on hold). Relayed audio is
//! never transcoded: the bridge passes G.711 through untouched.

/// µ-law of silence.
pub const ULAW_SILENCE: u8 = 0xff;

/// Bias added before the segment search (ITU-T G.711, the classic Sun implementation).
const BIAS: i32 = 0x84;
/// Largest magnitude that still fits the top segment once biased.
const CLIP: i32 = 32_635;

/// Encodes one 16-bit linear sample to µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut pcm = i32::from(sample);
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    let pcm = pcm.min(CLIP) + BIAS;
    // Segment: the position of the highest set bit above bit 7 (0 to 7).
    let exponent = (31 - pcm.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (pcm >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Decodes one µ-law byte to a 16-bit linear sample.
pub fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    // At most 32 124: always fits.
    let magnitude = magnitude as i16;
    if u & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_but_negative_zero_round_trips() {
        for b in 0..=255u8 {
            let back = ulaw_encode(ulaw_decode(b));
            // 0x7f is "negative zero": it decodes to 0, which encodes as 0xff.
            let expected = if b == 0x7f { 0xff } else { b };
            assert_eq!(back, expected, "code {b:#04x}");
        }
    }

    #[test]
    fn known_values_of_the_standard_table() {
        assert_eq!(ulaw_encode(0), ULAW_SILENCE);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_encode(-1), 0x7f);
        assert_eq!(ulaw_decode(0x80), 32_124);
        assert_eq!(ulaw_decode(0x00), -32_124);
        assert_eq!(ulaw_decode(0xff), 0);
    }

    #[test]
    fn the_quantisation_error_stays_within_half_a_step() {
        for s in (-32_000..32_000i32).step_by(7) {
            let s = s as i16;
            let back = i32::from(ulaw_decode(ulaw_encode(s)));
            let err = (back - i32::from(s)).abs();
            // A segment starting at 2^(e+7) (biased) has steps of 2^(e+3): half a step is
            // at most a 32nd of the biased magnitude.
            let bound = (i32::from(s).abs() + BIAS) / 32 + 1;
            assert!(err <= bound, "{s} -> {back}");
        }
    }
}
