//! Recorded calls: upload (audio + metadata), list, read, download the audio with ranges, and a
//! quality summary for KPIs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller, JsonBody, parse_json_part, parse_query};
use super::{download, intake, location};
use crate::App;
use crate::audio::{self, Container};
use crate::domain::access::Action;
use crate::domain::call::NewCallRequest;
use crate::domain::call_quality::{CallQuality, QualityAnalyzer};
use crate::domain::recordings::QualityThresholds;
use crate::error::{Error, Problem, Result};
use crate::store::blobs::{Staged, Stager};
use crate::store::calls::{self, Call, CallFilter, QualitySummary, Recording};
use crate::store::incidents::Page;
use crate::store::jobs::{self, Job};
use crate::store::transcripts::{self, CallTranscript};

pub fn router() -> OpenApiRouter<Arc<App>> {
    // Uploads stream into the blob staging area under ABCALL_MAX_AUDIO_BYTES, not the JSON body
    // limit that the other routes keep.
    let uploads = OpenApiRouter::new()
        .routes(routes!(list_calls, upload_call))
        .layer(axum::extract::DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(quality_summary))
        .routes(routes!(get_call))
        .routes(routes!(call_audio))
        .routes(routes!(call_transcript))
        .routes(routes!(transcribe_call))
}

/// Uploads a recorded call. Either `multipart/form-data` with a `metadata` part (JSON:
/// direction, customer_id, agent, started_at, ended_at, incident_id) and an `audio` part, or the
/// audio as the raw body with the metadata in the query string. The format is read from the
/// bytes: WAV (PCM, µ-law, A-law, ADPCM), MP3, FLAC, Ogg Vorbis, Ogg Opus. The audio is decoded
/// to measure its length and quality, and a transcription job is queued (in the tenant's
/// `recordings.language`) unless the server runs with `ABCALL_TRANSCRIBE_CALLS=false`.
#[utoipa::path(post, path = "/v1/calls", tag = "calls", params(NewCallRequest),
    request_body(content = Vec<u8>, description = "the audio (raw), or multipart with `metadata` and `audio` parts",
        content_type = "application/octet-stream"),
    responses(
        (status = 201, body = Call, description = "stored and measured"),
        (status = 413, body = Problem, description = "larger than ABCALL_MAX_AUDIO_BYTES"),
        (status = 415, body = Problem, description = "not an accepted audio format (the detail lists them)"),
        (status = 422, body = Problem, description = "bad metadata, or truncated/corrupt audio")))]
async fn upload_call(
    State(app): State<Arc<App>>,
    caller: Caller,
    request: Request,
) -> Result<Response> {
    let principal = match caller.require(Action::CreateIncidents) {
        Ok(principal) => principal.clone(),
        Err(e) => return intake::refuse(request, e).await,
    };
    let stager = Stager::new(app.staging_dir.clone(), app.config.max_audio_bytes);
    let (metadata, staged, file_name) = if intake::is_multipart(&request) {
        let mut intake = intake::multipart(request, &stager, "audio", &["metadata"]).await?;
        let metadata = intake.parts.remove("metadata").ok_or_else(|| {
            Error::validation("metadata", "the multipart body has no metadata part")
        })?;
        let metadata: NewCallRequest = parse_json_part("metadata", &metadata)?;
        (metadata, intake.file, intake.file_name)
    } else {
        let metadata: NewCallRequest = parse_query(request.uri().query().unwrap_or(""))?;
        let staged = intake::raw(request.into_body(), &stager).await?;
        (metadata, staged, None)
    };
    let call = metadata.parse().map_err(Error::Validation)?;
    calls::check_links(&app.db, &principal.tenant_id, &call).await?;
    let container =
        audio::sniff(&staged.head).ok_or(Error::UnsupportedMediaType(audio::ACCEPTED))?;
    let settings = app.settings.get(&app.db, &principal).await?;
    let policy = settings.settings.recordings.clone();
    let (staged, info, quality) = measure(staged, container, policy.quality).await?;
    let recording = Recording {
        sha256: staged.sha256.clone(),
        size: staged.size,
        media_type: container.media_type(),
        original_name: file_name,
        format: container.name(),
        codec: info.codec.clone(),
        duration_secs: info.duration_secs(),
        sample_rate: info.sample_rate,
        channels: info.channels,
        quality,
    };
    app.blobs.put(staged).await?;
    let transcription = app
        .config
        .transcribe_calls
        .then(|| crate::ml::transcription::job(&policy.language));
    let stored = calls::insert(
        &app.db,
        &principal.tenant_id,
        &call,
        &recording,
        app.clock.now(),
        policy.retention_years,
        transcription.as_ref(),
    )
    .await?;
    if transcription.is_some() {
        app.jobs_ready.notify_one();
    }
    app.live.publish(
        &principal.tenant_id,
        "call.recorded",
        json!({
            "id": stored.id,
            "direction": stored.direction,
            "agent": stored.agent,
            "customer_id": stored.customer_id,
            "incident_id": stored.incident_id,
            "started_at": stored.started_at,
            "ended_at": stored.ended_at,
            "duration_secs": stored.duration_secs,
            "flags": stored.quality.flags,
        }),
    );
    Ok((
        StatusCode::CREATED,
        location(format!("/v1/calls/{}", stored.id)),
        Json(stored),
    )
        .into_response())
}

/// Decodes the staged audio on a blocking thread, measuring it as it streams by.
async fn measure(
    staged: Staged,
    container: Container,
    thresholds: QualityThresholds,
) -> Result<(Staged, audio::AudioInfo, CallQuality)> {
    let path = staged.path.to_path_buf();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut analyzer: Option<QualityAnalyzer> = None;
        let info = audio::decode_file(&path, container, &mut |rate, samples| {
            analyzer
                .get_or_insert_with(|| QualityAnalyzer::new(rate))
                .push(samples)
        })?;
        let quality = analyzer
            .unwrap_or_else(|| QualityAnalyzer::new(info.sample_rate))
            .finish(&thresholds);
        Ok::<_, audio::DecodeError>((info, quality))
    })
    .await
    .map_err(|e| Error::Internal(format!("decoding task: {e}")))?;
    match outcome {
        Ok((info, quality)) => Ok((staged, info, quality)),
        // A known container holding a codec we do not decode is a format problem (415).
        Err(audio::DecodeError::Unsupported { .. }) => {
            Err(Error::UnsupportedMediaType(audio::ACCEPTED))
        }
        Err(e) => Err(Error::validation("audio", e.to_string())),
    }
}

/// The tenant's calls, newest first.
#[utoipa::path(get, path = "/v1/calls", tag = "calls", params(CallFilter),
    responses((status = 200, body = Page<Call>)))]
async fn list_calls(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<CallFilter>,
) -> Result<Json<Page<Call>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(
        calls::list(&app.db, &principal.tenant_id, filter).await?,
    ))
}

/// One call with its audio facts and quality metrics.
#[utoipa::path(get, path = "/v1/calls/{id}", tag = "calls",
    responses((status = 200, body = Call), (status = 404, body = Problem)))]
async fn get_call(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Call>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(calls::get(&app.db, &principal.tenant_id, &id).await?))
}

/// The original audio as uploaded. Supports a single `Range: bytes=…` (206, or 416).
#[utoipa::path(get, path = "/v1/calls/{id}/audio", tag = "calls",
    params(("Range" = Option<String>, Header, description = "bytes=a-b, bytes=a- or bytes=-n")),
    responses(
        (status = 200, description = "the whole file", content_type = "audio/*"),
        (status = 206, description = "the requested bytes", content_type = "audio/*"),
        (status = 404, body = Problem),
        (status = 416, body = Problem)))]
async fn call_audio(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = caller.require(Action::ReadIncidents)?;
    let call = calls::get(&app.db, &principal.tenant_id, &id).await?;
    download::send(
        &app,
        download::Download {
            sha256: &call.sha256,
            size: call.size,
            media_type: &call.media_type,
        },
        &headers,
    )
    .await
}

/// What was said in the call: segments with their times (per channel for a stereo call) and,
/// once the job is done, the whole text. While the job runs, the segments saved so far.
#[utoipa::path(get, path = "/v1/calls/{id}/transcript", tag = "calls",
    responses((status = 200, body = CallTranscript), (status = 404, body = Problem)))]
async fn call_transcript(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CallTranscript>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(
        transcripts::get(&app.db, &principal.tenant_id, &id).await?,
    ))
}

/// Body of `POST /v1/calls/{id}/transcription`.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TranscriptionRequest {
    /// An ISO 639-1 code, or `auto` to detect it; default: the tenant's `recordings.language`.
    language: Option<String>,
}

/// Queues the call for transcription (again): for calls uploaded while transcription was off,
/// after a failure (e.g. the model was installed later), or in another language. The earlier
/// transcript is dropped. 409 while a transcription of the call is queued or running. The body
/// may be empty.
#[utoipa::path(post, path = "/v1/calls/{id}/transcription", tag = "calls",
    request_body = TranscriptionRequest,
    responses(
        (status = 202, body = Job, description = "queued; follow the job or the call"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already queued or running"),
        (status = 422, body = Problem, description = "`language` is not a language code")))]
async fn transcribe_call(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody<TranscriptionRequest>,
) -> Result<Response> {
    let principal = caller.require(Action::CreateIncidents)?;
    let request = body.parse_or_default()?;
    let language = match request.language {
        Some(language) => {
            let language = language.trim().to_lowercase();
            if !crate::domain::recordings::is_language_code(&language) {
                return Err(Error::validation(
                    "language",
                    "must be `auto` or an ISO 639-1 language code such as `es`",
                ));
            }
            language
        }
        None => {
            let settings = app.settings.get(&app.db, principal).await?;
            settings.settings.recordings.language.clone()
        }
    };
    let job = crate::ml::transcription::job(&language);
    let job_id = transcripts::requeue(&app.db, &principal.tenant_id, &id, &job).await?;
    app.jobs_ready.notify_one();
    let job = jobs::get(&app.db, &principal.tenant_id, &job_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        location(format!("/v1/jobs/{job_id}")),
        Json(job),
    )
        .into_response())
}

/// `?from=&to=` over the calls' start times.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// Calls that started at or after (RFC 3339).
    #[param(value_type = Option<String>)]
    from: Option<Timestamp>,
    /// Calls that started before (RFC 3339).
    #[param(value_type = Option<String>)]
    to: Option<Timestamp>,
}

/// How many calls were flagged, and their mean length, in a period.
#[utoipa::path(get, path = "/v1/calls/quality", tag = "calls", params(PeriodQuery),
    responses((status = 200, body = QualitySummary)))]
async fn quality_summary(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(period): ApiQuery<PeriodQuery>,
) -> Result<Json<QualitySummary>> {
    let principal = caller.require(Action::ReadReports)?;
    Ok(Json(
        calls::quality_summary(&app.db, &principal.tenant_id, period.from, period.to).await?,
    ))
}
