//! A tenant's rules for stored recordings and attachments: how long they are kept, and the
//! thresholds that flag a call's audio quality. Part of the tenant settings (`recordings`).

use serde::{Deserialize, Serialize};

use super::validation::Errors;

/// How long stored files are kept and when a call is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingPolicy {
    /// Years a recording or attachment is kept after upload (default 10, 1 to 100).
    pub retention_years: u32,
    pub quality: QualityThresholds,
    /// Language calls are transcribed in: an ISO 639-1 code (default `es`), or `auto` to detect
    /// it from the first words of each call.
    pub language: String,
}

impl Default for RecordingPolicy {
    fn default() -> Self {
        Self {
            retention_years: 10,
            quality: QualityThresholds::default(),
            language: "es".into(),
        }
    }
}

/// Whether `code` has the shape of a Whisper language: `auto`, or two or three lower-case
/// letters (`es`, `pt`, `haw`). Whether Whisper knows it is checked when a call is transcribed.
pub fn is_language_code(code: &str) -> bool {
    code == "auto"
        || ((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase()))
}

/// When a call is flagged. Defaults are documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QualityThresholds {
    /// `poor_audio` below this speech-to-noise ratio in dB (default 15).
    pub min_snr_db: f64,
    /// `poor_audio` above this share of clipped samples (default 0.01 = 1%).
    pub max_clipping_ratio: f64,
    /// `poor_audio` when the integrated loudness is below this, in LUFS (default -45).
    pub min_loudness_lufs: f64,
    /// `dead_air` when one silence lasts at least this many seconds (default 10).
    pub dead_air_secs: f64,
    /// `long_hold` when one silence lasts at least this many seconds (default 60).
    pub long_hold_secs: f64,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self {
            min_snr_db: 15.0,
            max_clipping_ratio: 0.01,
            min_loudness_lufs: -45.0,
            dead_air_secs: 10.0,
            long_hold_secs: 60.0,
        }
    }
}

impl RecordingPolicy {
    pub fn validate(&self, errors: &mut Errors) {
        if !(1..=100).contains(&self.retention_years) {
            errors.add("recordings.retention_years", "must be between 1 and 100");
        }
        if !is_language_code(&self.language) {
            errors.add(
                "recordings.language",
                "must be `auto` or an ISO 639-1 language code such as `es`",
            );
        }
        let q = &self.quality;
        let mut check = |name: &str, value: f64, range: std::ops::RangeInclusive<f64>| {
            if !value.is_finite() || !range.contains(&value) {
                errors.add(
                    format!("recordings.quality.{name}"),
                    format!("must be between {} and {}", range.start(), range.end()),
                );
            }
        };
        check("min_snr_db", q.min_snr_db, 0.0..=60.0);
        check("max_clipping_ratio", q.max_clipping_ratio, 0.0..=1.0);
        check("min_loudness_lufs", q.min_loudness_lufs, -70.0..=0.0);
        check("dead_air_secs", q.dead_air_secs, 1.0..=3_600.0);
        check("long_hold_secs", q.long_hold_secs, 1.0..=36_000.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        let mut errors = Errors::new();
        RecordingPolicy::default().validate(&mut errors);
        assert!(errors.is_empty());
        let mut policy = RecordingPolicy {
            retention_years: 0,
            ..RecordingPolicy::default()
        };
        policy.quality.max_clipping_ratio = 2.0;
        policy.language = "Español".into();
        policy.validate(&mut errors);
        let fields: Vec<_> = errors.into_vec().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "recordings.retention_years",
                "recordings.language",
                "recordings.quality.max_clipping_ratio"
            ]
        );
        assert!(is_language_code("auto") && is_language_code("pt") && !is_language_code("e"));
    }
}
