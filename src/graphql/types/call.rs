//! A recorded call as GraphQL shows it: what `GET /v1/calls/{id}` returns (the audio itself is
//! downloaded over REST, with range requests). Built by destructuring the store's `Call`, so a
//! field added there fails to compile here until GraphQL shows it too.

use async_graphql::SimpleObject;
use jiff::Timestamp;

use super::enums::Direction;
use crate::domain::call_quality::{self, QualityFlags};
use crate::store::calls;

/// A recorded call of the tenant.
#[derive(SimpleObject)]
pub struct Call {
    pub id: String,
    pub direction: Direction,
    pub customer_id: Option<String>,
    pub agent: Option<String>,
    pub incident_id: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    /// sha256 of the original audio as uploaded.
    pub sha256: String,
    /// Bytes of the original audio.
    pub size: i64,
    pub media_type: String,
    pub format: String,
    pub codec: String,
    pub duration_secs: f64,
    pub sample_rate: i64,
    pub channels: i64,
    pub quality: CallQuality,
    /// Speech-to-text: `pending`, `running`, `done`, `failed`, `cancelled` or `not_requested`
    /// (the transcript itself is at `GET /v1/calls/{id}/transcript`).
    pub transcription: String,
    /// Share transcribed so far, 0 to 1.
    pub transcription_progress: f64,
    /// Why the transcription failed.
    pub transcription_error: Option<String>,
    /// The job transcribing the call.
    pub transcription_job_id: Option<String>,
    /// Language of the transcript (ISO 639-1).
    pub language: Option<String>,
    /// The recording is kept at least until then.
    pub retention_until: Timestamp,
    pub created_at: Timestamp,
}

/// Call-quality metrics measured on the decoded audio at upload.
#[derive(SimpleObject)]
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
    /// Low SNR, clipping, or too quiet.
    pub poor_audio: bool,
    /// A silence at least the tenant's `long_hold_secs` long.
    pub long_hold: bool,
    /// A silence at least the tenant's `dead_air_secs` long.
    pub dead_air: bool,
}

impl From<calls::Call> for Call {
    fn from(call: calls::Call) -> Self {
        let calls::Call {
            id,
            direction,
            customer_id,
            agent,
            incident_id,
            started_at,
            ended_at,
            sha256,
            size,
            media_type,
            format,
            codec,
            duration_secs,
            sample_rate,
            channels,
            quality,
            transcription,
            transcription_progress,
            transcription_error,
            transcription_job_id,
            language,
            retention_until,
            created_at,
        } = call;
        let call_quality::CallQuality {
            duration_secs: measured_secs,
            speech_ratio,
            longest_silence_secs,
            clipping_ratio,
            rms_dbfs,
            loudness_lufs,
            snr_db,
            flags:
                QualityFlags {
                    poor_audio,
                    long_hold,
                    dead_air,
                },
        } = quality;
        Call {
            id,
            direction: direction.into(),
            customer_id,
            agent,
            incident_id,
            started_at,
            ended_at,
            sha256,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            media_type,
            format,
            codec,
            duration_secs,
            sample_rate: i64::from(sample_rate),
            channels: i64::from(channels),
            quality: CallQuality {
                duration_secs: measured_secs,
                speech_ratio,
                longest_silence_secs,
                clipping_ratio,
                rms_dbfs,
                loudness_lufs,
                snr_db,
                poor_audio,
                long_hold,
                dead_air,
            },
            transcription,
            transcription_progress,
            transcription_error,
            transcription_job_id,
            language,
            retention_until,
            created_at,
        }
    }
}
