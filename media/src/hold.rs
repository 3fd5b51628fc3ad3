//! Music on hold toward the browser, made by the gateway: while a call waits in a queue (no
//! agent leg yet, or one still ringing) the visitor hears [`HoldAudio`] instead of whatever the
//! trunk side sends.
//!
//! The audio is encoded to PCMU once, when it is built (at start-up for the default tones,
//! when a campaign loads for a WAV file), into 20 ms frames shared by every call that plays it:
//! sending a frame copies no audio and allocates nothing of ours. [`HoldPlayer`] paces the
//! frames on the call's 20 ms clock, sans-IO like the DTMF sender.
//!
//! # The default pattern ([`HoldAudio::tones`])
//!
//! A slow, soft arpeggio over four chords (I–vi–IV–V in C), one phrase every 4 s, looped every
//! 16 s. Each phrase is four notes 350 ms apart, each note a sine with a faint octave partial,
//! a 10 ms attack and a bell-like decay (time constant 300 ms, cut at 1.2 s), so every phrase
//! rings for 2.25 s and is followed by 1.75 s of silence:
//!
//! | starts at | chord | notes (Hz) |
//! |---|---|---|
//! | 0 s | C | C5 523.25, E5 659.26, G5 783.99, C6 1046.50 |
//! | 4 s | Am | E5 659.26, A5 880.00, C6 1046.50, E6 1318.51 |
//! | 8 s | F | F5 698.46, A5 880.00, C6 1046.50, F6 1396.91 |
//! | 12 s | G | D5 587.33, G5 783.99, B5 987.77, D6 1174.66 |
//!
//! Each note peaks at −20 dBFS (overlapping notes at −17 dBFS); the loop's RMS is −31 dBFS,
//! well below speech. All notes are within 520–1400 Hz, clear of the call-progress
//! tones (350, 440, 480, 620 Hz), so it is not mistaken for a dial tone or ringback.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::g711::{ulaw_encode, ULAW_SILENCE};

mod wav;

pub use wav::{WavError, MAX_SECONDS};

/// Samples per second of PCMU.
pub const RATE: u32 = 8000;
/// Samples (and bytes of PCMU) per 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// One frame's duration.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(20);
/// RTP timestamp units per frame (8 kHz clock).
const TS_PER_FRAME: u32 = FRAME_SAMPLES as u32;
/// A player this late (a stalled loop) skips the missed time instead of bursting frames.
const MAX_LATE: Duration = Duration::from_millis(60);
/// Largest WAV file we read.
pub const MAX_FILE_BYTES: u64 = 128 << 20;

/// Audio played to a waiting visitor: PCMU frames of 20 ms, looped. Cheap to clone (shared).
#[derive(Clone)]
pub struct HoldAudio {
    frames: Arc<[Arc<[u8]>]>,
    name: Arc<str>,
}

impl std::fmt::Debug for HoldAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HoldAudio({}, {} frames, {:?})",
            self.name,
            self.frames.len(),
            self.duration()
        )
    }
}

impl Default for HoldAudio {
    /// The default tone pattern.
    fn default() -> Self {
        HoldAudio::tones()
    }
}

/// A WAV file for music on hold could not be used.
#[derive(Debug, thiserror::Error)]
#[error("music on hold file {}: {problem}", path.display())]
pub struct HoldAudioError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: HoldAudioProblem,
}

/// What is wrong with a music-on-hold file.
#[derive(Debug, thiserror::Error)]
pub enum HoldAudioProblem {
    /// It could not be read.
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    /// It is larger than [`MAX_FILE_BYTES`].
    #[error("{0} bytes is too large (at most {MAX_FILE_BYTES})")]
    TooLarge(u64),
    /// It is not a WAV file we can play.
    #[error(transparent)]
    Wav(#[from] WavError),
}

impl HoldAudio {
    /// The default pattern (see the module documentation); built once per process.
    pub fn tones() -> HoldAudio {
        static TONES: OnceLock<HoldAudio> = OnceLock::new();
        TONES
            .get_or_init(|| HoldAudio::from_pcm_8k(&tone_pattern(), "tones"))
            .clone()
    }

    /// Decodes a WAV file's bytes: 16-bit PCM, mono or stereo, 8 to 48 kHz; stereo is mixed
    /// down and other rates resampled to 8 kHz mono, then encoded to PCMU.
    pub fn from_wav(bytes: &[u8]) -> Result<HoldAudio, WavError> {
        let samples = wav::decode_8k_mono(bytes)?;
        Ok(HoldAudio::from_pcm_8k(&samples, "wav"))
    }

    /// Reads and decodes a WAV file (see [`HoldAudio::from_wav`]); the error names the file
    /// and the problem. Meant to be called once, when a campaign's settings load.
    pub fn load_wav(path: impl AsRef<Path>) -> Result<HoldAudio, HoldAudioError> {
        let path = path.as_ref();
        let fail = |problem| HoldAudioError {
            path: path.to_owned(),
            problem,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| fail(HoldAudioProblem::Read(e)))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(fail(HoldAudioProblem::TooLarge(len)));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(HoldAudioProblem::Read(e)))?;
        let samples = wav::decode_8k_mono(&bytes).map_err(|e| fail(e.into()))?;
        Ok(HoldAudio::from_pcm_8k(
            &samples,
            &path.display().to_string(),
        ))
    }

    /// 8 kHz mono linear samples, encoded to PCMU frames; the last frame is padded with
    /// silence, and no samples at all make one silent frame.
    pub fn from_pcm_8k(samples: &[i16], name: &str) -> HoldAudio {
        let mut frames: Vec<Arc<[u8]>> = samples
            .chunks(FRAME_SAMPLES)
            .map(|chunk| {
                let mut frame = [ULAW_SILENCE; FRAME_SAMPLES];
                for (out, s) in frame.iter_mut().zip(chunk) {
                    *out = ulaw_encode(*s);
                }
                Arc::from(&frame[..])
            })
            .collect();
        if frames.is_empty() {
            frames.push(Arc::from(&[ULAW_SILENCE; FRAME_SAMPLES][..]));
        }
        HoldAudio {
            frames: frames.into(),
            name: name.into(),
        }
    }

    /// The PCMU frames (160 bytes each) in playing order, looped for ever.
    pub fn pcmu_frames(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.frames.iter().map(|f| &f[..]).cycle()
    }

    /// Frames in one loop.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// One loop's duration.
    pub fn duration(&self) -> Duration {
        FRAME_INTERVAL * self.frames.len() as u32
    }

    /// "tones", "wav", or the file it was loaded from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Frame `i` of the loop (wrapping), shared.
    fn frame(&self, i: usize) -> &Arc<[u8]> {
        &self.frames[i % self.frames.len()]
    }

    /// The same audio (one decoding shared), not merely equal.
    pub fn same(&self, other: &HoldAudio) -> bool {
        Arc::ptr_eq(&self.frames, &other.frames)
    }
}

/// One frame to send to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldFrame {
    /// 160 bytes of PCMU, shared with every call playing this audio.
    pub payload: Arc<[u8]>,
    /// Set on the first frame after a gap (hold started, or the loop stalled).
    pub marker: bool,
    /// RTP timestamp units since the previous packet sent to the browser: 160, or more after
    /// a stall whose time was skipped.
    pub ts_step: u32,
}

/// Plays hold audio on a 20 ms clock; `poll(now)` yields each frame when it is due.
#[derive(Debug)]
pub struct HoldPlayer {
    audio: HoldAudio,
    next_frame: usize,
    /// None until started (the browser is not connected yet).
    next_at: Option<Instant>,
    marker: bool,
}

impl HoldPlayer {
    /// A player of `audio`, from its beginning, not started.
    pub fn new(audio: HoldAudio) -> Self {
        HoldPlayer {
            audio,
            next_frame: 0,
            next_at: None,
            marker: true,
        }
    }

    /// Starts the clock: the first frame is due at `now`. Nothing if already started.
    pub fn start(&mut self, now: Instant) {
        self.next_at.get_or_insert(now);
    }

    /// Whether the clock runs.
    pub fn started(&self) -> bool {
        self.next_at.is_some()
    }

    /// Plays `audio` from its beginning on the same clock (the stream goes on, no gap); the
    /// same audio again changes nothing.
    pub fn set_audio(&mut self, audio: HoldAudio) {
        if !self.audio.same(&audio) {
            self.audio = audio;
            self.next_frame = 0;
        }
    }

    /// What it plays.
    pub fn audio(&self) -> &HoldAudio {
        &self.audio
    }

    /// When `poll` next has a frame; None until started.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.next_at
    }

    /// The frame due at `now`, if any; call until None. A player more than three frames late
    /// skips to `now` (one frame, a timestamp jump and the marker) rather than bursting.
    pub fn poll(&mut self, now: Instant) -> Option<HoldFrame> {
        let mut due = self.next_at?;
        if now < due {
            return None;
        }
        let mut ts_step = TS_PER_FRAME;
        let late = now - due;
        if late >= MAX_LATE {
            let missed = (late.as_nanos() / FRAME_INTERVAL.as_nanos()) as u32;
            due += FRAME_INTERVAL * missed;
            ts_step = ts_step.wrapping_add(TS_PER_FRAME.wrapping_mul(missed));
            self.marker = true;
        }
        self.next_at = Some(due + FRAME_INTERVAL);
        let payload = self.audio.frame(self.next_frame).clone();
        self.next_frame = (self.next_frame + 1) % self.audio.frame_count();
        Some(HoldFrame {
            payload,
            marker: std::mem::take(&mut self.marker),
            ts_step,
        })
    }
}

/// One note of the default pattern: onset (s) and frequency (Hz).
type Note = (f32, f32);

/// The default pattern's notes (see the module documentation).
const NOTES: [Note; 16] = [
    // C
    (0.00, 523.25),
    (0.35, 659.26),
    (0.70, 783.99),
    (1.05, 1046.50),
    // Am
    (4.00, 659.26),
    (4.35, 880.00),
    (4.70, 1046.50),
    (5.05, 1318.51),
    // F
    (8.00, 698.46),
    (8.35, 880.00),
    (8.70, 1046.50),
    (9.05, 1396.91),
    // G
    (12.00, 587.33),
    (12.35, 783.99),
    (12.70, 987.77),
    (13.05, 1174.66),
];
/// The pattern's length.
const LOOP_S: f32 = 16.0;
/// Each note's peak, of full scale: −20 dBFS.
const NOTE_PEAK: f32 = 0.1;
/// The octave partial, relative to the note (it decays twice as fast).
const OVERTONE: f32 = 0.15;
const ATTACK_S: f32 = 0.010;
const DECAY_TAU_S: f32 = 0.300;
const NOTE_S: f32 = 1.200;
/// Fade-out at the end of a note, so it stops without a click.
const RELEASE_S: f32 = 0.050;

/// The default pattern as 8 kHz samples.
fn tone_pattern() -> Vec<i16> {
    let len = (LOOP_S * RATE as f32) as usize;
    let mut out = vec![0f32; len];
    let note_len = (NOTE_S * RATE as f32) as usize;
    for &(onset, freq) in &NOTES {
        let start = (onset * RATE as f32).round() as usize;
        for n in 0..note_len {
            let t = n as f32 / RATE as f32;
            let attack = if t < ATTACK_S {
                0.5 - 0.5 * (std::f32::consts::PI * t / ATTACK_S).cos()
            } else {
                1.0
            };
            let decay = (-(t - ATTACK_S).max(0.0) / DECAY_TAU_S).exp();
            let release = ((NOTE_S - t) / RELEASE_S).min(1.0);
            let phase = std::f32::consts::TAU * freq * t;
            let partial = OVERTONE * decay * (2.0 * phase).sin();
            let v = NOTE_PEAK * attack * decay * release * (phase.sin() + partial);
            // A note near the end of the loop would ring into its start.
            out[(start + n) % len] += v;
        }
    }
    out.iter()
        .map(|v| (v * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests;
