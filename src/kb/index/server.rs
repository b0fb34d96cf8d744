//! The scale-out implementation: one collection on a Qdrant server (or cluster) over gRPC, shared
//! by every tenant and every replica of the service. The tenant is a keyword payload index marked
//! `is_tenant` (Qdrant then lays out storage per tenant) and a `must` condition of every query and
//! delete. Writes wait until the server has applied them (`wait = true`), so they are durable when
//! they return, as with the embedded shard.

use std::time::Duration;

use qdrant_client::Qdrant;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{
    Condition, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, KeywordIndexParamsBuilder, PointId, PointStruct,
    QueryPointsBuilder, UpsertPointsBuilder, VectorParamsBuilder,
};

use super::{
    ARTICLE, Hit, IndexError, IndexFuture, IndexResult, IndexedChunk, LANGUAGE, PRODUCT,
    SearchFilter, TENANT, VectorIndex,
};

pub struct ServerIndex {
    client: Qdrant,
    collection: String,
    dimension: usize,
}

fn server_error(error: qdrant_client::QdrantError) -> IndexError {
    IndexError::Server(error.to_string())
}

fn tenant_filter(tenant_id: &str, extra: &SearchFilter) -> Filter {
    let mut must = vec![Condition::matches(TENANT, tenant_id.to_owned())];
    if let Some(product) = &extra.product {
        must.push(Condition::matches(PRODUCT, product.clone()));
    }
    if let Some(language) = &extra.language {
        must.push(Condition::matches(LANGUAGE, language.clone()));
    }
    Filter::must(must)
}

impl ServerIndex {
    /// Connects to `url` (gRPC, e.g. `http://127.0.0.1:6334`) and creates `collection` (cosine,
    /// `dimension`-d, keyword indexes on the filter fields) if it does not exist yet.
    pub async fn connect(
        url: &str,
        collection: &str,
        dimension: usize,
    ) -> IndexResult<ServerIndex> {
        let client = Qdrant::from_url(url)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check()
            .build()
            .map_err(server_error)?;
        let index = ServerIndex {
            client,
            collection: collection.to_owned(),
            dimension,
        };
        index.ensure_collection().await?;
        Ok(index)
    }

    async fn ensure_collection(&self) -> IndexResult<()> {
        if self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(server_error)?
        {
            return Ok(());
        }
        let created = self
            .client
            .create_collection(
                CreateCollectionBuilder::new(&self.collection).vectors_config(
                    VectorParamsBuilder::new(self.dimension as u64, Distance::Cosine),
                ),
            )
            .await;
        // Another replica may have created it meanwhile.
        if let Err(error) = created
            && !self
                .client
                .collection_exists(&self.collection)
                .await
                .map_err(server_error)?
        {
            return Err(server_error(error));
        }
        for field in [TENANT, ARTICLE, PRODUCT, LANGUAGE] {
            let mut request =
                CreateFieldIndexCollectionBuilder::new(&self.collection, field, FieldType::Keyword)
                    .wait(true);
            if field == TENANT {
                request = request
                    .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true));
            }
            self.client
                .create_field_index(request)
                .await
                .map_err(server_error)?;
        }
        Ok(())
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

    async fn delete_where(&self, filter: Filter) -> IndexResult<()> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(server_error)?;
        Ok(())
    }
}

impl VectorIndex for ServerIndex {
    fn upsert(&self, chunks: Vec<IndexedChunk>) -> IndexFuture<'_, ()> {
        Box::pin(async move {
            for chunk in &chunks {
                self.check(&chunk.vector)?;
            }
            let points: Vec<PointStruct> = chunks
                .into_iter()
                .map(|chunk| {
                    let mut payload = qdrant_client::Payload::new();
                    payload.insert(TENANT, chunk.tenant_id);
                    payload.insert(ARTICLE, chunk.article_id);
                    if let Some(product) = chunk.product {
                        payload.insert(PRODUCT, product);
                    }
                    payload.insert(LANGUAGE, chunk.language);
                    PointStruct::new(chunk.id.to_string(), chunk.vector, payload)
                })
                .collect();
            if points.is_empty() {
                return Ok(());
            }
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
                .await
                .map_err(server_error)?;
            Ok(())
        })
    }

    fn delete(&self, tenant_id: &str, chunk_ids: Vec<uuid::Uuid>) -> IndexFuture<'_, ()> {
        // By filter rather than by id, so a tenant can only ever delete its own points.
        let tenant = Condition::matches(TENANT, tenant_id.to_owned());
        Box::pin(async move {
            if chunk_ids.is_empty() {
                return Ok(());
            }
            let ids = chunk_ids.iter().map(|id| PointId::from(id.to_string()));
            self.delete_where(Filter::must([tenant, Condition::has_id(ids)]))
                .await
        })
    }

    fn delete_tenant(&self, tenant_id: &str) -> IndexFuture<'_, ()> {
        let filter = tenant_filter(tenant_id, &SearchFilter::default());
        Box::pin(async move { self.delete_where(filter).await })
    }

    /// The server builds its indexes itself, in the background.
    fn optimize(&self) -> IndexFuture<'_, bool> {
        Box::pin(async { Ok(false) })
    }

    fn search(
        &self,
        tenant_id: &str,
        vector: Vec<f32>,
        filter: SearchFilter,
        limit: usize,
    ) -> IndexFuture<'_, Vec<Hit>> {
        let filter = tenant_filter(tenant_id, &filter);
        Box::pin(async move {
            self.check(&vector)?;
            let response = self
                .client
                .query(
                    QueryPointsBuilder::new(&self.collection)
                        .query(vector)
                        .filter(filter)
                        .limit(limit as u64)
                        .with_payload(true),
                )
                .await
                .map_err(server_error)?;
            Ok(response
                .result
                .into_iter()
                .filter_map(|point| {
                    let Some(PointIdOptions::Uuid(id)) = point.id?.point_id_options else {
                        return None;
                    };
                    let Some(Kind::StringValue(article_id)) =
                        point.payload.get(ARTICLE)?.kind.clone()
                    else {
                        return None;
                    };
                    Some(Hit {
                        chunk_id: uuid::Uuid::parse_str(&id).ok()?,
                        article_id,
                        score: point.score,
                    })
                })
                .collect())
        })
    }
}

/// Run only when `ABCALL_TEST_QDRANT_URL` names a server (e.g. `http://127.0.0.1:6334`); each test
/// uses a collection of its own and drops it at the end.
#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    fn server_url() -> Option<String> {
        let url = std::env::var("ABCALL_TEST_QDRANT_URL").ok();
        if url.is_none() {
            eprintln!("ABCALL_TEST_QDRANT_URL is not set: Qdrant server tests skipped");
        }
        url
    }

    async fn open(url: &str, collection: &str) -> ServerIndex {
        ServerIndex::connect(url, collection, conformance::DIM)
            .await
            .expect("Qdrant server reachable")
    }

    async fn drop_collection(url: &str, collection: &str) {
        let index = open(url, collection).await;
        index.client.delete_collection(collection).await.unwrap();
    }

    fn collection() -> String {
        format!("abcall_test_{}", uuid::Uuid::now_v7().simple())
    }

    #[tokio::test]
    async fn searches_see_only_the_callers_tenant() {
        let Some(url) = server_url() else { return };
        let name = collection();
        conformance::searches_see_only_the_callers_tenant(&open(&url, &name).await).await;
        drop_collection(&url, &name).await;
    }

    #[tokio::test]
    async fn writes_survive_a_restart_and_deletes_stay_within_the_tenant() {
        let Some(url) = server_url() else { return };
        let name = collection();
        conformance::writes_survive_a_restart_and_deletes_stay_within_the_tenant(|| async {
            Box::new(open(&url, &name).await) as Box<dyn VectorIndex>
        })
        .await;
        drop_collection(&url, &name).await;
    }

    #[tokio::test]
    async fn a_wrong_dimension_is_an_error() {
        let Some(url) = server_url() else { return };
        let name = collection();
        conformance::a_wrong_dimension_is_an_error(&open(&url, &name).await).await;
        drop_collection(&url, &name).await;
    }
}
