//! The job queue's rows. Claiming is one `UPDATE … RETURNING` on the writer: on PostgreSQL the
//! candidate row is locked with `FOR UPDATE SKIP LOCKED` so replicas never take the same job; on
//! SQLite the single writer connection serialises claims. Every write after the claim checks the
//! lease owner, so a worker that lost its lease (paused too long) cannot overwrite a new owner.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::incidents::{Page, page_bounds, paginate};
use super::{Backend, Db, Sql, from_millis, to_millis};
use crate::domain::new_id;
use crate::error::{Error, Result};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn parse(value: &str) -> Result<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| Error::Internal(format!("unknown stored job state {value:?}")))
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// How far a job got, as the worker last reported it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: i64,
    /// Null until the job knows how much there is to do.
    pub total: Option<i64>,
    /// What the job is doing now, for people watching.
    pub message: Option<String>,
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    /// What the job does, e.g. `kb_import`.
    pub kind: String,
    pub state: JobState,
    pub progress: Progress,
    /// What a succeeded job produced (a summary; its kind documents the shape).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why a failed job failed.
    pub error: Option<String>,
    /// Runs started so far, including resumptions after a crash.
    pub attempts: i64,
    pub cancel_requested: bool,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, kind, state, progress_done, progress_total, message, result, error, \
    attempts, cancel_requested, created_at, started_at, finished_at, updated_at";

fn json_column(row: &AnyRow, column: &str) -> Result<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| Error::Internal(format!("unreadable stored job {column}: {e}")))
}

fn from_row(row: &AnyRow) -> Result<Job> {
    let state: String = row.try_get("state")?;
    let millis = |column: &str| -> Result<Option<Timestamp>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
    };
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        state: JobState::parse(&state)?,
        progress: Progress {
            done: row.try_get("progress_done")?,
            total: row.try_get("progress_total")?,
            message: row.try_get("message")?,
        },
        result: json_column(row, "result")?,
        error: row.try_get("error")?,
        attempts: row.try_get("attempts")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        created_at: from_millis(row.try_get("created_at")?),
        started_at: millis("started_at")?,
        finished_at: millis("finished_at")?,
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// Adds a job to the queue, ready to run now.
pub async fn enqueue(
    db: &Db,
    tenant_id: &str,
    kind: &str,
    payload: &serde_json::Value,
    max_attempts: u32,
) -> Result<Job> {
    let id = insert(&db.writer, tenant_id, kind, payload, max_attempts).await?;
    get(db, tenant_id, &id).await
}

/// Inserts a queued job through `executor` (a transaction, so that a job is queued exactly when
/// the change that needs it commits); returns its id.
pub async fn insert<'e, E>(
    executor: E,
    tenant_id: &str,
    kind: &str,
    payload: &serde_json::Value,
    max_attempts: u32,
) -> Result<String>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let id = new_id();
    let now = to_millis(Timestamp::now());
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, state, payload, max_attempts, run_after, \
         created_at, updated_at) VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6, $6)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(kind)
    .bind(payload.to_string())
    .bind(i64::from(max_attempts))
    .bind(now)
    .execute(executor)
    .await?;
    Ok(id)
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Job> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("job"))?;
    from_row(&row)
}

/// The tenant's jobs of the given kinds, newest first.
pub async fn list(
    db: &Db,
    tenant_id: &str,
    kinds: &[&str],
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Page<Job>> {
    let (limit, cursor) = page_bounds(limit, cursor)?;
    if kinds.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = "));
    sql.bind(tenant_id.to_owned());
    sql.push(" AND kind IN ")
        .bind_list(kinds.iter().map(|k| (*k).to_owned()));
    if let Some(cursor) = cursor {
        sql.push(" AND id < ").bind(cursor);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    paginate(&rows, limit, from_row, |j| j.id.clone())
}

/// The job's kind, to check the caller's permissions before acting on it.
pub async fn kind_of(db: &Db, tenant_id: &str, id: &str) -> Result<String> {
    sqlx::query_scalar("SELECT kind FROM jobs WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&db.reader)
        .await?
        .ok_or(Error::NotFound("job"))
}

/// Cancels a queued job at once; asks a running one to stop at its next progress report.
/// A finished job cannot be cancelled (409).
pub async fn request_cancel(db: &Db, tenant_id: &str, id: &str) -> Result<Job> {
    let now = to_millis(Timestamp::now());
    let job = get(db, tenant_id, id).await?;
    if job.state.is_finished() {
        return Err(Error::Conflict(format!(
            "the job has already finished ({})",
            job.state.as_str()
        )));
    }
    sqlx::query(
        "UPDATE jobs SET \
           state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
           finished_at = CASE WHEN state = 'queued' THEN $1 ELSE finished_at END, \
           cancel_requested = 1, updated_at = $1 \
         WHERE id = $2 AND tenant_id = $3 AND state IN ('queued', 'running')",
    )
    .bind(now)
    .bind(id)
    .bind(tenant_id)
    .execute(&db.writer)
    .await?;
    get(db, tenant_id, id).await
}

/// A job a worker has claimed, with what it needs to run it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// What an earlier, interrupted attempt saved.
    pub checkpoint: Option<serde_json::Value>,
    pub attempts: i64,
}

/// Fails the jobs whose workers died too often (lease expired with no attempts left), then claims
/// the oldest ready job — queued, or running under an expired lease — for `owner`.
pub async fn claim(db: &Db, owner: &str, lease_ms: i64) -> Result<Option<Claimed>> {
    let now = to_millis(Timestamp::now());
    sqlx::query(
        "UPDATE jobs SET state = 'failed', finished_at = $1, updated_at = $1, lease_owner = NULL, \
           error = 'interrupted ' || CAST(attempts AS TEXT) || ' time(s) (the worker stopped \
           without finishing); not retried again' \
         WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts",
    )
    .bind(now)
    .execute(&db.writer)
    .await?;
    let lock = match db.backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
           attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3 \
         WHERE id = (SELECT id FROM jobs \
           WHERE (state = 'queued' AND run_after <= $3) OR (state = 'running' AND lease_until < $3) \
           ORDER BY run_after, id LIMIT 1{lock}) \
         RETURNING id, tenant_id, kind, payload, checkpoint, attempts"
    )))
    .bind(owner)
    .bind(now + lease_ms)
    .bind(now)
    .fetch_optional(&db.writer)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let payload: String = row.try_get("payload")?;
    Ok(Some(Claimed {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| Error::Internal(format!("unreadable job payload: {e}")))?,
        checkpoint: json_column(&row, "checkpoint")?,
        attempts: row.try_get("attempts")?,
    }))
}

/// What a worker reports while it works.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub done: i64,
    pub total: Option<i64>,
    pub message: Option<String>,
    /// Saved only when given; the last one saved is handed to a resumed attempt.
    pub checkpoint: Option<serde_json::Value>,
}

/// The owner lost the job's lease: another worker has it, or it was finished meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("lost the lease on job {0}")]
pub struct LeaseLost(pub String);

/// Records progress and renews the lease; returns whether cancellation was asked for.
pub async fn report(
    db: &Db,
    id: &str,
    owner: &str,
    lease_ms: i64,
    report: &Report,
) -> Result<std::result::Result<bool, LeaseLost>> {
    let now = to_millis(Timestamp::now());
    let checkpoint = report.checkpoint.as_ref().map(|c| c.to_string());
    let cancel: Option<i64> = sqlx::query_scalar(
        "UPDATE jobs SET progress_done = $1, progress_total = $2, message = $3, \
           checkpoint = COALESCE($4, checkpoint), lease_until = $5, updated_at = $6 \
         WHERE id = $7 AND lease_owner = $8 AND state = 'running' RETURNING cancel_requested",
    )
    .bind(report.done)
    .bind(report.total)
    .bind(&report.message)
    .bind(checkpoint)
    .bind(now + lease_ms)
    .bind(now)
    .bind(id)
    .bind(owner)
    .fetch_optional(&db.writer)
    .await?;
    Ok(cancel
        .map(|c| c != 0)
        .ok_or_else(|| LeaseLost(id.to_owned())))
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded(serde_json::Value),
    Failed(String),
    Cancelled,
    /// Put back in the queue without counting the attempt (the service is shutting down).
    Released,
}

/// Ends the owner's run of a job.
pub async fn finish(db: &Db, id: &str, owner: &str, outcome: Outcome) -> Result<()> {
    let now = to_millis(Timestamp::now());
    let (state, result, error) = match &outcome {
        Outcome::Succeeded(result) => ("succeeded", Some(result.to_string()), None),
        Outcome::Failed(error) => ("failed", None, Some(error.clone())),
        Outcome::Cancelled => ("cancelled", None, None),
        Outcome::Released => ("queued", None, None),
    };
    let released = matches!(outcome, Outcome::Released);
    sqlx::query(
        "UPDATE jobs SET state = $1, result = $2, error = $3, lease_owner = NULL, \
           lease_until = NULL, updated_at = $4, \
           finished_at = CASE WHEN $5 = 1 THEN NULL ELSE $4 END, \
           attempts = CASE WHEN $5 = 1 THEN attempts - 1 ELSE attempts END \
         WHERE id = $6 AND lease_owner = $7 AND state = 'running'",
    )
    .bind(state)
    .bind(result)
    .bind(error)
    .bind(now)
    .bind(i64::from(released))
    .bind(id)
    .bind(owner)
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// Extends the owner's lease without touching progress; returns whether cancellation was asked.
pub async fn renew(
    db: &Db,
    id: &str,
    owner: &str,
    lease_ms: i64,
) -> Result<std::result::Result<bool, LeaseLost>> {
    let now = to_millis(Timestamp::now());
    let cancel: Option<i64> = sqlx::query_scalar(
        "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running' \
         RETURNING cancel_requested",
    )
    .bind(now + lease_ms)
    .bind(id)
    .bind(owner)
    .fetch_optional(&db.writer)
    .await?;
    Ok(cancel
        .map(|c| c != 0)
        .ok_or_else(|| LeaseLost(id.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SqliteSync;

    async fn db_with_tenant() -> (tempfile::TempDir, Db, String) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(None, dir.path(), 2, SqliteSync::Normal)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let (tenant, _) = crate::store::tenants::create_tenant(&db, "Andina")
            .await
            .unwrap();
        (dir, db, tenant.id)
    }

    #[tokio::test]
    async fn a_job_is_resumed_after_lost_leases_then_failed_with_the_reason() {
        let (_dir, db, tenant) = db_with_tenant().await;
        let job = enqueue(&db, &tenant, "kb_import", &serde_json::json!({"n": 1}), 2)
            .await
            .unwrap();
        let first = claim(&db, "w1", 0).await.unwrap().expect("queued job");
        assert_eq!((first.id.as_str(), first.attempts), (job.id.as_str(), 1));
        let progress = Report {
            done: 5,
            total: Some(10),
            message: None,
            checkpoint: Some(serde_json::json!({"next": 5})),
        };
        // The lease of 0 ms has run out: the old owner can no longer write.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = claim(&db, "w2", 60_000).await.unwrap().expect("expired");
        assert_eq!(second.attempts, 2);
        assert!(
            report(&db, &job.id, "w1", 1_000, &progress)
                .await
                .unwrap()
                .is_err()
        );
        assert!(
            !report(&db, &job.id, "w2", 0, &progress)
                .await
                .unwrap()
                .unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
        // w2 died too; a third claim finds no attempts left and fails the job instead.
        let third = claim(&db, "w3", 60_000).await.unwrap();
        assert!(third.is_none(), "{third:?}");
        let failed = get(&db, &tenant, &job.id).await.unwrap();
        assert_eq!(failed.state, JobState::Failed);
        assert!(failed.error.unwrap().contains("interrupted 2 time(s)"));
        assert_eq!(failed.progress.done, 5);
    }

    #[tokio::test]
    async fn a_resumed_attempt_gets_the_last_checkpoint_and_a_release_does_not_count() {
        let (_dir, db, tenant) = db_with_tenant().await;
        let job = enqueue(&db, &tenant, "kb_import", &serde_json::json!({}), 3)
            .await
            .unwrap();
        claim(&db, "w1", 60_000).await.unwrap().unwrap();
        let at = |n: i64| Report {
            done: n,
            checkpoint: Some(serde_json::json!({ "next": n })),
            ..Report::default()
        };
        report(&db, &job.id, "w1", 60_000, &at(16))
            .await
            .unwrap()
            .unwrap();
        finish(&db, &job.id, "w1", Outcome::Released).await.unwrap();
        let again = claim(&db, "w2", 60_000).await.unwrap().unwrap();
        assert_eq!(again.attempts, 1, "a graceful release is not an attempt");
        assert_eq!(again.checkpoint, Some(serde_json::json!({ "next": 16 })));
        finish(
            &db,
            &job.id,
            "w2",
            Outcome::Succeeded(serde_json::json!({"ok": true})),
        )
        .await
        .unwrap();
        let done = get(&db, &tenant, &job.id).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.result, Some(serde_json::json!({"ok": true})));
        assert!(claim(&db, "w3", 60_000).await.unwrap().is_none());
    }
}
