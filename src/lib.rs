//! abcall: multi-tenant incident intelligence for call centres and telecom operators.
//!
//! [`App`] is the shared state every request sees; [`http::router`] exposes it; `main.rs` is a thin
//! CLI over the same functions the tests call.

pub mod audio;
pub mod billing;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod kb;
pub mod live;
pub mod ml;
pub mod models;
pub mod reports;
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
    /// "Now" for registrations and billing; tests move it forward.
    pub clock: clock::Clock,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Trained models loaded so far, by id.
    pub registry: ml::registry::Registry,
    /// What happens in each tenant, for `GET /v1/live`.
    pub live: live::LiveFeed,
    /// Wakes an idle job worker when this process queues a job.
    pub jobs_ready: tokio::sync::Notify,
    /// Recordings and attachments, by sha256.
    pub blobs: Arc<dyn store::blobs::BlobStore>,
    /// Where uploads are streamed (and hashed) before they are stored.
    pub staging_dir: std::path::PathBuf,
    /// Loaded on first use: the embedding model takes a moment and may not be installed.
    knowledge: tokio::sync::OnceCell<Arc<kb::KnowledgeBase>>,
}

/// Makes rustls use ring (already built for tonic) in this process: HTTPS clients (object
/// storage, and any `reqwest` client, which is built without a provider of its own) need one.
/// Idempotent; [`App::start`] calls it.
pub fn init_tls() {
    // Fails only when a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl App {
    /// Connects to the database, applies migrations and prepares the metrics registry.
    pub async fn start(config: Config) -> Result<Arc<App>> {
        init_tls();
        let db = Db::connect(
            config.database_url.as_deref(),
            &config.data_dir,
            config.db_max_connections,
            config.sqlite_sync,
        )
        .await?;
        db.migrate().await?;
        reports::build_missing_rollups(&db).await?;
        let blobs = store::blobs::open(config.blob_url.as_deref(), &config.data_dir)?;
        let staging_dir = config.data_dir.join("blobs").join("staging");
        Ok(Arc::new(App {
            blobs,
            staging_dir,
            config,
            db,
            settings: SettingsCache::default(),
            clock: clock::Clock::default(),
            metrics: telemetry::metrics_handle(),
            jobs_ready: tokio::sync::Notify::new(),
            live: live::LiveFeed::default(),
            registry: ml::registry::Registry::default(),
            knowledge: tokio::sync::OnceCell::new(),
        }))
    }

    /// The knowledge base, loading the embedding model and opening the vector index on first use;
    /// `Unavailable` (503) while the model is not installed.
    pub async fn knowledge(&self) -> Result<Arc<kb::KnowledgeBase>> {
        self.knowledge
            .get_or_try_init(|| async {
                let models_dir = self.config.models_dir.clone();
                let embedder = tokio::task::spawn_blocking(move || {
                    ml::embed::Embedder::shared_e5(&models_dir)
                })
                .await
                .map_err(|e| {
                    error::Error::Internal(format!("loading the embedding model: {e}"))
                })??;
                let index: Arc<dyn kb::index::VectorIndex> = match &self.config.qdrant_url {
                    Some(url) => Arc::new(
                        kb::index::ServerIndex::connect(
                            url,
                            &self.config.qdrant_collection,
                            embedder.dimension(),
                        )
                        .await?,
                    ),
                    None => {
                        let dir = self.config.data_dir.join("vectors").join("kb");
                        let dimension = embedder.dimension();
                        Arc::new(
                            tokio::task::spawn_blocking(move || {
                                kb::index::EdgeIndex::open(&dir, dimension)
                            })
                            .await
                            .map_err(|e| {
                                error::Error::Internal(format!("opening the vector index: {e}"))
                            })??,
                        )
                    }
                };
                Ok(Arc::new(kb::KnowledgeBase::new(
                    self.db.clone(),
                    index,
                    embedder,
                )))
            })
            .await
            .cloned()
    }
}

/// Serves the API and runs the job workers on `listener` until `shutdown` resolves, then drains
/// in-flight requests and puts unfinished jobs back in the queue.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = jobs::Workers::start(&app);
    let router = http::router(app.clone());
    let feed_owner = app.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Live-feed streams never end by themselves; end them so draining can finish.
            feed_owner.live.close();
        })
        .await;
    workers.stop().await;
    app.db.close().await;
    served
}
