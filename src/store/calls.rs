//! Recorded calls of a tenant: their metadata, the stored audio's facts and its quality metrics.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::blobs::meta::{self, BlobRecord, NewBlob};
use super::incidents::{Page, page_bounds, paginate};
use super::{Db, Sql, from_millis, to_millis};
use crate::domain::call::{Direction, NewCall};
use crate::domain::call_quality::CallQuality;
use crate::error::{Error, Result};

/// A recorded call as clients see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    pub size: u64,
    /// Media type of the original, sniffed from its bytes.
    pub media_type: String,
    /// `wav`, `mp3`, `flac`, `ogg_vorbis` or `ogg_opus`.
    pub format: String,
    /// e.g. `pcm_s16le`, `pcm_mulaw`, `pcm_alaw`, `mp3`, `flac`, `vorbis`, `opus`.
    pub codec: String,
    /// Length of the decoded audio.
    pub duration_secs: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub quality: CallQuality,
    /// Speech-to-text: `pending` (queued), `running`, `done`, `failed`, `cancelled`, or
    /// `not_requested` when uploads are not transcribed (`POST /v1/calls/{id}/transcription`).
    pub transcription: String,
    /// Share of the recording transcribed so far, 0 to 1.
    pub transcription_progress: f64,
    /// Why the transcription failed.
    pub transcription_error: Option<String>,
    /// The job transcribing the call (`GET /v1/jobs/{id}`).
    pub transcription_job_id: Option<String>,
    /// Language of the transcript (given or detected), as an ISO 639-1 code.
    pub language: Option<String>,
    /// The recording is kept at least until then.
    pub retention_until: Timestamp,
    pub created_at: Timestamp,
}

/// What the upload measured on the audio.
pub struct Recording {
    pub sha256: String,
    pub size: u64,
    pub media_type: &'static str,
    pub original_name: Option<String>,
    pub format: &'static str,
    pub codec: String,
    pub duration_secs: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub quality: CallQuality,
}

const COLUMNS: &str = "c.id, c.direction, c.customer_id, c.agent, c.incident_id, c.started_at, \
    c.ended_at, c.blob_sha256, c.size, c.media_type, c.format, c.codec, c.duration_ms, \
    c.sample_rate, c.channels, c.quality, c.transcription, c.transcription_progress, \
    c.transcription_job_id, c.language, c.created_at, b.retention_until, j.state AS job_state, \
    j.error AS job_error";
const FROM: &str = "FROM calls c JOIN blobs b ON b.tenant_id = c.tenant_id AND b.sha256 = c.blob_sha256 \
    LEFT JOIN jobs j ON j.id = c.transcription_job_id";

fn from_row(row: &AnyRow) -> Result<Call> {
    let direction: String = row.try_get("direction")?;
    let quality: String = row.try_get("quality")?;
    let (transcription, transcription_error) = super::transcripts::state(
        row.try_get("transcription")?,
        row.try_get("job_state")?,
        row.try_get("job_error")?,
    );
    Ok(Call {
        id: row.try_get("id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| Error::Internal(format!("stored direction {direction:?}")))?,
        customer_id: row.try_get("customer_id")?,
        agent: row.try_get("agent")?,
        incident_id: row.try_get("incident_id")?,
        started_at: from_millis(row.try_get("started_at")?),
        ended_at: from_millis(row.try_get("ended_at")?),
        sha256: row.try_get("blob_sha256")?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        media_type: row.try_get("media_type")?,
        format: row.try_get("format")?,
        codec: row.try_get("codec")?,
        duration_secs: row.try_get::<i64, _>("duration_ms")? as f64 / 1_000.0,
        sample_rate: row.try_get::<i64, _>("sample_rate")? as u32,
        channels: row.try_get::<i64, _>("channels")? as u16,
        quality: serde_json::from_str(&quality)
            .map_err(|e| Error::Internal(format!("stored call quality: {e}")))?,
        transcription,
        transcription_progress: row
            .try_get::<i64, _>("transcription_progress")?
            .clamp(0, 1_000) as f64
            / 1_000.0,
        transcription_error,
        transcription_job_id: row.try_get("transcription_job_id")?,
        language: row.try_get("language")?,
        retention_until: from_millis(row.try_get("retention_until")?),
        created_at: from_millis(row.try_get("created_at")?),
    })
}

/// The customer and PQR a call names, if any, must be the tenant's (422 naming the field).
/// Checked before the audio is stored, so a refused call leaves no file behind.
pub async fn check_links(db: &Db, tenant_id: &str, call: &NewCall) -> Result<()> {
    for (table, field, id) in [
        ("incidents", "incident_id", &call.incident_id),
        ("customers", "customer_id", &call.customer_id),
    ] {
        if let Some(id) = id {
            let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT 1 FROM {table} WHERE id = $1 AND tenant_id = $2"
            )))
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&db.reader)
            .await?;
            if found.is_none() {
                return Err(Error::validation(field, "no such record in this tenant"));
            }
        }
    }
    Ok(())
}

/// The speech-to-text job queued with a new call, in the same transaction (so a stored call is
/// never left without the job that transcribes it).
#[derive(Debug, Clone)]
pub struct TranscriptionJob {
    pub kind: &'static str,
    /// An ISO 639-1 code, or `auto`.
    pub language: String,
    pub max_attempts: u32,
}

/// Stores a call whose audio is already in the blob store, with the tenant's blob record and its
/// transcription job (if any), in one transaction. Callers check the links first
/// ([`check_links`]); PQRs and customers are never deleted, so they stay valid.
pub async fn insert(
    db: &Db,
    tenant_id: &str,
    call: &NewCall,
    recording: &Recording,
    now: Timestamp,
    retention_years: u32,
    transcription: Option<&TranscriptionJob>,
) -> Result<Call> {
    let mut tx = db.writer.begin().await?;
    let blob = NewBlob {
        sha256: &recording.sha256,
        size: recording.size,
        media_type: recording.media_type,
        original_name: recording.original_name.as_deref(),
    };
    let stored: BlobRecord = meta::record(&mut tx, tenant_id, &blob, now, retention_years).await?;
    let quality = serde_json::to_string(&recording.quality)
        .map_err(|e| Error::Internal(format!("call quality does not serialise: {e}")))?;
    let id = crate::domain::new_id();
    let job_id = match transcription {
        Some(job) => Some(
            super::jobs::insert(
                &mut *tx,
                tenant_id,
                job.kind,
                &serde_json::json!({ "call_id": id, "language": job.language }),
                job.max_attempts,
            )
            .await?,
        ),
        None => None,
    };
    let state = if job_id.is_some() {
        "pending"
    } else {
        "not_requested"
    };
    let flag = |f: bool| i64::from(f);
    sqlx::query(
        "INSERT INTO calls (id, tenant_id, direction, customer_id, agent, incident_id, started_at, \
         ended_at, blob_sha256, size, media_type, format, codec, duration_ms, sample_rate, \
         channels, quality, poor_audio, long_hold, dead_air, transcription, created_at, \
         transcription_job_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(call.direction.as_str())
    .bind(call.customer_id.as_deref())
    .bind(call.agent.as_deref())
    .bind(call.incident_id.as_deref())
    .bind(to_millis(call.started_at))
    .bind(to_millis(call.ended_at))
    .bind(&recording.sha256)
    .bind(recording.size as i64)
    .bind(recording.media_type)
    .bind(recording.format)
    .bind(&recording.codec)
    .bind((recording.duration_secs * 1_000.0).round() as i64)
    .bind(i64::from(recording.sample_rate))
    .bind(i64::from(recording.channels))
    .bind(quality)
    .bind(flag(recording.quality.flags.poor_audio))
    .bind(flag(recording.quality.flags.long_hold))
    .bind(flag(recording.quality.flags.dead_air))
    .bind(state)
    .bind(to_millis(now))
    .bind(job_id.as_deref())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Call {
        id,
        direction: call.direction,
        customer_id: call.customer_id.clone(),
        agent: call.agent.clone(),
        incident_id: call.incident_id.clone(),
        started_at: call.started_at,
        ended_at: call.ended_at,
        sha256: recording.sha256.clone(),
        size: recording.size,
        media_type: recording.media_type.to_owned(),
        format: recording.format.to_owned(),
        codec: recording.codec.clone(),
        duration_secs: ((recording.duration_secs * 1_000.0).round()) / 1_000.0,
        sample_rate: recording.sample_rate,
        channels: recording.channels,
        quality: recording.quality.clone(),
        transcription: state.into(),
        transcription_progress: 0.0,
        transcription_error: None,
        transcription_job_id: job_id,
        language: None,
        retention_until: stored.retention_until,
        created_at: now,
    })
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Call> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE c.id = $1 AND c.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("call"))?;
    from_row(&row)
}

/// Narrowing of `GET /v1/calls`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallFilter {
    pub direction: Option<Direction>,
    pub incident_id: Option<String>,
    pub customer_id: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Newest first.
pub async fn list(db: &Db, tenant_id: &str, filter: CallFilter) -> Result<Page<Call>> {
    let (limit, cursor) = page_bounds(filter.limit, filter.cursor.as_deref())?;
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} {FROM} WHERE c.tenant_id = "));
    sql.bind(tenant_id.to_owned());
    if let Some(direction) = filter.direction {
        sql.push(" AND c.direction = ")
            .bind(direction.as_str().to_owned());
    }
    if let Some(incident) = filter.incident_id {
        sql.push(" AND c.incident_id = ").bind(incident);
    }
    if let Some(customer) = filter.customer_id {
        sql.push(" AND c.customer_id = ").bind(customer);
    }
    if let Some(cursor) = cursor {
        sql.push(" AND c.id < ").bind(cursor);
    }
    sql.push(" ORDER BY c.id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    paginate(&rows, limit, from_row, |c| c.id.clone())
}

/// Quality over the calls that started in a period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QualitySummary {
    pub calls: u64,
    pub poor_audio: u64,
    pub long_hold: u64,
    pub dead_air: u64,
    /// Mean call length in seconds; null without calls.
    pub avg_duration_secs: Option<f64>,
}

pub async fn quality_summary(
    db: &Db,
    tenant_id: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<QualitySummary> {
    let mut sql = Sql::new(
        "SELECT COUNT(*) AS calls, CAST(COALESCE(SUM(poor_audio), 0) AS BIGINT) AS poor, \
         CAST(COALESCE(SUM(long_hold), 0) AS BIGINT) AS hold, \
         CAST(COALESCE(SUM(dead_air), 0) AS BIGINT) AS dead, \
         CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS total_ms \
         FROM calls WHERE tenant_id = ",
    );
    sql.bind(tenant_id.to_owned());
    if let Some(from) = from {
        sql.push(" AND started_at >= ").bind(to_millis(from));
    }
    if let Some(to) = to {
        sql.push(" AND started_at < ").bind(to_millis(to));
    }
    let rows = sql.fetch_all(&db.reader).await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Internal("an aggregate returned no row".into()))?;
    let count = |name: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
    let calls = count("calls")?;
    let total_ms = count("total_ms")?;
    Ok(QualitySummary {
        calls,
        poor_audio: count("poor")?,
        long_hold: count("hold")?,
        dead_air: count("dead")?,
        avg_duration_secs: (calls > 0).then(|| total_ms as f64 / 1_000.0 / calls as f64),
    })
}
