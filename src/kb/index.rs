//! Vector indexes of knowledge-base chunks behind one trait: an embedded qdrant-edge shard on disk
//! (the default) and, at scale, a Qdrant server. Every query must name a tenant, and the tenant
//! is a mandatory filter inside the index, so one tenant's search can never return another's
//! chunks.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use qdrant_edge::{
    Condition, DEFAULT_VECTOR_NAME, Distance, EdgeConfigBuilder, EdgeShard,
    EdgeVectorParamsBuilder, FieldCondition, FieldIndexOperations, Filter, JsonPath, Match,
    NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery, UpdateOperation, Vectors,
    WithPayloadInterface, WithVector,
};
use serde_json::json;

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

/// A qdrant-edge shard in a directory (synchronous engine, driven from blocking tasks).
pub struct EdgeIndex {
    shard: Arc<EdgeShard>,
    /// qdrant-edge's `flush` expects no concurrent update, so writes and flushes take turns.
    writes: Arc<Mutex<()>>,
    path: PathBuf,
    dimension: usize,
}

const TENANT: &str = "tenant_id";
const ARTICLE: &str = "article_id";
const PRODUCT: &str = "product";
const LANGUAGE: &str = "language";

/// A payload key; the names used here are constants, so parsing cannot fail.
fn payload_key(key: &str) -> JsonPath {
    key.parse()
        .expect("a plain payload key is a valid JSON path")
}

fn keyword(key: &str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        payload_key(key),
        Match::from(value.to_owned()),
    ))
}

fn tenant_filter(tenant_id: &str, extra: &SearchFilter) -> Filter {
    let mut filter = Filter::new_must(keyword(TENANT, tenant_id));
    let must = filter.must.get_or_insert_with(Vec::new);
    if let Some(product) = &extra.product {
        must.push(keyword(PRODUCT, product));
    }
    if let Some(language) = &extra.language {
        must.push(keyword(LANGUAGE, language));
    }
    filter
}

impl EdgeIndex {
    /// Opens the shard in `path`, creating it (cosine distance, `dimension`-d vectors, keyword
    /// indexes on the filter fields) on first use.
    pub fn open(path: &Path, dimension: usize) -> IndexResult<EdgeIndex> {
        let storage = |detail: String| IndexError::Storage {
            path: path.to_owned(),
            detail,
        };
        std::fs::create_dir_all(path).map_err(|e| storage(e.to_string()))?;
        let exists = path.join("edge_config.json").exists();
        let shard = if exists {
            EdgeShard::load(path, None).map_err(|e| storage(e.to_string()))?
        } else {
            let config = EdgeConfigBuilder::new()
                .vector(
                    DEFAULT_VECTOR_NAME,
                    EdgeVectorParamsBuilder::new(dimension, Distance::Cosine).build(),
                )
                .build();
            let shard = EdgeShard::new(path, config).map_err(|e| storage(e.to_string()))?;
            for field in [TENANT, ARTICLE, PRODUCT, LANGUAGE] {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                            field_name: payload_key(field),
                            field_schema: Some(PayloadFieldSchema::FieldType(
                                PayloadSchemaType::Keyword,
                            )),
                        }),
                    ))
                    .map_err(|e| storage(e.to_string()))?;
            }
            shard.flush();
            shard
        };
        Ok(EdgeIndex {
            shard: Arc::new(shard),
            writes: Arc::new(Mutex::new(())),
            path: path.to_owned(),
            dimension,
        })
    }

    fn check(&self, vector: &[f32]) -> IndexResult<()> {
        if vector.len() == self.dimension {
            Ok(())
        } else {
            Err(IndexError::Dimension {
                expected: self.dimension,
                actual: vector.len(),
            })
        }
    }

    /// Applies `operation`, then flushes, on a blocking thread.
    fn write(&self, operation: UpdateOperation) -> IndexFuture<'_, ()> {
        let (shard, writes, path) = (self.shard.clone(), self.writes.clone(), self.path.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let _turn = writes
                    .lock()
                    .map_err(|_| IndexError::Task("write lock poisoned".into()))?;
                shard.update(operation).map_err(|e| IndexError::Storage {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
                shard.flush();
                Ok(())
            })
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
        })
    }
}

impl VectorIndex for EdgeIndex {
    /// Builds the HNSW and payload indexes of segments that grew past qdrant-edge's indexing
    /// threshold (after a bulk load or a rebuild), so searches stop scanning every vector.
    fn optimize(&self) -> IndexFuture<'_, bool> {
        let (shard, writes, path) = (self.shard.clone(), self.writes.clone(), self.path.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let _turn = writes
                    .lock()
                    .map_err(|_| IndexError::Task("write lock poisoned".into()))?;
                let optimized = shard.optimize().map_err(|e| IndexError::Storage {
                    path: path.clone(),
                    detail: e.to_string(),
                })?;
                shard.flush();
                Ok(optimized)
            })
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
        })
    }

    fn upsert(&self, chunks: Vec<IndexedChunk>) -> IndexFuture<'_, ()> {
        if let Some(bad) = chunks.iter().find(|c| c.vector.len() != self.dimension) {
            let error = self.check(&bad.vector).err();
            return Box::pin(async move { Err(error.expect("dimension mismatch")) });
        }
        let points = chunks
            .into_iter()
            .map(|chunk| {
                PointStruct::new(
                    PointId::Uuid(chunk.id),
                    Vectors::from(chunk.vector),
                    json!({
                        TENANT: chunk.tenant_id,
                        ARTICLE: chunk.article_id,
                        PRODUCT: chunk.product,
                        LANGUAGE: chunk.language,
                    }),
                )
                .into()
            })
            .collect();
        self.write(UpdateOperation::PointOperation(
            PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
        ))
    }

    fn delete(&self, tenant_id: &str, chunk_ids: Vec<uuid::Uuid>) -> IndexFuture<'_, ()> {
        // By filter rather than by id, so a tenant can only ever delete its own points.
        let mut filter = tenant_filter(tenant_id, &SearchFilter::default());
        filter
            .must
            .get_or_insert_with(Vec::new)
            .push(Condition::HasId(
                chunk_ids
                    .into_iter()
                    .map(PointId::Uuid)
                    .collect::<ahash::AHashSet<_>>()
                    .into(),
            ));
        self.write(UpdateOperation::PointOperation(
            PointOperations::DeletePointsByFilter(filter),
        ))
    }

    fn delete_tenant(&self, tenant_id: &str) -> IndexFuture<'_, ()> {
        self.write(UpdateOperation::PointOperation(
            PointOperations::DeletePointsByFilter(tenant_filter(
                tenant_id,
                &SearchFilter::default(),
            )),
        ))
    }

    fn search(
        &self,
        tenant_id: &str,
        vector: Vec<f32>,
        filter: SearchFilter,
        limit: usize,
    ) -> IndexFuture<'_, Vec<Hit>> {
        if let Err(error) = self.check(&vector) {
            return Box::pin(async move { Err(error) });
        }
        let request = QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                NamedQuery::default_dense(vector),
            ))),
            filter: Some(tenant_filter(tenant_id, &filter)),
            score_threshold: None,
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(true),
        };
        let (shard, path) = (self.shard.clone(), self.path.clone());
        Box::pin(async move {
            let points = tokio::task::spawn_blocking(move || shard.query(request))
                .await
                .map_err(|e| IndexError::Task(e.to_string()))?
                .map_err(|e| IndexError::Storage {
                    path,
                    detail: e.to_string(),
                })?;
            Ok(points
                .into_iter()
                .filter_map(|point| {
                    let PointId::Uuid(chunk_id) = point.id else {
                        return None;
                    };
                    let article_id = point.payload.as_ref()?.0.get(ARTICLE)?.as_str()?.to_owned();
                    Some(Hit {
                        chunk_id,
                        article_id,
                        score: point.score,
                    })
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 8;

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

    #[tokio::test]
    async fn searches_see_only_the_callers_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(dir.path(), DIM).unwrap();
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

    #[tokio::test]
    async fn writes_survive_a_restart_and_deletes_stay_within_the_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let mine = chunk("andina", "a-1", 1, None);
        {
            let index = EdgeIndex::open(dir.path(), DIM).unwrap();
            index
                .upsert(vec![mine.clone(), chunk("andina", "a-2", 2, None)])
                .await
                .unwrap();
        }
        let index = EdgeIndex::open(dir.path(), DIM).unwrap();
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
        let index = EdgeIndex::open(dir.path(), DIM).unwrap();
        assert!(
            index
                .search("andina", unit(1), SearchFilter::default(), 5)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_wrong_dimension_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(dir.path(), DIM).unwrap();
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
