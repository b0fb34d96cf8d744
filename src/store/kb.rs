//! Knowledge-base articles and their chunks. Saving an article replaces its chunks in the same
//! transaction; which chunks reached the vector index is recorded, so a rebuild knows what to do.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::incidents::{Page, newest_first};
use super::{Db, Sql, from_millis, is_unique_violation, to_millis};
use crate::domain::kb::ArticleData;
use crate::domain::new_id;
use crate::error::{Error, Result};

/// An article as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Article {
    pub id: String,
    pub external_id: Option<String>,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub language: String,
    pub product: Option<String>,
    pub category: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A chunk to embed and index.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub id: String,
    pub article_id: String,
    pub text: String,
    /// The article's, copied into the index for filtering.
    pub product: Option<String>,
    pub language: String,
}

/// A chunk found by a search, with what the agent screen shows.
#[derive(Debug, Clone)]
pub struct ChunkView {
    pub id: String,
    pub article_id: String,
    pub text: String,
    pub title: String,
    pub external_id: Option<String>,
}

const COLUMNS: &str =
    "id, external_id, title, body, tags, language, product, category, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Article> {
    let tags: String = row.try_get("tags")?;
    Ok(Article {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| Error::Internal(format!("unreadable stored tags: {e}")))?,
        language: row.try_get("language")?,
        product: row.try_get("product")?,
        category: row.try_get("category")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// What saving replaced and created.
pub struct Saved {
    pub article: Article,
    /// False when an existing article was replaced.
    pub created: bool,
    pub chunks: Vec<Chunk>,
    /// Chunks of the previous version, to remove from the index.
    pub replaced: Vec<String>,
}

/// Which article a save writes.
#[derive(Debug, Clone, Copy)]
pub enum SaveAs<'a> {
    /// A new article, unless one has the same external id: then that one is replaced.
    New,
    /// This existing article (404 if the tenant has none with this id).
    Replace(&'a str),
    /// Like `New`, but a new article gets this id, and saving again with it replaces it: an
    /// interrupted import that is resumed does not duplicate what it already saved.
    Import(&'a str),
}

/// Creates or replaces an article as `target` says. `chunk_texts` become its chunks, in order.
pub async fn save(
    db: &Db,
    tenant_id: &str,
    target: SaveAs<'_>,
    data: &ArticleData,
    chunk_texts: &[String],
) -> Result<Saved> {
    let now = to_millis(Timestamp::now());
    let tags = serde_json::to_string(&data.tags)
        .map_err(|e| Error::Internal(format!("tags do not serialise: {e}")))?;
    let mut tx = db.writer.begin().await?;
    let by_id = |id: &str| {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM kb_articles WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id.to_owned())
        .bind(tenant_id.to_owned())
    };
    let by_external_id = match (&target, &data.external_id) {
        (SaveAs::Replace(_), _) | (_, None) => None,
        (_, Some(external_id)) => {
            sqlx::query_scalar::<_, String>(
                "SELECT id FROM kb_articles WHERE tenant_id = $1 AND external_id = $2",
            )
            .bind(tenant_id)
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?
        }
    };
    let (existing, fresh_id) = match target {
        SaveAs::Replace(id) => (
            Some(
                by_id(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("article"))?,
            ),
            None,
        ),
        SaveAs::New => (by_external_id, None),
        SaveAs::Import(id) => match by_external_id {
            Some(found) => (Some(found), None),
            None => (by_id(id).fetch_optional(&mut *tx).await?, Some(id)),
        },
    };
    let article_id = existing
        .clone()
        .unwrap_or_else(|| fresh_id.map_or_else(new_id, str::to_owned));
    let written = if existing.is_some() {
        sqlx::query(
            "UPDATE kb_articles SET external_id = $1, title = $2, body = $3, tags = $4, \
             language = $5, product = $6, category = $7, updated_at = $8 \
             WHERE id = $9 AND tenant_id = $10",
        )
        .bind(&data.external_id)
        .bind(&data.title)
        .bind(&data.body)
        .bind(&tags)
        .bind(&data.language)
        .bind(&data.product)
        .bind(&data.category)
        .bind(now)
        .bind(&article_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await
    } else {
        sqlx::query(
            "INSERT INTO kb_articles (id, tenant_id, external_id, title, body, tags, language, \
             product, category, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(&article_id)
        .bind(tenant_id)
        .bind(&data.external_id)
        .bind(&data.title)
        .bind(&data.body)
        .bind(&tags)
        .bind(&data.language)
        .bind(&data.product)
        .bind(&data.category)
        .bind(now)
        .execute(&mut *tx)
        .await
    };
    match written {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(
                "another article already has this external_id".into(),
            ));
        }
        other => other?,
    };
    let replaced: Vec<String> =
        sqlx::query_scalar("SELECT id FROM kb_chunks WHERE tenant_id = $1 AND article_id = $2")
            .bind(tenant_id)
            .bind(&article_id)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM kb_chunks WHERE tenant_id = $1 AND article_id = $2")
        .bind(tenant_id)
        .bind(&article_id)
        .execute(&mut *tx)
        .await?;
    let mut chunks = Vec::with_capacity(chunk_texts.len());
    for (seq, text) in chunk_texts.iter().enumerate() {
        let chunk = Chunk {
            id: new_id(),
            article_id: article_id.clone(),
            text: text.clone(),
            product: data.product.clone(),
            language: data.language.clone(),
        };
        sqlx::query(
            "INSERT INTO kb_chunks (id, tenant_id, article_id, seq, text) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&chunk.id)
        .bind(tenant_id)
        .bind(&chunk.article_id)
        .bind(seq as i64)
        .bind(&chunk.text)
        .execute(&mut *tx)
        .await?;
        chunks.push(chunk);
    }
    tx.commit().await?;
    Ok(Saved {
        article: get(db, tenant_id, &article_id).await?,
        created: existing.is_none(),
        chunks,
        replaced,
    })
}

/// Records that these chunks' vectors are in the index.
pub async fn mark_indexed(db: &Db, tenant_id: &str, chunk_ids: &[String]) -> Result<()> {
    let now = to_millis(Timestamp::now());
    for ids in chunk_ids.chunks(500) {
        let mut sql = Sql::new("UPDATE kb_chunks SET indexed_at = ");
        sql.bind(now)
            .push(" WHERE tenant_id = ")
            .bind(tenant_id.to_owned());
        sql.push(" AND id IN ").bind_list(ids.iter().cloned());
        sql.execute(&db.writer).await?;
    }
    Ok(())
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Article> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM kb_articles WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("article"))?;
    from_row(&row)
}

/// Newest first.
pub async fn list(
    db: &Db,
    tenant_id: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Page<Article>> {
    newest_first(
        db,
        "kb_articles",
        COLUMNS,
        tenant_id,
        (limit, cursor),
        from_row,
        |a| a.id.clone(),
    )
    .await
}

/// Deletes an article and its chunks; returns the chunk ids to remove from the index.
pub async fn delete(db: &Db, tenant_id: &str, id: &str) -> Result<Vec<String>> {
    let mut tx = db.writer.begin().await?;
    let chunks: Vec<String> =
        sqlx::query_scalar("SELECT id FROM kb_chunks WHERE tenant_id = $1 AND article_id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM kb_chunks WHERE tenant_id = $1 AND article_id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM kb_articles WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(Error::NotFound("article"));
    }
    tx.commit().await?;
    Ok(chunks)
}

/// The chunks (with their article's title) for ids a vector search returned, in no order.
pub async fn chunk_views(db: &Db, tenant_id: &str, ids: &[String]) -> Result<Vec<ChunkView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT c.id, c.article_id, c.text, a.title, a.external_id FROM kb_chunks c \
         JOIN kb_articles a ON a.id = c.article_id AND a.tenant_id = c.tenant_id \
         WHERE c.tenant_id = ",
    );
    sql.bind(tenant_id.to_owned())
        .push(" AND c.id IN ")
        .bind_list(ids.iter().cloned());
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|row| {
            Ok(ChunkView {
                id: row.try_get(0)?,
                article_id: row.try_get(1)?,
                text: row.try_get(2)?,
                title: row.try_get(3)?,
                external_id: row.try_get(4)?,
            })
        })
        .collect()
}

/// Every chunk of a tenant (or of all tenants), for rebuilding the index.
pub async fn all_chunks(db: &Db, tenant_id: Option<&str>) -> Result<Vec<(String, Chunk)>> {
    let mut sql = Sql::new(
        "SELECT c.tenant_id, c.id, c.article_id, c.text, a.product, a.language FROM kb_chunks c \
         JOIN kb_articles a ON a.id = c.article_id AND a.tenant_id = c.tenant_id",
    );
    if let Some(tenant_id) = tenant_id {
        sql.push(" WHERE c.tenant_id = ").bind(tenant_id.to_owned());
    }
    sql.push(" ORDER BY c.tenant_id, c.article_id, c.seq");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get(0)?,
                Chunk {
                    id: row.try_get(1)?,
                    article_id: row.try_get(2)?,
                    text: row.try_get(3)?,
                    product: row.try_get(4)?,
                    language: row.try_get(5)?,
                },
            ))
        })
        .collect()
}

/// Titles of a tenant's articles by id (chunks are embedded with their article's title).
pub async fn titles(db: &Db, tenant_id: &str) -> Result<std::collections::HashMap<String, String>> {
    let rows = sqlx::query("SELECT id, title FROM kb_articles WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_all(&db.reader)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}
