//! The worker loop: claim a job, run its handler in its own task beside a heartbeat that renews
//! the lease and watches for cancellation, then record how it ended.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{JobContext, JobError, dispatch};
use crate::App;
use crate::store::jobs::{self, Claimed, Outcome};

/// How often an idle worker looks for work it was not woken for (jobs enqueued by another
/// replica, or a lease that ran out).
const POLL: Duration = Duration::from_secs(1);

/// The workers of this process; stop them before dropping the app.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `app.config.job_workers` workers.
    pub fn start(app: &Arc<App>) -> Workers {
        let (stop, stopped) = watch::channel(false);
        let process = uuid::Uuid::now_v7().simple().to_string();
        let tasks = (0..app.config.job_workers)
            .map(|i| {
                let owner = format!("{process}-{i}");
                tokio::spawn(work(app.clone(), owner, stopped.clone()))
            })
            .collect();
        Workers { stop, tasks }
    }

    /// Stops every worker; a job in progress goes back to the queue to be resumed later.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn work(app: Arc<App>, owner: String, mut stop: watch::Receiver<bool>) {
    let lease_ms = i64::try_from(app.config.job_lease_secs.saturating_mul(1000)).unwrap_or(30_000);
    loop {
        if *stop.borrow() {
            return;
        }
        match jobs::claim(&app.db, &owner, lease_ms).await {
            Ok(Some(claimed)) => run(&app, &owner, lease_ms, claimed, &mut stop).await,
            Ok(None) => {
                tokio::select! {
                    _ = app.jobs_ready.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "claiming a job failed");
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}

async fn run(
    app: &Arc<App>,
    owner: &str,
    lease_ms: i64,
    claimed: Claimed,
    stop: &mut watch::Receiver<bool>,
) {
    let Claimed {
        id,
        tenant_id,
        kind,
        payload,
        checkpoint,
        attempts,
    } = claimed;
    tracing::info!(job = %id, %kind, %tenant_id, attempts, "job started");
    let mut ctx = JobContext {
        id: id.clone(),
        tenant_id,
        payload,
        checkpoint,
        db: app.db.clone(),
        owner: owner.to_owned(),
        lease_ms,
        last_report: None,
    };
    // The handler runs in its own task so that a panic fails the job instead of the worker, and
    // so it can be aborted on cancellation or shutdown.
    let handler_app = app.clone();
    let handler_kind = kind.clone();
    let mut handler =
        tokio::spawn(async move { dispatch(&handler_app, &handler_kind, &mut ctx).await });
    let outcome = tokio::select! {
        joined = &mut handler => match joined {
            Ok(Ok(result)) => Outcome::Succeeded(result),
            Ok(Err(JobError::Cancelled)) => Outcome::Cancelled,
            Ok(Err(JobError::Failed(reason))) => Outcome::Failed(reason),
            Ok(Err(JobError::LeaseLost(lost))) => {
                tracing::warn!(job = %id, "{lost}; another worker took it over");
                return;
            }
            Err(join_error) => {
                tracing::error!(job = %id, %join_error, "job handler panicked");
                Outcome::Failed("the job stopped on an internal error; it has been logged".into())
            }
        },
        end = heartbeat(app, &id, owner, lease_ms) => {
            handler.abort();
            match end {
                Heartbeat::Cancelled => Outcome::Cancelled,
                Heartbeat::Lost => {
                    tracing::warn!(job = %id, "lost the lease; another worker took it over");
                    return;
                }
            }
        },
        _ = stop.changed() => {
            handler.abort();
            Outcome::Released
        },
    };
    tracing::info!(job = %id, %kind, outcome = ?outcome_name(&outcome), "job ended");
    if let Err(error) = jobs::finish(&app.db, &id, owner, outcome).await {
        // The lease runs out and the job is retried: nothing is lost.
        tracing::error!(job = %id, %error, "recording the end of a job failed");
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded(_) => "succeeded",
        Outcome::Failed(_) => "failed",
        Outcome::Cancelled => "cancelled",
        Outcome::Released => "released",
    }
}

enum Heartbeat {
    Cancelled,
    Lost,
}

/// Renews the lease every third of its length until cancellation is asked or the lease is lost.
async fn heartbeat(app: &Arc<App>, id: &str, owner: &str, lease_ms: i64) -> Heartbeat {
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(10_000).max(50));
    loop {
        tokio::time::sleep(every).await;
        match jobs::renew(&app.db, id, owner, lease_ms).await {
            Ok(Ok(false)) => {}
            Ok(Ok(true)) => return Heartbeat::Cancelled,
            Ok(Err(_)) => return Heartbeat::Lost,
            // A database hiccup: try again; the lease is three beats long.
            Err(error) => tracing::warn!(job = %id, %error, "renewing a job lease failed"),
        }
    }
}
