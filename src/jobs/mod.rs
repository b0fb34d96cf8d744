//! Long work off the request path: a durable queue in the database (`store::jobs`) and workers in
//! this process that claim jobs, run them, report progress and honour cancellation.
//!
//! A job is restart-safe: its payload is stored before the request that made it is answered; a
//! worker holds a lease it renews while it works; if the process dies the lease runs out and a
//! worker (here or in another replica) resumes the job from its last checkpoint, up to the job's
//! `max_attempts`, after which it is failed with the reason. A graceful shutdown puts running
//! jobs back in the queue without counting the attempt.

mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use worker::Workers;

use crate::App;
use crate::domain::access::Action;
use crate::error::Error;
use crate::store::Db;
use crate::store::jobs::{self, Report};

/// Why a run stopped before producing a result.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    LeaseLost(#[from] jobs::LeaseLost),
    /// The job cannot succeed (bad input, a missing model): failed with this reason, not retried.
    #[error("{0}")]
    Failed(String),
}

impl From<Error> for JobError {
    fn from(error: Error) -> Self {
        match error {
            Error::Database(_) | Error::Migration(_) | Error::Internal(_) => {
                tracing::error!(%error, "job step failed");
                JobError::Failed(format!("an internal error stopped the job ({error})"))
            }
            Error::Validation(errors) => JobError::Failed(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => JobError::Failed(other.to_string()),
        }
    }
}

/// What a running job sees: its input, where an earlier attempt got to, and a way to report.
pub struct JobContext {
    pub id: String,
    pub tenant_id: String,
    pub payload: serde_json::Value,
    pub checkpoint: Option<serde_json::Value>,
    db: Db,
    owner: String,
    lease_ms: i64,
    last_report: Option<Instant>,
}

/// Progress written more often than this is coalesced, unless it carries a checkpoint.
const REPORT_EVERY: Duration = Duration::from_millis(250);

impl JobContext {
    /// Records progress (and a checkpoint to resume from, if given); fails with `Cancelled` when
    /// someone asked the job to stop.
    pub async fn progress(&mut self, report: Report) -> Result<(), JobError> {
        let due = self
            .last_report
            .is_none_or(|at| at.elapsed() >= REPORT_EVERY);
        if !due && report.checkpoint.is_none() {
            return Ok(());
        }
        self.last_report = Some(Instant::now());
        let cancel = jobs::report(&self.db, &self.id, &self.owner, self.lease_ms, &report)
            .await
            .map_err(JobError::from)??;
        if cancel {
            return Err(JobError::Cancelled);
        }
        Ok(())
    }
}

/// Stores a job and wakes a worker of this process; attempts after a crash are capped at three.
pub async fn enqueue(
    app: &App,
    tenant_id: &str,
    kind: &str,
    payload: &serde_json::Value,
) -> crate::error::Result<jobs::Job> {
    let job = jobs::enqueue(&app.db, tenant_id, kind, payload, MAX_ATTEMPTS).await?;
    app.jobs_ready.notify_one();
    Ok(job)
}

/// Runs (first run and resumptions) before a job that keeps dying is failed.
pub const MAX_ATTEMPTS: u32 = 3;

/// Who may see and who may cancel a job of each kind: the actions that let a key start it.
pub fn permissions(kind: &str) -> Option<(Action, Action)> {
    match kind {
        crate::kb::import::KIND => Some((Action::ReadKnowledge, Action::WriteKnowledge)),
        crate::ml::registry::TRAIN_KIND => Some((Action::ReadModels, Action::ManageModels)),
        crate::ml::insights::SCORE_KIND => Some((Action::ReadModels, Action::ManageModels)),
        crate::ml::transcription::TRANSCRIBE_KIND => {
            Some((Action::ReadIncidents, Action::CreateIncidents))
        }
        _ => None,
    }
}

/// Every job kind, for listings.
pub const KINDS: &[&str] = &[
    crate::kb::import::KIND,
    crate::ml::registry::TRAIN_KIND,
    crate::ml::insights::SCORE_KIND,
    crate::ml::transcription::TRANSCRIBE_KIND,
];

/// Runs one claimed job with the handler of its kind.
async fn dispatch(app: &Arc<App>, kind: &str, ctx: &mut JobContext) -> JobResult {
    match kind {
        crate::kb::import::KIND => crate::kb::import::run(app, ctx).await,
        crate::ml::registry::TRAIN_KIND => crate::ml::registry::run_training(app, ctx).await,
        crate::ml::insights::SCORE_KIND => crate::ml::insights::run(app, ctx).await,
        crate::ml::transcription::TRANSCRIBE_KIND => crate::ml::transcription::run(app, ctx).await,
        other => Err(JobError::Failed(format!(
            "no worker knows job kind {other:?}"
        ))),
    }
}

pub type JobResult = Result<serde_json::Value, JobError>;
