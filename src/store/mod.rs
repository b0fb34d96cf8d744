//! Persistence through sqlx's `Any` driver, so one set of portable SQL runs on SQLite (embedded
//! default) and PostgreSQL (production). Timestamps are stored as UTC milliseconds (`BIGINT`),
//! JSON as `TEXT`, ids as `TEXT`; every query is scoped by the tenant id of the caller.

pub mod attachments;
pub mod billing;
pub mod blobs;
pub mod call_sessions;
pub mod calls;
pub mod customers;
pub mod datasets;
pub mod files;
pub mod idempotency;
pub mod incidents;
pub mod insights;
pub mod jobs;
pub mod kb;
pub mod kpis;
pub mod models;
pub mod rollups;
pub mod search;
mod sql;
pub mod surveys;
pub mod tenants;
pub mod transcripts;

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, ConnectOptions, Executor, SqlSafeStr};

pub use sql::Sql;

use crate::error::{Error, Result};

/// Which engine sits behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Database handle. SQLite allows one writer at a time, so it gets a single-connection writer pool
/// (no `SQLITE_BUSY` under load) beside a reader pool; PostgreSQL uses one pool for both.
#[derive(Debug, Clone)]
pub struct Db {
    pub reader: AnyPool,
    pub writer: AnyPool,
    pub backend: Backend,
}

/// A migration's SQL: the same on both backends, or written for each (full-text search uses
/// SQLite's FTS5 and PostgreSQL's tsvector).
enum Schema {
    Portable(&'static str),
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

/// The schema, embedded in the binary. Migrations are portable SQL run on both backends, except
/// where [`Schema::PerBackend`] says otherwise.
const MIGRATIONS: &[(i64, &str, Schema)] = &[
    (
        1,
        "init",
        Schema::Portable(include_str!("../../migrations/0001_init.sql")),
    ),
    (
        2,
        "kb",
        Schema::Portable(include_str!("../../migrations/0002_kb.sql")),
    ),
    (
        3,
        "jobs",
        Schema::Portable(include_str!("../../migrations/0003_jobs.sql")),
    ),
    (
        4,
        "models",
        Schema::Portable(include_str!("../../migrations/0004_models.sql")),
    ),
    (
        5,
        "insights",
        Schema::Portable(include_str!("../../migrations/0005_insights.sql")),
    ),
    (
        6,
        "billing",
        Schema::Portable(include_str!("../../migrations/0006_billing.sql")),
    ),
    (
        7,
        "kpi_rollups",
        Schema::Portable(include_str!("../../migrations/0007_kpi_rollups.sql")),
    ),
    (
        8,
        "calls",
        Schema::Portable(include_str!("../../migrations/0008_calls.sql")),
    ),
    (
        9,
        "surveys_and_score_kpis",
        Schema::Portable(include_str!(
            "../../migrations/0009_surveys_and_score_kpis.sql"
        )),
    ),
    (
        10,
        "call_transcripts",
        Schema::Portable(include_str!("../../migrations/0010_call_transcripts.sql")),
    ),
    (
        11,
        "call_sessions",
        Schema::Portable(include_str!("../../migrations/0011_call_sessions.sql")),
    ),
    (
        12,
        "search",
        Schema::PerBackend {
            sqlite: include_str!("../../migrations/0012_search.sqlite.sql"),
            postgres: include_str!("../../migrations/0012_search.postgres.sql"),
        },
    ),
];

impl Db {
    /// Connects to `url` (`postgres://…` or `sqlite://…`), or to `<data_dir>/abcall.db`.
    pub async fn connect(
        url: Option<&str>,
        data_dir: &Path,
        max_connections: u32,
        sqlite_sync: crate::config::SqliteSync,
    ) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let url = match url {
            Some(url) => url.to_owned(),
            None => {
                std::fs::create_dir_all(data_dir).map_err(|e| {
                    Error::Internal(format!(
                        "cannot create data dir {}: {e}",
                        data_dir.display()
                    ))
                })?;
                format!("sqlite://{}?mode=rwc", data_dir.join("abcall.db").display())
            }
        };
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::Internal(
                "ABCALL_DATABASE_URL must start with postgres:// or sqlite://".into(),
            ));
        };
        let options = AnyConnectOptions::from_str(&url)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            let pragmas = format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                                sqlite_sync.pragma()
                            );
                            conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                        }
                        Ok(())
                    })
                })
        };
        let (reader, writer) = match backend {
            Backend::Sqlite => {
                let writer = pool(1).connect_with(options.clone()).await?;
                let reader = pool(max_connections).connect_with(options).await?;
                (reader, writer)
            }
            Backend::Postgres => {
                let shared = pool(max_connections).connect_with(options).await?;
                (shared.clone(), shared)
            }
        };
        Ok(Db {
            reader,
            writer,
            backend,
        })
    }

    /// Applies pending migrations; safe to run from several replicas at once (sqlx takes a lock).
    pub async fn migrate(&self) -> Result<()> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, description, schema)| {
                let sql = match (schema, self.backend) {
                    (Schema::Portable(sql), _) => sql,
                    (Schema::PerBackend { sqlite, .. }, Backend::Sqlite) => sqlite,
                    (Schema::PerBackend { postgres, .. }, Backend::Postgres) => postgres,
                };
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect::<Vec<_>>();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator.run(&self.writer).await?;
        Ok(())
    }

    /// A cheap round trip for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

/// Timestamps are stored as milliseconds since the Unix epoch.
pub fn to_millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub fn from_millis(millis: i64) -> Timestamp {
    Timestamp::from_millisecond(millis).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Whether an error is a unique-constraint violation (a lost race on an insert).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SqliteSync;

    #[tokio::test]
    async fn sqlite_commits_are_as_durable_as_configured() {
        for (sync, expected) in [(SqliteSync::Full, 2i64), (SqliteSync::Normal, 1)] {
            let dir = tempfile::tempdir().unwrap();
            let db = Db::connect(None, dir.path(), 2, sync).await.unwrap();
            for pool in [&db.writer, &db.reader] {
                let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(level, expected, "{sync:?}");
                let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(mode, "wal");
            }
            db.close().await;
        }
    }
}
