//! Scores of PQRs, one row per PQR, replaced whenever the PQR is scored again.

use jiff::Timestamp;
use sqlx::Row;

use super::{Db, from_millis, to_millis};
use crate::error::{Error, Result};

/// Stores (or replaces) a PQR's insights.
pub async fn save(
    db: &Db,
    tenant_id: &str,
    incident_id: &str,
    insights: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_insights (tenant_id, incident_id, insights, scored_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, incident_id) \
         DO UPDATE SET insights = excluded.insights, scored_at = excluded.scored_at",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .bind(insights.to_string())
    .bind(to_millis(Timestamp::now()))
    .execute(&db.writer)
    .await?;
    Ok(())
}

/// A PQR's insights and when they were computed, if it has been scored.
pub async fn get(
    db: &Db,
    tenant_id: &str,
    incident_id: &str,
) -> Result<Option<(serde_json::Value, Timestamp)>> {
    let row = sqlx::query(
        "SELECT insights, scored_at FROM incident_insights \
         WHERE tenant_id = $1 AND incident_id = $2",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .fetch_optional(&db.reader)
    .await?;
    row.map(|row| {
        let text: String = row.try_get("insights")?;
        let insights = serde_json::from_str(&text)
            .map_err(|e| Error::Internal(format!("unreadable stored insights: {e}")))?;
        Ok((insights, from_millis(row.try_get("scored_at")?)))
    })
    .transpose()
}
