//! Call-quality metrics over a recording's decoded mono samples, computed as the audio streams
//! by (nothing but one energy value per 20 ms frame is kept), and the flags a tenant's thresholds
//! raise on them.
//!
//! Definitions (also in the README):
//! - **frame energy**: mean square of a 20 ms frame, in dBFS (a full-scale square wave is 0 dBFS).
//! - **speech** (energy VAD): a frame more than [`SPEECH_MARGIN_DB`] above the adaptive noise floor
//!   and above [`ABSOLUTE_FLOOR_DBFS`]. The floor starts at the 10th percentile of the call's frame
//!   energies, follows any quieter frame down at once and rises by at most 0.5 dB/s, so it tracks
//!   line noise that changes during the call without being dragged up by speech.
//! - **speech ratio**: speech frames over all frames; **longest silence**: the longest run of
//!   non-speech frames, in seconds (held calls without music and dead air both look like this).
//! - **clipping ratio**: samples at or beyond 0.999 of full scale over all samples.
//! - **RMS**: of the whole call in dBFS (a full-scale sine is -3 dBFS); **loudness**: integrated
//!   loudness per EBU R 128 / ITU-R BS.1770 in LUFS (`ebur128`), none for a silent call.
//! - **SNR**: mean energy of speech frames over mean energy of non-speech frames (or of the noise
//!   floor when the call has no pause), in dB; none when there is no speech.

use serde::{Deserialize, Serialize};

use super::recordings::QualityThresholds;

/// Frame length for the energy VAD.
pub const FRAME_SECS: f64 = 0.020;
/// How far above the noise floor a frame must be to count as speech.
pub const SPEECH_MARGIN_DB: f64 = 10.0;
/// Frames quieter than this are never speech.
pub const ABSOLUTE_FLOOR_DBFS: f64 = -60.0;
/// How fast the noise floor may rise, in dB per second.
const FLOOR_RISE_DB_PER_SEC: f64 = 0.5;
/// Energies are clamped here so digital silence stays finite.
const MIN_DB: f64 = -120.0;
const CLIP_LEVEL: f32 = 0.999;

/// What was measured on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallQuality {
    pub duration_secs: f64,
    pub speech_ratio: f64,
    pub longest_silence_secs: f64,
    pub clipping_ratio: f64,
    pub rms_dbfs: f64,
    /// Integrated loudness (EBU R 128); null when the call is silent.
    pub loudness_lufs: Option<f64>,
    /// Speech-to-noise ratio in dB; null when no speech was found.
    pub snr_db: Option<f64>,
    pub flags: QualityFlags,
}

/// Flags raised by the tenant's thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityFlags {
    /// Low SNR, clipping, or too quiet.
    pub poor_audio: bool,
    /// A silence at least `long_hold_secs` long.
    pub long_hold: bool,
    /// A silence at least `dead_air_secs` long.
    pub dead_air: bool,
}

/// Accumulates samples as they are decoded.
pub struct QualityAnalyzer {
    sample_rate: u32,
    frame_len: usize,
    frame_sum: f64,
    frame_fill: usize,
    /// Energy of every complete frame, in dB.
    frames: Vec<f32>,
    total_square: f64,
    samples: u64,
    clipped: u64,
    loudness: Option<ebur128::EbuR128>,
}

fn db(power: f64) -> f64 {
    if power > 0.0 {
        (10.0 * power.log10()).max(MIN_DB)
    } else {
        MIN_DB
    }
}

fn power(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

impl QualityAnalyzer {
    pub fn new(sample_rate: u32) -> Self {
        let sample_rate = sample_rate.max(1);
        Self {
            sample_rate,
            frame_len: ((f64::from(sample_rate) * FRAME_SECS).round() as usize).max(1),
            frame_sum: 0.0,
            frame_fill: 0,
            frames: Vec::new(),
            total_square: 0.0,
            samples: 0,
            clipped: 0,
            // BS.1770 filters are defined for real audio rates; below that, no loudness.
            loudness: ebur128::EbuR128::new(1, sample_rate, ebur128::Mode::I).ok(),
        }
    }

    /// Adds mono samples in [-1, 1].
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            let s = if s.is_finite() { s } else { 0.0 };
            let square = f64::from(s) * f64::from(s);
            self.total_square += square;
            self.frame_sum += square;
            self.frame_fill += 1;
            if s.abs() >= CLIP_LEVEL {
                self.clipped += 1;
            }
            if self.frame_fill == self.frame_len {
                self.frames
                    .push(db(self.frame_sum / self.frame_len as f64) as f32);
                self.frame_sum = 0.0;
                self.frame_fill = 0;
            }
        }
        self.samples += samples.len() as u64;
        if let Some(meter) = &mut self.loudness {
            let clean: Vec<f32> = samples
                .iter()
                .map(|s| if s.is_finite() { *s } else { 0.0 })
                .collect();
            if meter.add_frames_f32(&clean).is_err() {
                self.loudness = None;
            }
        }
    }

    /// The metrics, with flags from `thresholds`.
    pub fn finish(self, thresholds: &QualityThresholds) -> CallQuality {
        let frame_secs = self.frame_len as f64 / f64::from(self.sample_rate);
        let speech = classify(&self.frames, frame_secs);
        let (mut speech_power, mut speech_n, mut quiet_power, mut quiet_n) = (0.0, 0, 0.0, 0);
        let mut floor_power = 0.0;
        let (mut run, mut longest) = (0usize, 0usize);
        for (energy, (is_speech, floor)) in self.frames.iter().zip(&speech) {
            floor_power += power(*floor);
            if *is_speech {
                speech_power += power(f64::from(*energy));
                speech_n += 1;
                run = 0;
            } else {
                quiet_power += power(f64::from(*energy));
                quiet_n += 1;
                run += 1;
                longest = longest.max(run);
            }
        }
        let frames = self.frames.len().max(1) as f64;
        let noise = if quiet_n > 0 {
            quiet_power / f64::from(quiet_n)
        } else {
            floor_power / frames
        };
        let snr_db = (speech_n > 0)
            .then(|| (db(speech_power / f64::from(speech_n)) - db(noise)).clamp(0.0, 100.0));
        let samples = self.samples.max(1) as f64;
        let loudness_lufs = self
            .loudness
            .as_ref()
            .and_then(|m| m.loudness_global().ok())
            .filter(|l| l.is_finite());
        let mut quality = CallQuality {
            duration_secs: self.samples as f64 / f64::from(self.sample_rate),
            speech_ratio: speech_n as f64 / frames,
            longest_silence_secs: longest as f64 * frame_secs,
            clipping_ratio: self.clipped as f64 / samples,
            rms_dbfs: db(self.total_square / samples),
            loudness_lufs,
            snr_db,
            flags: QualityFlags::default(),
        };
        quality.flags = flags(&quality, thresholds);
        quality
    }
}

/// For each frame: is it speech, and the noise floor (dB) it was judged against.
fn classify(frames: &[f32], frame_secs: f64) -> Vec<(bool, f64)> {
    if frames.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f32> = frames.to_vec();
    sorted.sort_by(f32::total_cmp);
    let mut floor = f64::from(sorted[sorted.len() / 10]);
    let rise = FLOOR_RISE_DB_PER_SEC * frame_secs;
    frames
        .iter()
        .map(|&energy| {
            let energy = f64::from(energy);
            floor = (floor + rise).min(energy);
            let speech = energy > floor + SPEECH_MARGIN_DB && energy > ABSOLUTE_FLOOR_DBFS;
            (speech, floor)
        })
        .collect()
}

/// The flags `thresholds` raise on `quality`.
pub fn flags(quality: &CallQuality, thresholds: &QualityThresholds) -> QualityFlags {
    let quiet = quality
        .loudness_lufs
        .is_none_or(|l| l < thresholds.min_loudness_lufs);
    let noisy = quality.snr_db.is_none_or(|s| s < thresholds.min_snr_db);
    QualityFlags {
        poor_audio: quiet || noisy || quality.clipping_ratio > thresholds.max_clipping_ratio,
        long_hold: quality.longest_silence_secs >= thresholds.long_hold_secs,
        dead_air: quality.longest_silence_secs >= thresholds.dead_air_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise, uniform in [-a, a] (power a²/3).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self, a: f32) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (self.0 >> 40) as f32 / (1u64 << 24) as f32;
            (unit * 2.0 - 1.0) * a
        }
    }

    fn tone(rate: u32, secs: f64, amplitude: f32) -> impl Iterator<Item = f32> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n).map(move |i| {
            amplitude * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin()
        })
    }

    fn analyze(rate: u32, samples: &[f32]) -> CallQuality {
        let mut analyzer = QualityAnalyzer::new(rate);
        // Several pushes, as a decoder would send them.
        for chunk in samples.chunks(1_000) {
            analyzer.push(chunk);
        }
        analyzer.finish(&QualityThresholds::default())
    }

    #[test]
    fn speech_silence_and_snr_of_tone_bursts_in_noise() {
        let rate = 16_000;
        // Noise of power 5e-5 (-43 dBFS); tone of power 5e-3 (-23 dBFS): SNR 20 dB.
        let a = (3.0f32 * 5e-5).sqrt();
        let mut noise = Noise(7);
        let mut signal = Vec::new();
        let silence = |secs: f64| (0..(rate as f64 * secs) as usize).map(|_| 0.0f32);
        signal.extend(tone(rate, 2.0, 0.1));
        signal.extend(silence(12.0));
        signal.extend(tone(rate, 2.0, 0.1));
        signal.extend(silence(4.0));
        for s in &mut signal {
            *s += noise.next(a);
        }
        let q = analyze(rate, &signal);
        assert!((q.duration_secs - 20.0).abs() < 1e-9, "{q:?}");
        assert!((q.speech_ratio - 0.2).abs() < 0.01, "{q:?}");
        assert!((q.longest_silence_secs - 12.0).abs() < 0.05, "{q:?}");
        let snr = q.snr_db.unwrap();
        assert!((snr - 20.0).abs() < 1.0, "{q:?}");
        assert_eq!(q.clipping_ratio, 0.0);
        // 12 s of silence is dead air (10 s) but not a long hold (60 s).
        assert_eq!(
            q.flags,
            QualityFlags {
                poor_audio: false,
                long_hold: false,
                dead_air: true
            }
        );
    }

    #[test]
    fn low_snr_is_poor_audio() {
        let rate = 8_000;
        // Tone 5 dB over the noise: speech frames barely clear the floor, SNR far below 15 dB.
        let a = (3.0f32 * 5e-3 / 3.16).sqrt();
        let mut noise = Noise(3);
        let mut signal: Vec<f32> = tone(rate, 3.0, 0.1).collect();
        signal.extend((0..rate * 3).map(|_| 0.0));
        for s in &mut signal {
            *s += noise.next(a);
        }
        let q = analyze(rate, &signal);
        assert!(q.flags.poor_audio, "{q:?}");
    }

    #[test]
    fn rms_loudness_and_clipping_of_known_signals() {
        // A full-scale sine is -3.01 dBFS RMS; at -20 dBFS peak a 997 Hz sine is -23 LUFS.
        let full: Vec<f32> = tone(48_000, 5.0, 1.0).collect();
        let q = analyze(48_000, &full);
        assert!((q.rms_dbfs + 3.01).abs() < 0.05, "{q:?}");
        let quiet: Vec<f32> = tone(48_000, 5.0, 0.1).collect();
        let q = analyze(48_000, &quiet);
        assert!((q.loudness_lufs.unwrap() + 23.0).abs() < 0.3, "{q:?}");
        let q16: Vec<f32> = tone(16_000, 5.0, 0.1).collect();
        let q = analyze(16_000, &q16);
        assert!((q.loudness_lufs.unwrap() + 23.0).abs() < 1.0, "{q:?}");
        // A sine of amplitude 2 clipped at full scale: |sin| ≥ 0.5 two thirds of the time.
        let clipped: Vec<f32> = tone(16_000, 2.0, 2.0).map(|s| s.clamp(-1.0, 1.0)).collect();
        let q = analyze(16_000, &clipped);
        assert!((q.clipping_ratio - 2.0 / 3.0).abs() < 0.01, "{q:?}");
        assert!(q.flags.poor_audio);
    }

    #[test]
    fn digital_silence_has_no_speech_and_long_silence_flags() {
        let q = analyze(8_000, &vec![0.0; 8_000 * 70]);
        assert_eq!(q.speech_ratio, 0.0);
        assert_eq!(q.snr_db, None);
        assert_eq!(q.loudness_lufs, None);
        assert!((q.longest_silence_secs - 70.0).abs() < 0.05);
        assert!(q.flags.poor_audio && q.flags.long_hold && q.flags.dead_air);
        let empty = analyze(8_000, &[]);
        assert_eq!(empty.duration_secs, 0.0);
    }
}
