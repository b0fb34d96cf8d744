//! Transcripts of recorded calls: the transcription job's state kept on the call, segments saved
//! window by window as the job goes (what a resumed job skips), and the finished text.
//!
//! Every write names the job doing it: a job that is no longer the call's current one (the call
//! was queued again meanwhile) changes nothing.

use serde::Serialize;
use sqlx::Row;

use super::calls::{Call, TranscriptionJob};
use super::search::{DocKind, Document};
use super::{Backend, Db};
use crate::domain::call::Direction;
use crate::error::{Error, Result};

/// A stretch of speech on one channel; times from the start of the recording.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TranscriptSegment {
    /// 0 for a mono recording; 0 (left) or 1 (right) for the two sides of a stereo call.
    pub channel: u16,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// A call's transcript, complete or as far as the job has got.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallTranscript {
    pub call_id: String,
    /// The call's `transcription` state.
    pub state: String,
    /// Why the transcription failed.
    pub error: Option<String>,
    /// Share transcribed so far, 0 to 1.
    pub progress: f64,
    pub language: Option<String>,
    /// The whole text in time order; null until the job is done.
    pub text: Option<String>,
    /// Segments in time order (those saved so far while the job runs).
    pub segments: Vec<TranscriptSegment>,
}

/// Why a job may not write to a call any more.
fn superseded() -> Error {
    Error::Conflict("the call was queued for transcription again; this run was superseded".into())
}

/// The transcription state clients see, and the failure reason: the call's own column says
/// `not_requested` or `done`; otherwise its job's state tells (queued is `pending`).
pub(super) fn state(
    stored: String,
    job_state: Option<String>,
    job_error: Option<String>,
) -> (String, Option<String>) {
    if stored == "done" {
        return (stored, None);
    }
    match job_state.as_deref() {
        Some("queued") => ("pending".into(), None),
        Some("running") => ("running".into(), None),
        Some("failed") => ("failed".into(), job_error),
        Some("cancelled") => ("cancelled".into(), None),
        _ => (stored, None),
    }
}

/// One transcribed window of one channel.
pub struct WindowText<'a> {
    pub channel: u16,
    pub window: usize,
    pub segments: &'a [TranscriptSegment],
    /// Progress of the whole call after this window, in thousandths.
    pub progress_permille: i64,
}

/// Saves a window's segments (replacing any an interrupted run saved) and the progress, in one
/// transaction.
pub async fn save_window(
    db: &Db,
    tenant_id: &str,
    call_id: &str,
    job_id: &str,
    window: &WindowText<'_>,
) -> Result<()> {
    let mut tx = db.writer.begin().await?;
    let updated = sqlx::query(
        "UPDATE calls SET transcription_progress = $1 \
         WHERE id = $2 AND tenant_id = $3 AND transcription_job_id = $4",
    )
    .bind(window.progress_permille.clamp(0, 1_000))
    .bind(call_id)
    .bind(tenant_id)
    .bind(job_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(superseded());
    }
    sqlx::query(
        "DELETE FROM call_segments WHERE call_id = $1 AND channel = $2 AND window_index = $3",
    )
    .bind(call_id)
    .bind(i64::from(window.channel))
    .bind(window.window as i64)
    .execute(&mut *tx)
    .await?;
    for (seq, segment) in window.segments.iter().enumerate() {
        sqlx::query(
            "INSERT INTO call_segments (tenant_id, call_id, channel, window_index, seq, \
             start_ms, end_ms, text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant_id)
        .bind(call_id)
        .bind(i64::from(window.channel))
        .bind(window.window as i64)
        .bind(seq as i64)
        .bind(segment.start_ms as i64)
        .bind(segment.end_ms as i64)
        .bind(&segment.text)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn segments(db: &Db, tenant_id: &str, call_id: &str) -> Result<Vec<TranscriptSegment>> {
    let rows = sqlx::query(
        "SELECT channel, start_ms, end_ms, text FROM call_segments \
         WHERE tenant_id = $1 AND call_id = $2 \
         ORDER BY start_ms, channel, window_index, seq",
    )
    .bind(tenant_id)
    .bind(call_id)
    .fetch_all(&db.reader)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TranscriptSegment {
                channel: row.try_get::<i64, _>("channel")?.clamp(0, 255) as u16,
                start_ms: row.try_get::<i64, _>("start_ms")?.max(0) as u64,
                end_ms: row.try_get::<i64, _>("end_ms")?.max(0) as u64,
                text: row.try_get("text")?,
            })
        })
        .collect()
}

/// Joins the saved segments into the call's text, marks it done and makes it searchable, in one
/// transaction.
pub async fn finish(
    db: &Db,
    call: &Call,
    tenant_id: &str,
    job_id: &str,
    language: &str,
) -> Result<CallTranscript> {
    let segments = segments(db, tenant_id, &call.id).await?;
    let text = segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut tx = db.writer.begin().await?;
    let done = sqlx::query(
        "UPDATE calls SET transcription = 'done', transcription_progress = 1000, \
         language = $1, transcript = $2 \
         WHERE id = $3 AND tenant_id = $4 AND transcription_job_id = $5",
    )
    .bind(language)
    .bind(&text)
    .bind(&call.id)
    .bind(tenant_id)
    .bind(job_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(superseded());
    }
    let title = match call.direction {
        Direction::Inbound => "Llamada entrante",
        Direction::Outbound => "Llamada saliente",
    };
    super::search::index(
        &mut *tx,
        db.backend,
        tenant_id,
        &Document {
            kind: DocKind::Call,
            ref_id: &call.id,
            incident_id: call.incident_id.as_deref(),
            customer_id: call.customer_id.as_deref(),
            agent: call.agent.as_deref(),
            at: call.started_at,
            title,
            body: &text,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CallTranscript {
        call_id: call.id.clone(),
        state: "done".into(),
        error: None,
        progress: 1.0,
        language: Some(language.to_owned()),
        text: Some(text),
        segments,
    })
}

/// The call's transcript as far as it goes.
pub async fn get(db: &Db, tenant_id: &str, call_id: &str) -> Result<CallTranscript> {
    let row = sqlx::query(
        "SELECT c.transcription, c.transcription_progress, c.language, c.transcript, \
         j.state AS job_state, j.error AS job_error FROM calls c \
         LEFT JOIN jobs j ON j.id = c.transcription_job_id \
         WHERE c.id = $1 AND c.tenant_id = $2",
    )
    .bind(call_id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("call"))?;
    let (state, error) = state(
        row.try_get("transcription")?,
        row.try_get("job_state")?,
        row.try_get("job_error")?,
    );
    Ok(CallTranscript {
        call_id: call_id.to_owned(),
        state,
        error,
        progress: row
            .try_get::<i64, _>("transcription_progress")?
            .clamp(0, 1_000) as f64
            / 1_000.0,
        language: row.try_get("language")?,
        text: row.try_get("transcript")?,
        segments: segments(db, tenant_id, call_id).await?,
    })
}

/// Queues the call for transcription again (or for the first time), dropping any earlier
/// transcript. Refused with 409 while a job for it is queued or running. Returns the job's id.
pub async fn requeue(
    db: &Db,
    tenant_id: &str,
    call_id: &str,
    job: &TranscriptionJob,
) -> Result<String> {
    let mut tx = db.writer.begin().await?;
    let lock = match db.backend {
        Backend::Postgres => {
            "SELECT c.transcription_job_id, j.state FROM calls c \
             LEFT JOIN jobs j ON j.id = c.transcription_job_id \
             WHERE c.id = $1 AND c.tenant_id = $2 FOR UPDATE OF c"
        }
        Backend::Sqlite => {
            "SELECT c.transcription_job_id, j.state FROM calls c \
             LEFT JOIN jobs j ON j.id = c.transcription_job_id \
             WHERE c.id = $1 AND c.tenant_id = $2"
        }
    };
    let row = sqlx::query(lock)
        .bind(call_id)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound("call"))?;
    let state: Option<String> = row.try_get("state")?;
    if let Some(state) = state.filter(|s| s == "queued" || s == "running") {
        let job_id: Option<String> = row.try_get("transcription_job_id")?;
        return Err(Error::Conflict(format!(
            "the call is already being transcribed (job {} is {state}); cancel it first",
            job_id.unwrap_or_default()
        )));
    }
    let job_id = super::jobs::insert(
        &mut *tx,
        tenant_id,
        job.kind,
        &serde_json::json!({ "call_id": call_id, "language": job.language }),
        job.max_attempts,
    )
    .await?;
    sqlx::query("DELETE FROM call_segments WHERE call_id = $1 AND tenant_id = $2")
        .bind(call_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM search_docs WHERE tenant_id = $1 AND kind = 'call' AND ref_id = $2")
        .bind(tenant_id)
        .bind(call_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE calls SET transcription = 'pending', transcription_progress = 0, \
         transcription_job_id = $1, language = NULL, transcript = NULL \
         WHERE id = $2 AND tenant_id = $3",
    )
    .bind(&job_id)
    .bind(call_id)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job_id)
}

/// The finished transcripts of the calls about a PQR, oldest call first (the PQR's scoring reads
/// them with its subject and description).
pub async fn of_incident(db: &Db, tenant_id: &str, incident_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT transcript FROM calls WHERE tenant_id = $1 AND incident_id = $2 \
         AND transcription = 'done' AND transcript IS NOT NULL ORDER BY started_at, id",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .fetch_all(&db.reader)
    .await?;
    let mut texts = Vec::new();
    for row in &rows {
        let text: String = row.try_get("transcript")?;
        if !text.trim().is_empty() {
            texts.push(text);
        }
    }
    Ok(texts)
}
