//! abcall: multi-tenant incident intelligence for call centres and telecom operators.
//!
//! [`App`] is the shared state every request sees; [`http::router`] exposes it; `main.rs` is a thin
//! CLI over the same functions the tests call.

pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod http;
pub mod kb;
pub mod ml;
pub mod models;
pub mod store;
pub mod telemetry;
pub mod testkit;

use std::sync::Arc;

use config::Config;
use error::Result;
use store::Db;
use store::tenants::SettingsCache;

/// Everything a request handler needs, built once at start-up.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub settings: SettingsCache,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl App {
    /// Connects to the database, applies migrations and prepares the metrics registry.
    pub async fn start(config: Config) -> Result<Arc<App>> {
        let db = Db::connect(
            config.database_url.as_deref(),
            &config.data_dir,
            config.db_max_connections,
        )
        .await?;
        db.migrate().await?;
        Ok(Arc::new(App {
            config,
            db,
            settings: SettingsCache::default(),
            metrics: telemetry::metrics_handle(),
        }))
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = http::router(app.clone());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    app.db.close().await;
    Ok(())
}
