//! Stored datasets: the file under `<data_dir>/datasets/<tenant>/`, written before its row, so a
//! row always names a complete file; neither changes afterwards.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::files::{sha256_hex, write_atomically};
use super::incidents::{Page, newest_first};
use super::{Db, from_millis, to_millis};
use crate::domain::dataset::{DatasetKind, DatasetSchema, FileFormat};
use crate::domain::new_id;
use crate::error::{Error, Result};

/// A dataset as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub kind: DatasetKind,
    pub format: FileFormat,
    /// sha256 of the stored file (decompressed), recorded with every model trained on it.
    pub sha256: String,
    pub bytes: i64,
    pub rows: i64,
    pub schema: DatasetSchema,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub path: PathBuf,
}

const COLUMNS: &str = "id, name, kind, format, sha256, bytes, rows, schema, path, created_at";

fn from_row(row: &AnyRow) -> Result<Dataset> {
    let kind: String = row.try_get("kind")?;
    let format: String = row.try_get("format")?;
    let schema: String = row.try_get("schema")?;
    let path: String = row.try_get("path")?;
    Ok(Dataset {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: DatasetKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("unknown stored dataset kind {kind:?}")))?,
        format: match format.as_str() {
            "csv" => FileFormat::Csv,
            "jsonl" => FileFormat::Jsonl,
            other => return Err(Error::Internal(format!("unknown stored format {other:?}"))),
        },
        sha256: row.try_get("sha256")?,
        bytes: row.try_get("bytes")?,
        rows: row.try_get("rows")?,
        schema: serde_json::from_str(&schema)
            .map_err(|e| Error::Internal(format!("unreadable stored schema: {e}")))?,
        path: PathBuf::from(path),
        created_at: from_millis(row.try_get("created_at")?),
    })
}

/// What to store: the validated file and what was learnt from it.
pub struct NewDataset<'a> {
    pub name: &'a str,
    pub kind: DatasetKind,
    pub format: FileFormat,
    pub bytes: &'a [u8],
    pub schema: &'a DatasetSchema,
}

/// Writes the file durably, then its row.
pub async fn create(
    db: &Db,
    data_dir: &Path,
    tenant_id: &str,
    new: NewDataset<'_>,
) -> Result<Dataset> {
    let id = new_id();
    let path = data_dir
        .join("datasets")
        .join(tenant_id)
        .join(format!("{id}.{}", new.format.as_str()));
    let sha256 = sha256_hex(new.bytes);
    {
        let (path, bytes) = (path.clone(), new.bytes.to_vec());
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| Error::Internal(format!("writing the dataset failed: {e}")))??;
    }
    let schema = serde_json::to_string(new.schema)
        .map_err(|e| Error::Internal(format!("schema does not serialise: {e}")))?;
    sqlx::query(
        "INSERT INTO datasets (id, tenant_id, name, kind, format, sha256, bytes, rows, schema, \
         path, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(new.name)
    .bind(new.kind.as_str())
    .bind(new.format.as_str())
    .bind(&sha256)
    .bind(new.bytes.len() as i64)
    .bind(new.schema.rows as i64)
    .bind(schema)
    .bind(path.to_string_lossy().into_owned())
    .bind(to_millis(Timestamp::now()))
    .execute(&db.writer)
    .await?;
    get(db, tenant_id, &id).await
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Dataset> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM datasets WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("dataset"))?;
    from_row(&row)
}

pub async fn list(
    db: &Db,
    tenant_id: &str,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Page<Dataset>> {
    newest_first(
        db,
        "datasets",
        COLUMNS,
        tenant_id,
        (limit, cursor),
        from_row,
        |d| d.id.clone(),
    )
    .await
}

/// Reads a stored dataset's file back, checking it is the file that was stored.
pub async fn read_file(dataset: &Dataset) -> Result<Vec<u8>> {
    let bytes = tokio::fs::read(&dataset.path)
        .await
        .map_err(|e| Error::Internal(format!("reading dataset {}: {e}", dataset.path.display())))?;
    if sha256_hex(&bytes) != dataset.sha256 {
        return Err(Error::Internal(format!(
            "dataset {} does not match its checksum: the file was damaged",
            dataset.id
        )));
    }
    Ok(bytes)
}

/// Deletes the row, then the file. Models trained on it keep working (they keep the checksum).
pub async fn delete(db: &Db, tenant_id: &str, id: &str) -> Result<()> {
    let dataset = get(db, tenant_id, id).await?;
    sqlx::query("DELETE FROM datasets WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant_id)
        .execute(&db.writer)
        .await?;
    if let Err(error) = tokio::fs::remove_file(&dataset.path).await {
        tracing::warn!(path = %dataset.path.display(), %error, "dataset file not removed");
    }
    Ok(())
}
