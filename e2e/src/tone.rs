//! A test tone as a WAV file, for Chromium's fake microphone.

use std::path::Path;

/// Writes `secs` seconds of a 440 Hz sine at 48 kHz, 16-bit mono, to `path`.
pub fn write_tone_wav(path: &Path, secs: u32) -> std::io::Result<()> {
    let rate = 48_000u32;
    let n = rate * secs;
    let mut data = Vec::with_capacity(44 + 2 * n as usize);
    data.extend_from_slice(b"RIFF");
    data.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    data.extend_from_slice(b"WAVEfmt ");
    data.extend_from_slice(&16u32.to_le_bytes());
    data.extend_from_slice(&1u16.to_le_bytes()); // PCM
    data.extend_from_slice(&1u16.to_le_bytes()); // mono
    data.extend_from_slice(&rate.to_le_bytes());
    data.extend_from_slice(&(rate * 2).to_le_bytes());
    data.extend_from_slice(&2u16.to_le_bytes());
    data.extend_from_slice(&16u16.to_le_bytes());
    data.extend_from_slice(b"data");
    data.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let t = f64::from(i) / f64::from(rate);
        let s = (t * 440.0 * std::f64::consts::TAU).sin() * 0.5 * f64::from(i16::MAX);
        data.extend_from_slice(&(s as i16).to_le_bytes());
    }
    std::fs::write(path, data)
}
