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
    /// Loaded on first use: the embedding model takes a moment and may not be installed.
    knowledge: tokio::sync::OnceCell<Arc<kb::KnowledgeBase>>,
}

impl App {
    /// Connects to the database, applies migrations and prepares the metrics registry.
    pub async fn start(config: Config) -> Result<Arc<App>> {
        let db = Db::connect(
            config.database_url.as_deref(),
            &config.data_dir,
            config.db_max_connections,
            config.sqlite_sync,
        )
        .await?;
        db.migrate().await?;
        Ok(Arc::new(App {
            config,
            db,
            settings: SettingsCache::default(),
            metrics: telemetry::metrics_handle(),
            knowledge: tokio::sync::OnceCell::new(),
        }))
    }

    /// The knowledge base, loading the embedding model and opening the vector index on first use;
    /// `Unavailable` (503) while the model is not installed.
    pub async fn knowledge(&self) -> Result<Arc<kb::KnowledgeBase>> {
        self.knowledge
            .get_or_try_init(|| async {
                let models_dir = self.config.models_dir.clone();
                let index_dir = self.config.data_dir.join("vectors").join("kb");
                let db = self.db.clone();
                tokio::task::spawn_blocking(move || {
                    let embedder = ml::embed::Embedder::shared_e5(&models_dir)?;
                    let index = kb::index::EdgeIndex::open(&index_dir, embedder.dimension())?;
                    Ok(Arc::new(kb::KnowledgeBase::new(
                        db,
                        Arc::new(index),
                        embedder,
                    )))
                })
                .await
                .map_err(|e| error::Error::Internal(format!("loading the knowledge base: {e}")))?
            })
            .await
            .cloned()
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
