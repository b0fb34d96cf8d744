//! Starting a real server for black-box tests and load benchmarks: bound on 127.0.0.1:0, over a
//! fresh database, stopped when dropped. Lives in the library so tests and benches share it.

use std::sync::Arc;

use sqlx::Connection;

use crate::App;
use crate::config::Config;
use crate::error::{Error, Result};

/// A server running in this process.
pub struct Running {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub app: Arc<App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops the server and waits until it has released the app (files closed, indexes flushed).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        // Connection tasks still hold the router (and so the app) for a moment after the server
        // returns; wait until ours is the last handle, so the app is dropped here and now.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&self.app) > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the app with `config` (its `bind` is ignored) on an ephemeral loopback port. With
/// `RUST_LOG` set, the service's logs appear in the test output.
pub async fn start(config: Config) -> Result<Running> {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
    let app = App::start(config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Internal(format!("cannot bind 127.0.0.1:0: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::serve(app.clone(), listener, async {
        let _ = rx.await;
    }));
    Ok(Running {
        base: format!("http://{address}"),
        app,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Creates an empty PostgreSQL database named `abcall_t_<uuid>` next to `base_url`'s and
/// returns its URL; `scripts/test` drops these after a run.
pub async fn fresh_postgres_database(base_url: &str) -> Result<String> {
    sqlx::any::install_default_drivers();
    let name = format!("abcall_t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::AnyConnection::connect(base_url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (prefix, _) = base_url
        .rsplit_once('/')
        .ok_or_else(|| Error::Internal(format!("{base_url} has no database path")))?;
    Ok(format!("{prefix}/{name}"))
}

/// The configuration a bench starts the service with: data under `data_dir`, and for
/// `backend == "postgres"` a fresh database next to `ABCALL_TEST_POSTGRES_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`); SQLite otherwise.
pub async fn bench_config(backend: &str, data_dir: &std::path::Path) -> Result<Config> {
    let mut config = Config {
        data_dir: data_dir.to_owned(),
        ..Config::default()
    };
    if backend == "postgres" {
        let base = std::env::var("ABCALL_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        config.database_url = Some(fresh_postgres_database(&base).await?);
    }
    Ok(config)
}
