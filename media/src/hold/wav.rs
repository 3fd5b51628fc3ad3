//! WAV files for music on hold: RIFF/WAVE, 16-bit integer PCM, mono or stereo, 8 to 48 kHz,
//! decoded to 8 kHz mono. Stereo is the mean of both channels; other rates go through a
//! windowed-sinc low-pass at 3.6 kHz (Blackman window, 24 output samples each side) evaluated
//! at each 8 kHz sampling instant. The audio loops, so the filter wraps around the loop's
//! ends instead of assuming silence there.

/// A WAV file we cannot play, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// No `RIFF....WAVE` header.
    #[error("not a RIFF/WAVE file")]
    NotRiffWave,
    /// No `fmt ` chunk.
    #[error("no fmt chunk: not a usable WAV file")]
    NoFormat,
    /// A `fmt ` chunk too short or inconsistent.
    #[error("malformed fmt chunk")]
    BadFormat,
    /// Not integer PCM (float, A-law, ADPCM, MP3...).
    #[error("not PCM (format tag {0:#06x}): only 16-bit integer PCM is supported")]
    NotPcm(u16),
    /// Other than 16 bits per sample.
    #[error("not PCM 16-bit ({0}-bit samples): only 16-bit integer PCM is supported")]
    Bits(u16),
    /// Other than mono or stereo.
    #[error("{0} channels: only mono or stereo is supported")]
    Channels(u16),
    /// A sample rate outside what we resample.
    #[error("unsupported sample rate {0} Hz: 8000 to 48000 Hz (e.g. 8, 16, 44.1 or 48 kHz)")]
    Rate(u32),
    /// No `data` chunk.
    #[error("no data chunk")]
    NoData,
    /// A data chunk without one whole sample.
    #[error("no audio samples")]
    Empty,
    /// Longer than we keep in memory per campaign.
    #[error("{0} s long: at most {MAX_SECONDS} s")]
    TooLong(u64),
}

/// Longest audio accepted: 10 minutes is 4.8 MB of PCMU, shared by the campaign's calls.
pub const MAX_SECONDS: u64 = 600;
/// Output rate.
const OUT_RATE: u32 = super::RATE;
/// Accepted input rates.
const MIN_RATE: u32 = 8000;
const MAX_RATE: u32 = 48_000;
/// Low-pass cutoff before sampling at 8 kHz (Nyquist 4 kHz; telephony passes 300–3400 Hz).
const CUTOFF_HZ: f64 = 3600.0;
/// Filter half-length in output samples (so the same transition width at every rate).
const HALF_OUT: f64 = 24.0;
/// Most filter phases kept; rates with more fractional positions use the nearest one.
const MAX_PHASES: u64 = 512;

const PCM: u16 = 1;
const EXTENSIBLE: u16 = 0xfffe;

struct Format {
    channels: u16,
    rate: u32,
}

/// Decodes a WAV file to 8 kHz mono samples.
pub(super) fn decode_8k_mono(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotRiffWave);
    }
    let (mut format, mut data) = (None, None);
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() && (format.is_none() || data.is_none()) {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let start = pos + 8;
        // A streaming writer leaves the size unset (0xffffffff) or a copy was cut short:
        // take what is there.
        let end = start.saturating_add(size).min(bytes.len());
        match id {
            b"fmt " if format.is_none() => format = Some(parse_format(&bytes[start..end])?),
            b"data" if data.is_none() => data = Some(&bytes[start..end]),
            _ => {}
        }
        // Chunks are padded to an even length.
        pos = start.saturating_add(size).saturating_add(size & 1);
    }
    let format = format.ok_or(WavError::NoFormat)?;
    let data = data.ok_or(WavError::NoData)?;
    let block = 2 * usize::from(format.channels);
    let frames = data.len() / block;
    if frames == 0 {
        return Err(WavError::Empty);
    }
    if frames as u64 > MAX_SECONDS * u64::from(format.rate) {
        return Err(WavError::TooLong(frames as u64 / u64::from(format.rate)));
    }
    let sample = |b: &[u8]| f32::from(i16::from_le_bytes([b[0], b[1]]));
    let mono: Vec<f32> = data
        .chunks_exact(block)
        .map(|f| match format.channels {
            1 => sample(f),
            _ => (sample(&f[0..2]) + sample(&f[2..4])) * 0.5,
        })
        .collect();
    let out = resample_to_8k(&mono, format.rate);
    Ok(out
        .iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

fn parse_format(b: &[u8]) -> Result<Format, WavError> {
    if b.len() < 16 {
        return Err(WavError::BadFormat);
    }
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let tag = u16_at(0);
    let channels = u16_at(2);
    let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let block_align = u16_at(12);
    let bits = u16_at(14);
    let tag = match tag {
        // WAVE_FORMAT_EXTENSIBLE: the real format is the sub-format GUID's first two bytes.
        EXTENSIBLE if b.len() >= 40 => u16_at(24),
        EXTENSIBLE => return Err(WavError::BadFormat),
        t => t,
    };
    if tag != PCM {
        return Err(WavError::NotPcm(tag));
    }
    if bits != 16 {
        return Err(WavError::Bits(bits));
    }
    if !(1..=2).contains(&channels) {
        return Err(WavError::Channels(channels));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        return Err(WavError::Rate(rate));
    }
    if block_align != 2 * channels {
        return Err(WavError::BadFormat);
    }
    Ok(Format { channels, rate })
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `x` sampled at `rate`, looped, resampled to 8 kHz (see the module documentation).
fn resample_to_8k(x: &[f32], rate: u32) -> Vec<f32> {
    if rate == OUT_RATE || x.is_empty() {
        return x.to_vec();
    }
    let (rate, out_rate) = (u64::from(rate), u64::from(OUT_RATE));
    let ratio = rate as f64 / out_rate as f64;
    // Taps each side, in input samples.
    let half = (HALF_OUT * ratio).ceil() as usize;
    let taps = 2 * half + 1;
    let phases = (out_rate / gcd(rate, out_rate)).min(MAX_PHASES);
    let kernels = kernels(rate, half, phases as usize);
    let len = x.len();
    let n_out = ((len as u64 * out_rate) / rate).max(1) as usize;
    let mut out = Vec::with_capacity(n_out);
    for n in 0..n_out as u64 {
        // The output instant, in input samples: i + frac / out_rate.
        let pos = n * rate;
        let (mut i, frac) = ((pos / out_rate) as usize, pos % out_rate);
        let mut p = ((frac * phases + out_rate / 2) / out_rate) as usize;
        if p == phases as usize {
            (i, p) = (i + 1, 0);
        }
        let h = &kernels[p * taps..(p + 1) * taps];
        let first = i as isize - half as isize;
        let v: f32 = if first >= 0 && first as usize + taps <= len {
            let first = first as usize;
            dot(&x[first..first + taps], h)
        } else {
            h.iter()
                .enumerate()
                .map(|(k, b)| x[(first + k as isize).rem_euclid(len as isize) as usize] * b)
                .sum()
        };
        out.push(v);
    }
    out
}

/// The dot product of two slices of equal length, in eight lanes so it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The low-pass's taps for each fractional position `p / phases`, each normalised to a
/// gain of 1 at DC.
fn kernels(rate: u64, half: usize, phases: usize) -> Vec<f32> {
    use std::f64::consts::PI;
    let fc = CUTOFF_HZ / rate as f64;
    let width = half as f64 + 1.0;
    let taps = 2 * half + 1;
    let mut out = Vec::with_capacity(phases * taps);
    for p in 0..phases {
        let frac = p as f64 / phases as f64;
        let start = out.len();
        for k in 0..taps {
            let t = k as f64 - half as f64 - frac;
            let x = 2.0 * fc * t;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (PI * x).sin() / (PI * x)
            };
            let u = (t + width) / (2.0 * width);
            let window = 0.42 - 0.5 * (2.0 * PI * u).cos() + 0.08 * (4.0 * PI * u).cos();
            out.push(sinc * window);
        }
        let sum: f64 = out[start..].iter().sum();
        for v in &mut out[start..] {
            *v /= sum;
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}
