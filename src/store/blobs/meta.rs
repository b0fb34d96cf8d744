//! The `blobs` table: which tenant holds which stored bytes, what they are, and until when they
//! must be kept. Every query names the tenant, except the store-wide scrub's list of hashes.

use jiff::{Timestamp, ToSpan, tz::TimeZone};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Error, Result};
use crate::store::{Db, from_millis, to_millis};

/// A tenant's stored file.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BlobRecord {
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    pub original_name: Option<String>,
    pub created_at: Timestamp,
    /// Kept at least until then.
    pub retention_until: Timestamp,
    /// While true the file is kept whatever its retention.
    pub legal_hold: bool,
}

/// What is being recorded for a tenant.
pub struct NewBlob<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub media_type: &'a str,
    pub original_name: Option<&'a str>,
}

/// `years` calendar years after `created` (in UTC; 29 February falls back to the 28th).
pub fn retention_until(created: Timestamp, years: u32) -> Timestamp {
    created
        .to_zoned(TimeZone::UTC)
        .checked_add(i64::from(years).years())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

const COLUMNS: &str =
    "sha256, size, media_type, original_name, created_at, retention_until, legal_hold";

fn from_row(row: &AnyRow) -> Result<BlobRecord> {
    Ok(BlobRecord {
        sha256: row.try_get("sha256")?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        media_type: row.try_get("media_type")?,
        original_name: row.try_get("original_name")?,
        created_at: from_millis(row.try_get("created_at")?),
        retention_until: from_millis(row.try_get("retention_until")?),
        legal_hold: row.try_get::<i64, _>("legal_hold")? != 0,
    })
}

/// Records that the tenant holds `blob` from `now`, kept `years`. Storing the same bytes again
/// keeps one row and extends its retention if the new date is later.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    blob: &NewBlob<'_>,
    now: Timestamp,
    years: u32,
) -> Result<BlobRecord> {
    let until = retention_until(now, years);
    sqlx::query(
        "INSERT INTO blobs (tenant_id, sha256, size, media_type, original_name, created_at, \
         retention_until, legal_hold) VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
         ON CONFLICT (tenant_id, sha256) DO UPDATE SET retention_until = \
         CASE WHEN excluded.retention_until > blobs.retention_until \
         THEN excluded.retention_until ELSE blobs.retention_until END",
    )
    .bind(tenant_id)
    .bind(blob.sha256)
    .bind(blob.size as i64)
    .bind(blob.media_type)
    .bind(blob.original_name)
    .bind(to_millis(now))
    .bind(to_millis(until))
    .execute(&mut **tx)
    .await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM blobs WHERE tenant_id = $1 AND sha256 = $2"
    )))
    .bind(tenant_id)
    .bind(blob.sha256)
    .fetch_one(&mut **tx)
    .await?;
    from_row(&row)
}

/// The tenant's record of `sha256`.
pub async fn get(db: &Db, tenant_id: &str, sha256: &str) -> Result<BlobRecord> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM blobs WHERE tenant_id = $1 AND sha256 = $2"
    )))
    .bind(tenant_id)
    .bind(sha256)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("file"))?;
    from_row(&row)
}

/// Every stored hash with its recorded size, across tenants: what the scrub must find intact.
pub async fn all_hashes(db: &Db) -> Result<Vec<(String, u64)>> {
    let rows =
        sqlx::query("SELECT sha256, MAX(size) AS size FROM blobs GROUP BY sha256 ORDER BY sha256")
            .fetch_all(&db.reader)
            .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("sha256")?,
                row.try_get::<i64, _>("size")?.max(0) as u64,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_counts_calendar_years() {
        let created: Timestamp = "2026-12-03T13:00:00Z".parse().unwrap();
        assert_eq!(
            retention_until(created, 10).to_string(),
            "2036-12-03T13:00:00Z"
        );
        let leap: Timestamp = "2028-02-29T00:00:00Z".parse().unwrap();
        assert_eq!(retention_until(leap, 1).to_string(), "2029-02-28T00:00:00Z");
    }
}
