//! The embedded implementation: a qdrant-edge shard in a directory under `ABCALL_DATA_DIR`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::{
    Condition, DEFAULT_VECTOR_NAME, Distance, EdgeConfigBuilder, EdgeShard,
    EdgeVectorParamsBuilder, FieldCondition, FieldIndexOperations, Filter, JsonPath, Match,
    NamedQuery, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, QueryEnum, QueryRequest, ScoringQuery, UpdateOperation, Vectors,
    WithPayloadInterface, WithVector,
};
use serde_json::json;

use super::{
    ARTICLE, Hit, IndexError, IndexFuture, IndexResult, IndexedChunk, LANGUAGE, PRODUCT,
    SearchFilter, TENANT, VectorIndex,
};

/// A qdrant-edge shard in a directory (synchronous engine, driven from blocking tasks).
pub struct EdgeIndex {
    shard: Arc<EdgeShard>,
    /// qdrant-edge's `flush` expects no concurrent update, so writes and flushes take turns.
    writes: Arc<Mutex<()>>,
    path: PathBuf,
    dimension: usize,
}

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
    use super::super::conformance;
    use super::*;

    #[tokio::test]
    async fn searches_see_only_the_callers_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(dir.path(), conformance::DIM).unwrap();
        conformance::searches_see_only_the_callers_tenant(&index).await;
    }

    #[tokio::test]
    async fn writes_survive_a_restart_and_deletes_stay_within_the_tenant() {
        let dir = tempfile::tempdir().unwrap();
        conformance::writes_survive_a_restart_and_deletes_stay_within_the_tenant(|| async {
            Box::new(EdgeIndex::open(dir.path(), conformance::DIM).unwrap()) as Box<dyn VectorIndex>
        })
        .await;
    }

    #[tokio::test]
    async fn a_wrong_dimension_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let index = EdgeIndex::open(dir.path(), conformance::DIM).unwrap();
        conformance::a_wrong_dimension_is_an_error(&index).await;
    }
}
