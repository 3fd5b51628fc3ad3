//! Web Audio for one call: the local ringback tone (played while the callee rings and sends no
//! early media) and the microphone level meter.
//!
//! The `AudioContext` is created when the visitor starts the call, inside their click, so
//! autoplay policies let it sound.

use wasm_bindgen::JsValue;
use web_sys::{AnalyserNode, AudioContext, GainNode, MediaStream, OscillatorNode};

use crate::i18n::Lang;

/// Ringback cadences: frequencies (Hz), seconds on, seconds off. North America (ANSI T1.401):
/// 440 + 480 Hz, 2 s on, 4 s off; Germany and Spain (ETSI TR 101 041): 425 Hz, 1 s on, 4 s
/// (Germany) or 3 s (Spain) off.
const RINGBACK_US: (&[f32], f64, f64) = (&[440.0, 480.0], 2.0, 4.0);
const RINGBACK_DE: (&[f32], f64, f64) = (&[425.0], 1.0, 4.0);
const RINGBACK_ES: (&[f32], f64, f64) = (&[425.0], 1.5, 3.0);
/// How many cadences are scheduled ahead (about 5 minutes: longer than any trunk rings).
const RINGBACK_CYCLES: u32 = 50;
/// Ringback volume: quiet, it is a cue, not an alarm.
const RINGBACK_GAIN: f32 = 0.08;
/// Samples the level meter looks at per update (`AnalyserNode.fftSize`).
const METER_FFT: u32 = 256;

/// The Web Audio graph of one call.
pub(crate) struct CallAudio {
    ctx: AudioContext,
    ringback: Vec<OscillatorNode>,
    analyser: Option<AnalyserNode>,
    samples: Vec<u8>,
}

impl CallAudio {
    /// A context for a call; `None` where Web Audio is unavailable (then there is no ringback
    /// and no meter, and the call works the same).
    pub(crate) fn new() -> Option<CallAudio> {
        let ctx = AudioContext::new().ok()?;
        Some(CallAudio {
            ctx,
            ringback: Vec::new(),
            analyser: None,
            samples: vec![128; METER_FFT as usize],
        })
    }

    /// Starts or stops the ringback tone.
    pub(crate) fn ringback(&mut self, on: bool, lang: Lang) {
        let playing = !self.ringback.is_empty();
        if on == playing {
            return;
        }
        if !on {
            for osc in self.ringback.drain(..) {
                let _ = osc.stop();
                let _ = osc.disconnect();
            }
            return;
        }
        let _ = self.ctx.resume();
        let (freqs, on_s, off_s) = match lang {
            Lang::En => RINGBACK_US,
            Lang::De => RINGBACK_DE,
            Lang::Es => RINGBACK_ES,
        };
        let Ok(gain) = self.cadence(on_s, off_s) else {
            return;
        };
        for &f in freqs {
            if let Ok(osc) = self.ctx.create_oscillator() {
                osc.frequency().set_value(f);
                if osc.connect_with_audio_node(&gain).is_ok() && osc.start().is_ok() {
                    self.ringback.push(osc);
                }
            }
        }
    }

    /// A gain node switched on and off in the ringback cadence, connected to the speakers.
    fn cadence(&self, on_s: f64, off_s: f64) -> Result<GainNode, JsValue> {
        let gain = self.ctx.create_gain()?;
        let g = gain.gain();
        let t0 = self.ctx.current_time();
        g.set_value_at_time(0.0, t0)?;
        for i in 0..RINGBACK_CYCLES {
            let t = t0 + f64::from(i) * (on_s + off_s);
            g.set_value_at_time(RINGBACK_GAIN, t)?;
            g.set_value_at_time(0.0, t + on_s)?;
        }
        gain.connect_with_audio_node(&self.ctx.destination())?;
        Ok(gain)
    }

    /// Feeds the microphone into the level meter.
    pub(crate) fn meter(&mut self, mic: &MediaStream) {
        let Ok(source) = self.ctx.create_media_stream_source(mic) else {
            return;
        };
        let Ok(analyser) = self.ctx.create_analyser() else {
            return;
        };
        analyser.set_fft_size(METER_FFT);
        if source.connect_with_audio_node(&analyser).is_ok() {
            self.analyser = Some(analyser);
        }
    }

    /// The microphone level now, 0–100.
    pub(crate) fn level(&mut self) -> u8 {
        let Some(analyser) = &self.analyser else {
            return 0;
        };
        analyser.get_byte_time_domain_data(&mut self.samples);
        crate::state::level_percent(&self.samples)
    }
}

impl Drop for CallAudio {
    fn drop(&mut self) {
        let _ = self.ctx.close();
    }
}
