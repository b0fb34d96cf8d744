//! The transcription job of a recorded call: decodes the stored original, keeps the two sides of
//! a stereo call apart, resamples to 16 kHz and runs Whisper window by window (see
//! [`stt::windows`]), saving each window's segments and the progress on the call as it goes. A
//! job stopped by a restart resumes after the last saved window. When it is done, the call's
//! text is stored, and the PQR the call is about is scored again with it.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::MlError;
use super::stt::{self, Options, Transcriber};
use crate::App;
use crate::error::Error;
use crate::jobs::{JobContext, JobError, JobResult};
use crate::store::calls::{self, Call, TranscriptionJob};
use crate::store::jobs::Report;
use crate::store::transcripts::{self, TranscriptSegment, WindowText};

/// The job kind.
pub const TRANSCRIBE_KIND: &str = "transcribe_call";

/// The job to queue for a call, in `language` (an ISO 639-1 code or `auto`).
pub fn job(language: &str) -> TranscriptionJob {
    TranscriptionJob {
        kind: TRANSCRIBE_KIND,
        language: language.to_owned(),
        max_attempts: crate::jobs::MAX_ATTEMPTS,
    }
}

/// Where an interrupted run got to.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The first window (over all channels, in order) not saved yet.
    next: usize,
    /// The language used so far (detected on the first window when `auto` was asked).
    language: Option<String>,
}

fn failed(what: &str) -> impl FnOnce(MlError) -> JobError + '_ {
    move |error| match error {
        MlError::NotInstalled { .. } => JobError::Failed(
            "Whisper base is not installed on this server; run `abcall models install \
             whisper-base` and queue the call again"
                .into(),
        ),
        other => JobError::Failed(format!("{what}: {other}")),
    }
}

fn joined(error: tokio::task::JoinError) -> JobError {
    JobError::from(Error::Internal(format!("transcription task: {error}")))
}

/// The job: transcribes the call named in the payload.
pub async fn run(app: &Arc<App>, ctx: &mut JobContext) -> JobResult {
    let call_id = ctx.payload["call_id"]
        .as_str()
        .ok_or_else(|| JobError::Failed("the transcription job names no call".into()))?
        .to_owned();
    let requested = ctx.payload["language"].as_str().unwrap_or("es").to_owned();
    let call = calls::get(&app.db, &ctx.tenant_id, &call_id).await?;
    let started = Instant::now();
    let models_dir = app.config.models_dir.clone();
    let transcriber = tokio::task::spawn_blocking(move || Transcriber::shared(&models_dir))
        .await
        .map_err(joined)?
        .map_err(failed("loading Whisper"))?;
    ctx.progress(Report {
        message: Some("decoding the recording".into()),
        ..Report::default()
    })
    .await?;
    let channels = decode(app, &call).await?;
    let window_secs = app.config.stt_window_secs;
    let plan: Vec<(u16, usize, stt::windows::Window)> = channels
        .iter()
        .enumerate()
        .flat_map(|(channel, samples)| {
            stt::windows::windows(samples, stt::SAMPLE_RATE, window_secs)
                .into_iter()
                .enumerate()
                .map(move |(index, window)| (channel as u16, index, window))
        })
        .collect();
    let total = plan.len();
    let checkpoint: Checkpoint = ctx
        .checkpoint
        .clone()
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    let resumed_from = checkpoint.next.min(total);
    let mut language = checkpoint
        .language
        .or_else(|| (requested != "auto").then(|| requested.clone()));
    let threads = app.config.stt_threads();
    let mut silent = 0;
    for (unit, (channel, index, window)) in plan.iter().enumerate().skip(resumed_from) {
        let offset_ms = window.samples.start as u64 * 1_000 / u64::from(stt::SAMPLE_RATE);
        let end_ms = window.samples.end as u64 * 1_000 / u64::from(stt::SAMPLE_RATE);
        let segments = if window.speech {
            let samples = channels[usize::from(*channel)][window.samples.clone()].to_vec();
            let options = Options {
                language: language.clone(),
                threads,
                ..Options::default()
            };
            let model = transcriber.clone();
            let transcript =
                tokio::task::spawn_blocking(move || model.transcribe(&samples, &options))
                    .await
                    .map_err(joined)?
                    .map_err(failed("transcribing"))?;
            language.get_or_insert(transcript.language);
            transcript
                .segments
                .into_iter()
                .map(|s| TranscriptSegment {
                    channel: *channel,
                    start_ms: (s.start_ms + offset_ms).min(end_ms),
                    end_ms: (s.end_ms + offset_ms).min(end_ms),
                    text: s.text,
                })
                .collect()
        } else {
            silent += 1;
            Vec::new()
        };
        let done = unit + 1;
        // 1000 only once the whole text is stored.
        let progress_permille = (done * 1_000 / total).min(999) as i64;
        transcripts::save_window(
            &app.db,
            &ctx.tenant_id,
            &call_id,
            &ctx.id,
            &WindowText {
                channel: *channel,
                window: *index,
                segments: &segments,
                progress_permille,
            },
        )
        .await?;
        ctx.progress(Report {
            done: done as i64,
            total: Some(total as i64),
            message: Some(format!("{done} of {total} windows transcribed")),
            checkpoint: Some(json!(Checkpoint {
                next: done,
                language: language.clone(),
            })),
        })
        .await?;
    }
    // A recording without speech, in `auto`: nothing was detected.
    let language = language.unwrap_or_else(|| "und".into());
    let transcript =
        transcripts::finish(&app.db, &call, &ctx.tenant_id, &ctx.id, &language).await?;
    if let Some(incident_id) = &call.incident_id {
        rescore(app, &ctx.tenant_id, incident_id).await?;
    }
    app.live.publish(
        &ctx.tenant_id,
        "call.transcribed",
        json!({
            "id": call_id, "incident_id": call.incident_id, "language": language,
            "segments": transcript.segments.len(),
        }),
    );
    let elapsed = started.elapsed().as_secs_f64();
    Ok(json!({
        "call_id": call_id,
        "language": language,
        "channels": channels.len(),
        "windows": total,
        "silent_windows": silent,
        "resumed_from_window": resumed_from,
        "segments": transcript.segments.len(),
        "audio_secs": call.duration_secs,
        "elapsed_secs": elapsed,
        "real_time_factor": elapsed / call.duration_secs.max(0.001),
    }))
}

/// The call's channels to transcribe, at 16 kHz: the stored original is copied to a temporary
/// file (the decoders read files), decoded, and each speaker channel resampled.
async fn decode(app: &App, call: &Call) -> Result<Vec<Vec<f32>>, JobError> {
    tokio::fs::create_dir_all(&app.staging_dir)
        .await
        .map_err(|e| Error::Internal(format!("creating {}: {e}", app.staging_dir.display())))?;
    let file = tempfile::NamedTempFile::new_in(&app.staging_dir)
        .map_err(|e| Error::Internal(format!("a temporary file for decoding: {e}")))?;
    crate::store::blobs::copy_to_file(app.blobs.as_ref(), &call.sha256, file.path()).await?;
    tokio::task::spawn_blocking(move || {
        let mut head = Vec::with_capacity(64);
        std::fs::File::open(file.path())
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 64), &mut head))
            .map_err(|e| JobError::Failed(format!("reading the recording: {e}")))?;
        let container = crate::audio::sniff(&head).ok_or_else(|| {
            JobError::Failed("the stored recording is not in an accepted format".into())
        })?;
        let (info, channels) =
            crate::audio::decode_channels(file.path(), container).map_err(|e| {
                JobError::Failed(format!("the stored recording cannot be decoded: {e}"))
            })?;
        Ok(stt::speaker_channels(channels)
            .iter()
            .map(|samples| stt::resample(samples, info.sample_rate, stt::SAMPLE_RATE))
            .collect())
    })
    .await
    .map_err(joined)?
}

/// Scores the PQR again (its text now includes the call's transcript), when the tenant has models.
async fn rescore(app: &App, tenant_id: &str, incident_id: &str) -> Result<(), JobError> {
    if app.registry.tenant_has_models(&app.db, tenant_id).await? {
        crate::jobs::enqueue(
            app,
            tenant_id,
            super::insights::SCORE_KIND,
            &json!({ "incident_id": incident_id }),
        )
        .await?;
    }
    Ok(())
}
