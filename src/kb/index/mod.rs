//! Vector indexes of knowledge-base chunks behind one trait: an embedded qdrant-edge shard on disk
//! (the default) and, at scale, a Qdrant server. Every query must name a tenant, and the tenant
//! is a mandatory filter inside the index, so one tenant's search can never return another's
//! chunks.

mod edge;
mod server;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub use edge::EdgeIndex;
pub use server::ServerIndex;

/// A chunk's vector and the fields queries filter on.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    /// The chunk's id (a UUID), also the point id in the index.
    pub id: uuid::Uuid,
    pub tenant_id: String,
    pub article_id: String,
    pub product: Option<String>,
    pub language: String,
    pub vector: Vec<f32>,
}

/// Optional narrowing of a search, on top of the mandatory tenant.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub product: Option<String>,
    pub language: Option<String>,
}

/// One nearest chunk with its cosine similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub chunk_id: uuid::Uuid,
    pub article_id: String,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector index at {path}: {detail}")]
    Storage { path: PathBuf, detail: String },
    #[error("vector has {actual} dimensions, the index holds {expected}")]
    Dimension { expected: usize, actual: usize },
    #[error("vector index task failed: {0}")]
    Task(String),
    #[error("Qdrant server: {0}")]
    Server(String),
}

pub type IndexResult<T> = Result<T, IndexError>;
pub type IndexFuture<'a, T> = Pin<Box<dyn Future<Output = IndexResult<T>> + Send + 'a>>;

/// What the knowledge base needs from a vector store. Writes are durable when they return.
pub trait VectorIndex: Send + Sync {
    fn upsert(&self, chunks: Vec<IndexedChunk>) -> IndexFuture<'_, ()>;
    fn delete(&self, tenant_id: &str, chunk_ids: Vec<uuid::Uuid>) -> IndexFuture<'_, ()>;
    /// Removes every chunk of a tenant (before a rebuild).
    fn delete_tenant(&self, tenant_id: &str) -> IndexFuture<'_, ()>;
    /// Builds search structures after bulk writes (a rebuild); returns whether anything changed.
    fn optimize(&self) -> IndexFuture<'_, bool>;
    /// The `limit` nearest chunks of `tenant_id`'s knowledge base.
    fn search(
        &self,
        tenant_id: &str,
        vector: Vec<f32>,
        filter: SearchFilter,
        limit: usize,
    ) -> IndexFuture<'_, Vec<Hit>>;
}

/// Payload keys stored with every point (the same in both implementations).
const TENANT: &str = "tenant_id";
const ARTICLE: &str = "article_id";
const PRODUCT: &str = "product";
const LANGUAGE: &str = "language";

/// The behaviour every implementation must show, run by each implementation's tests.
#[cfg(test)]
mod conformance {
    use super::*;

    pub const DIM: usize = 8;

    fn unit(seed: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..DIM)
            .map(|i| (((seed * 31 + i * 17) % 23) as f32) - 11.0)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }

    fn chunk(tenant: &str, article: &str, seed: usize, product: Option<&str>) -> IndexedChunk {
        IndexedChunk {
            id: uuid::Uuid::now_v7(),
            tenant_id: tenant.into(),
            article_id: article.into(),
            product: product.map(Into::into),
            language: "es".into(),
            vector: unit(seed),
        }
    }

    pub async fn searches_see_only_the_callers_tenant(index: &dyn VectorIndex) {
        let mut chunks = Vec::new();
        for seed in 0..20 {
            chunks.push(chunk(
                "andina",
                &format!("a-{seed}"),
                seed,
                Some("internet_hogar"),
            ));
            chunks.push(chunk("costa", &format!("c-{seed}"), seed, None));
        }
        index.upsert(chunks).await.unwrap();
        let hits = index
            .search("andina", unit(3), SearchFilter::default(), 10)
            .await
            .unwrap();
        assert_eq!(hits.len(), 10);
        assert_eq!(hits[0].article_id, "a-3");
        assert!((hits[0].score - 1.0).abs() < 1e-4);
        assert!(hits.iter().all(|h| h.article_id.starts_with("a-")));
        let none = index
            .search("nobody", unit(3), SearchFilter::default(), 10)
            .await
            .unwrap();
        assert!(none.is_empty());
        let filtered = index
            .search(
                "costa",
                unit(3),
                SearchFilter {
                    product: Some("internet_hogar".into()),
                    language: None,
                },
                10,
            )
            .await
            .unwrap();
        assert!(filtered.is_empty(), "costa has no internet_hogar chunks");
    }

    /// `open` opens the same index afresh, as a restarted process would.
    pub async fn writes_survive_a_restart_and_deletes_stay_within_the_tenant<F, Fut>(open: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Box<dyn VectorIndex>>,
    {
        let mine = chunk("andina", "a-1", 1, None);
        {
            let index = open().await;
            index
                .upsert(vec![mine.clone(), chunk("andina", "a-2", 2, None)])
                .await
                .unwrap();
        }
        let index = open().await;
        let hits = index
            .search("andina", unit(1), SearchFilter::default(), 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].chunk_id, mine.id);

        // Another tenant naming my chunk's id deletes nothing.
        index.delete("costa", vec![mine.id]).await.unwrap();
        assert_eq!(
            index
                .search("andina", unit(1), SearchFilter::default(), 5)
                .await
                .unwrap()
                .len(),
            2
        );
        index.delete("andina", vec![mine.id]).await.unwrap();
        let hits = index
            .search("andina", unit(1), SearchFilter::default(), 5)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].article_id, "a-2");
        index.delete_tenant("andina").await.unwrap();
        drop(index);
        let index = open().await;
        assert!(
            index
                .search("andina", unit(1), SearchFilter::default(), 5)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn a_wrong_dimension_is_an_error(index: &dyn VectorIndex) {
        let mut bad = chunk("andina", "a", 1, None);
        bad.vector.push(0.0);
        assert!(matches!(
            index.upsert(vec![bad]).await,
            Err(IndexError::Dimension {
                expected: 8,
                actual: 9
            })
        ));
        assert!(
            index
                .search("andina", vec![0.0; 3], SearchFilter::default(), 1)
                .await
                .is_err()
        );
    }
}
