//! Files attached to a tenant's PQRs; the bytes are in the blob store.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::blobs::meta::{self, NewBlob};
use super::{Db, from_millis, to_millis};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: String,
    pub incident_id: String,
    /// The file name the client sent, if any.
    pub name: Option<String>,
    /// Sniffed from the bytes.
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
    pub retention_until: Timestamp,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "a.id, a.incident_id, a.name, a.media_type, a.size, a.blob_sha256, \
    a.created_at, b.retention_until";
const FROM: &str =
    "FROM attachments a JOIN blobs b ON b.tenant_id = a.tenant_id AND b.sha256 = a.blob_sha256";

fn from_row(row: &AnyRow) -> Result<Attachment> {
    Ok(Attachment {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        name: row.try_get("name")?,
        media_type: row.try_get("media_type")?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        sha256: row.try_get("blob_sha256")?,
        retention_until: from_millis(row.try_get("retention_until")?),
        created_at: from_millis(row.try_get("created_at")?),
    })
}

/// Whether the tenant has this PQR (attachments of another tenant's PQR are a 404).
pub async fn incident_exists(db: &Db, tenant_id: &str, incident_id: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM incidents WHERE id = $1 AND tenant_id = $2")
            .bind(incident_id)
            .bind(tenant_id)
            .fetch_optional(&db.reader)
            .await?
            .is_some(),
    )
}

/// The file a stored attachment is about to become.
pub struct NewAttachment<'a> {
    pub incident_id: &'a str,
    pub name: Option<&'a str>,
    pub media_type: &'a str,
    pub sha256: &'a str,
    pub size: u64,
}

pub async fn insert(
    db: &Db,
    tenant_id: &str,
    new: &NewAttachment<'_>,
    now: Timestamp,
    retention_years: u32,
) -> Result<Attachment> {
    let mut tx = db.writer.begin().await?;
    let blob = NewBlob {
        sha256: new.sha256,
        size: new.size,
        media_type: new.media_type,
        original_name: new.name,
    };
    let stored = meta::record(&mut tx, tenant_id, &blob, now, retention_years).await?;
    let id = crate::domain::new_id();
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, incident_id, blob_sha256, name, media_type, \
         size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(new.incident_id)
    .bind(new.sha256)
    .bind(new.name)
    .bind(new.media_type)
    .bind(new.size as i64)
    .bind(to_millis(now))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attachment {
        id,
        incident_id: new.incident_id.to_owned(),
        name: new.name.map(str::to_owned),
        media_type: new.media_type.to_owned(),
        size: new.size,
        sha256: new.sha256.to_owned(),
        retention_until: stored.retention_until,
        created_at: now,
    })
}

/// The PQR's attachments, oldest first.
pub async fn list(db: &Db, tenant_id: &str, incident_id: &str) -> Result<Vec<Attachment>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE a.tenant_id = $1 AND a.incident_id = $2 ORDER BY a.id"
    )))
    .bind(tenant_id)
    .bind(incident_id)
    .fetch_all(&db.reader)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, tenant_id: &str, incident_id: &str, id: &str) -> Result<Attachment> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE a.tenant_id = $1 AND a.incident_id = $2 AND a.id = $3"
    )))
    .bind(tenant_id)
    .bind(incident_id)
    .bind(id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("attachment"))?;
    from_row(&row)
}
