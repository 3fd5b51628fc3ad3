//! Music on hold: WAV decoding and resampling, the default pattern's spectrum and level, and
//! the player's 20 ms pacing, in virtual time.

use super::*;
use crate::g711::ulaw_decode;

/// A WAV file: `fmt ` (`tag`, `channels`, `rate`, `bits`) then `data`.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    // An unrelated chunk first, with an odd length: it must be skipped with its pad byte.
    out.extend_from_slice(b"LIST");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(b"abc\0");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// 16-bit PCM: `seconds` of `channels` channels at `rate`, sample `f(channel, t)` (full
/// scale 1.0).
fn pcm(rate: u32, channels: u16, seconds: f64, f: impl Fn(u16, f64) -> f64) -> Vec<u8> {
    let n = (f64::from(rate) * seconds) as usize;
    let mut out = Vec::with_capacity(n * 2 * usize::from(channels));
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        for c in 0..channels {
            let v = (f(c, t) * 32767.0).round() as i16;
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

fn sine(freq: f64, amplitude: f64) -> impl Fn(f64) -> f64 {
    move |t| amplitude * (std::f64::consts::TAU * freq * t).sin()
}

/// One loop of the audio decoded back to linear samples, full scale 1.0.
fn decoded(audio: &HoldAudio) -> Vec<f64> {
    audio
        .pcmu_frames()
        .take(audio.frame_count())
        .flatten()
        .map(|b| f64::from(ulaw_decode(*b)) / 32768.0)
        .collect()
}

/// The amplitude of the `freq` component of `x` (8 kHz), by Goertzel.
fn goertzel(x: &[f64], freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / f64::from(RATE);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for v in x {
        let s = v + coeff * s1 - s2;
        (s2, s1) = (s1, s);
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / x.len() as f64
}

fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
}

fn dbfs(v: f64) -> f64 {
    20.0 * v.log10()
}

#[test]
fn an_8khz_mono_wav_is_encoded_sample_for_sample() {
    let data = pcm(8000, 1, 1.0, |_, t| sine(1000.0, 0.5)(t));
    let audio = HoldAudio::from_wav(&wav(1, 1, 8000, 16, &data)).expect("8 kHz mono");
    assert_eq!(audio.frame_count(), 50);
    assert_eq!(audio.duration(), Duration::from_secs(1));
    let expected: Vec<u8> = data
        .chunks_exact(2)
        .map(|b| ulaw_encode(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    let got: Vec<u8> = audio.pcmu_frames().take(50).flatten().copied().collect();
    assert_eq!(got, expected);
    let x = decoded(&audio);
    assert!((goertzel(&x, 1000.0) - 0.5).abs() < 0.02);
}

#[test]
fn a_48khz_stereo_wav_is_mixed_down_and_resampled_without_aliasing() {
    // Left 500 Hz, right 1500 Hz, both carrying 6 kHz, which 8 kHz sampling would fold to
    // 2 kHz unless it is filtered out first.
    let data = pcm(48_000, 2, 1.0, |c, t| {
        let tone = if c == 0 { 500.0 } else { 1500.0 };
        sine(tone, 0.4)(t) + sine(6000.0, 0.4)(t)
    });
    let audio = HoldAudio::from_wav(&wav(1, 2, 48_000, 16, &data)).expect("48 kHz stereo");
    assert_eq!(audio.frame_count(), 50);
    let x = decoded(&audio);
    assert_eq!(x.len(), 8000);
    for f in [500.0, 1500.0] {
        let a = goertzel(&x, f);
        assert!((a - 0.2).abs() < 0.01, "{f} Hz at {a}");
    }
    let alias = goertzel(&x, 2000.0);
    assert!(alias < 0.002, "6 kHz folded to 2 kHz at {alias}");
    // And nothing else: the two tones are all the power there is (µ-law noise aside).
    let rest = (rms(&x).powi(2) - 2.0 * (0.2f64 / 2f64.sqrt()).powi(2)).max(0.0);
    assert!(rest.sqrt() < 0.01, "residue {}", rest.sqrt());
}

#[test]
fn other_rates_resample_to_the_right_length_and_pitch() {
    for rate in [16_000, 44_100, 22_050, 11_025] {
        let data = pcm(rate, 1, 2.0, |_, t| sine(800.0, 0.5)(t));
        let audio = HoldAudio::from_wav(&wav(1, 1, rate, 16, &data)).expect("mono");
        assert_eq!(audio.frame_count(), 100, "{rate} Hz");
        let x = decoded(&audio);
        let a = goertzel(&x[..16_000], 800.0);
        assert!((a - 0.5).abs() < 0.02, "{rate} Hz: 800 Hz at {a}");
    }
}

#[test]
fn wave_format_extensible_pcm_is_accepted() {
    let data = pcm(16_000, 1, 0.1, |_, t| sine(440.0, 0.5)(t));
    let mut file = wav(1, 1, 16_000, 16, &data);
    // Rewrite the fmt chunk as a 40-byte WAVE_FORMAT_EXTENSIBLE one with the PCM sub-format.
    let at = file
        .windows(4)
        .position(|w| w == b"fmt ")
        .expect("fmt chunk");
    let mut fmt = file[at + 8..at + 24].to_vec();
    fmt[0..2].copy_from_slice(&0xfffeu16.to_le_bytes());
    fmt.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    fmt.extend_from_slice(&16u16.to_le_bytes()); // valid bits
    fmt.extend_from_slice(&4u32.to_le_bytes()); // channel mask: front centre
    fmt.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
    ]);
    let mut tail = file.split_off(at);
    let data_chunk = tail.split_off(24);
    file.extend_from_slice(b"fmt ");
    file.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    file.extend_from_slice(&fmt);
    file.extend_from_slice(&data_chunk);
    let audio = HoldAudio::from_wav(&file).expect("extensible PCM");
    assert_eq!(audio.frame_count(), 5);
}

#[test]
fn unusable_wavs_are_refused_with_the_reason() {
    let data = pcm(8000, 1, 0.1, |_, _| 0.0);
    let cases: Vec<(Vec<u8>, WavError)> = vec![
        (b"not a wav at all".to_vec(), WavError::NotRiffWave),
        (b"RIFF\0\0\0\0AVI LIST".to_vec(), WavError::NotRiffWave),
        (wav(3, 1, 8000, 32, &data), WavError::NotPcm(3)),
        (wav(6, 1, 8000, 8, &data), WavError::NotPcm(6)),
        (wav(1, 1, 8000, 8, &data), WavError::Bits(8)),
        (wav(1, 1, 8000, 24, &data), WavError::Bits(24)),
        (wav(1, 3, 8000, 16, &data), WavError::Channels(3)),
        (wav(1, 1, 4000, 16, &data), WavError::Rate(4000)),
        (wav(1, 1, 96_000, 16, &data), WavError::Rate(96_000)),
        (wav(1, 1, 8000, 16, &[]), WavError::Empty),
        (wav(1, 2, 8000, 16, &[1, 2]), WavError::Empty),
    ];
    for (file, expected) in cases {
        assert_eq!(
            HoldAudio::from_wav(&file).map(|a| a.frame_count()),
            Err(expected)
        );
    }
    let riff = wav(1, 1, 8000, 16, &data);
    let fmt_at = riff.windows(4).position(|w| w == b"fmt ").expect("fmt");
    let no_data = riff[..riff.len() - data.len() - 8].to_vec();
    assert_eq!(
        HoldAudio::from_wav(&no_data).map(|_| ()),
        Err(WavError::NoData)
    );
    let mut no_fmt = riff.clone();
    no_fmt[fmt_at..fmt_at + 4].copy_from_slice(b"junk");
    assert_eq!(
        HoldAudio::from_wav(&no_fmt).map(|_| ()),
        Err(WavError::NoFormat)
    );
    let mut short_fmt = riff.clone();
    short_fmt[fmt_at + 4..fmt_at + 8].copy_from_slice(&8u32.to_le_bytes());
    assert!(HoldAudio::from_wav(&short_fmt).is_err());
    // Ten minutes and a second.
    let long = vec![0u8; 2 * 8000 * 601];
    assert_eq!(
        HoldAudio::from_wav(&wav(1, 1, 8000, 16, &long)).map(|_| ()),
        Err(WavError::TooLong(601))
    );
    // The messages say what is wrong.
    assert_eq!(
        WavError::Bits(8).to_string(),
        "not PCM 16-bit (8-bit samples): only 16-bit integer PCM is supported"
    );
    assert!(WavError::Rate(4000).to_string().contains("4000 Hz"));
}

#[test]
fn a_truncated_or_streamed_data_chunk_plays_what_is_there() {
    let data = pcm(8000, 1, 0.5, |_, t| sine(700.0, 0.3)(t));
    let mut file = wav(1, 1, 8000, 16, &data);
    let at = file.len() - data.len() - 4;
    file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let audio = HoldAudio::from_wav(&file).expect("streamed size");
    assert_eq!(audio.frame_count(), 25);
    file.truncate(file.len() - 1001);
    let audio = HoldAudio::from_wav(&file).expect("cut short");
    // 3499 whole samples: 21.9 frames, the last padded.
    assert_eq!(audio.frame_count(), 22);
}

#[test]
fn loading_a_file_names_it_in_the_error() {
    let dir = std::env::temp_dir().join(format!("c2c-media-hold-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let missing = dir.join("missing.wav");
    let e = HoldAudio::load_wav(&missing).expect_err("missing");
    assert!(matches!(e.problem, HoldAudioProblem::Read(_)));
    assert!(e.to_string().contains("missing.wav"), "{e}");

    let bad = dir.join("song.mp3.wav");
    std::fs::write(&bad, b"ID3\x03\0\0\0\0\0\0 pretend mp3").expect("write");
    let e = HoldAudio::load_wav(&bad).expect_err("not a wav");
    assert_eq!(
        e.to_string(),
        format!("music on hold file {}: not a RIFF/WAVE file", bad.display())
    );

    let float = dir.join("float.wav");
    std::fs::write(&float, wav(3, 2, 48_000, 32, &[0; 64])).expect("write");
    let e = HoldAudio::load_wav(&float).expect_err("float");
    assert!(e.to_string().contains("float.wav"), "{e}");
    assert!(e.to_string().contains("not PCM (format tag 0x0003)"), "{e}");

    let good = dir.join("good.wav");
    let data = pcm(16_000, 2, 0.2, |_, t| sine(600.0, 0.3)(t));
    std::fs::write(&good, wav(1, 2, 16_000, 16, &data)).expect("write");
    let audio = HoldAudio::load_wav(&good).expect("good");
    assert_eq!(audio.frame_count(), 10);
    assert!(audio.name().ends_with("good.wav"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_pattern_is_a_soft_arpeggio_with_pauses() {
    let audio = HoldAudio::tones();
    assert!(audio.same(&HoldAudio::default()), "built once, shared");
    assert_eq!(audio.frame_count(), 800);
    assert_eq!(audio.duration(), Duration::from_secs(16));
    let x = decoded(&audio);
    let at = |s: f64| (s * f64::from(RATE)) as usize;

    // Each phrase sounds its chord's four notes: the note's amplitude over the phrase
    // dominates that of frequencies not in it.
    let phrases: [(f64, [f64; 4]); 4] = [
        (0.0, [523.25, 659.26, 783.99, 1046.50]),
        (4.0, [659.26, 880.00, 1046.50, 1318.51]),
        (8.0, [698.46, 880.00, 1046.50, 1396.91]),
        (12.0, [587.33, 783.99, 987.77, 1174.66]),
    ];
    for (start, notes) in phrases {
        let phrase = &x[at(start)..at(start + 2.25)];
        for f in notes {
            let a = goertzel(phrase, f);
            assert!(a > 0.005, "{f} Hz at {start} s: {a}");
            for off in [f * 1.08, f / 1.08] {
                let o = goertzel(phrase, off);
                assert!(
                    o < a / 4.0,
                    "{off} Hz beside {f} Hz at {start} s: {o} vs {a}"
                );
            }
        }
    }
    // Not a call-progress tone: dial (350 + 440), ringback (440 + 480), busy (480 + 620).
    let loud = goertzel(&x, 1046.50);
    for f in [350.0, 440.0, 480.0, 620.0, 425.0] {
        let a = goertzel(&x, f);
        assert!(a < loud / 10.0, "{f} Hz: {a} vs {loud}");
    }

    // Low level, but not silence.
    let peak = x.iter().fold(0f64, |m, v| m.max(v.abs()));
    let level = dbfs(rms(&x));
    assert!(
        dbfs(peak) < -14.0 && dbfs(peak) > -24.0,
        "peak {} dBFS",
        dbfs(peak)
    );
    assert!(level < -28.0 && level > -40.0, "RMS {level} dBFS");

    // Pauses: the last 1.5 s of every phrase's 4 s is (close to) silent, the first second
    // is not.
    for start in [0.0, 4.0, 8.0, 12.0] {
        let sounding = rms(&x[at(start)..at(start + 1.0)]);
        let pause = rms(&x[at(start + 2.4)..at(start + 4.0)]);
        assert!(dbfs(sounding) > -35.0, "{start} s: {}", dbfs(sounding));
        assert!(
            dbfs(pause) < -60.0,
            "pause after {start} s: {}",
            dbfs(pause)
        );
    }
}

#[test]
fn frames_loop_for_ever() {
    let audio = HoldAudio::from_pcm_8k(&[1000; 400], "three frames");
    assert_eq!(audio.frame_count(), 3);
    let frames: Vec<&[u8]> = audio.pcmu_frames().take(7).collect();
    assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
    assert_eq!(frames[0], frames[3]);
    assert_eq!(frames[2], frames[5]);
    // The last is padded with silence: 80 samples of tone, then 80 of µ-law silence.
    assert_eq!(frames[2][79], ulaw_encode(1000));
    assert_eq!(frames[2][80], ULAW_SILENCE);
    let empty = HoldAudio::from_pcm_8k(&[], "nothing");
    assert_eq!(empty.frame_count(), 1);
}

#[test]
fn the_player_sends_one_frame_every_20_ms_once_started() {
    let t0 = Instant::now();
    let audio = HoldAudio::from_pcm_8k(&[500; 480], "three frames");
    let mut p = HoldPlayer::new(audio.clone());
    assert_eq!(p.poll(t0), None, "not started");
    assert_eq!(p.next_timeout(), None);
    let t1 = t0 + Duration::from_millis(333);
    p.start(t1);
    p.start(t1 + Duration::from_millis(7)); // already started: no change
    let mut got = Vec::new();
    let mut now = t1;
    while now < t1 + Duration::from_millis(200) {
        while let Some(f) = p.poll(now) {
            got.push((now - t1, f));
        }
        now += Duration::from_millis(1);
    }
    assert_eq!(got.len(), 10);
    for (i, (at, f)) in got.iter().enumerate() {
        assert_eq!(*at, FRAME_INTERVAL * i as u32);
        assert_eq!(f.marker, i == 0);
        assert_eq!(f.ts_step, 160);
        assert!(
            Arc::ptr_eq(&f.payload, audio.frame(i)),
            "shared, not copied"
        );
    }
    assert_eq!(p.next_timeout(), Some(t1 + Duration::from_millis(200)));
}

#[test]
fn a_stalled_player_skips_the_missed_time_instead_of_bursting() {
    let t0 = Instant::now();
    let mut p = HoldPlayer::new(HoldAudio::tones());
    p.start(t0);
    assert!(p.poll(t0).is_some());
    // 40 ms late: the two frames due are sent back to back.
    let t = t0 + Duration::from_millis(60);
    let burst: Vec<HoldFrame> = std::iter::from_fn(|| p.poll(t)).collect();
    assert_eq!(burst.len(), 3);
    assert!(burst.iter().all(|f| !f.marker && f.ts_step == 160));
    // 500 ms late: one frame, marked, its timestamp 25 frames on; then back on the clock.
    let t = t0 + Duration::from_millis(60 + 500);
    let late: Vec<HoldFrame> = std::iter::from_fn(|| p.poll(t)).collect();
    assert_eq!(late.len(), 1);
    assert!(late[0].marker);
    assert_eq!(late[0].ts_step, 160 * 25);
    assert_eq!(p.next_timeout(), Some(t + FRAME_INTERVAL));
    let next = p.poll(t + FRAME_INTERVAL).expect("on time");
    assert_eq!((next.marker, next.ts_step), (false, 160));
}

#[test]
fn switching_audio_keeps_the_clock_and_restarts_the_music() {
    let t0 = Instant::now();
    let a = HoldAudio::from_pcm_8k(&[100; 1600], "a");
    let b = HoldAudio::from_pcm_8k(&[-3000; 1600], "b");
    let mut p = HoldPlayer::new(a.clone());
    p.start(t0);
    for i in 0..3 {
        assert!(p.poll(t0 + FRAME_INTERVAL * i).is_some());
    }
    p.set_audio(a.clone()); // the same: nothing changes
    p.set_audio(b.clone());
    assert!(p.audio().same(&b));
    let f = p.poll(t0 + FRAME_INTERVAL * 3).expect("due");
    assert!(Arc::ptr_eq(&f.payload, b.frame(0)));
    assert!(!f.marker, "the stream goes on");
}
