//! Scores of PQRs, one row per PQR, replaced whenever the PQR is scored again.

use jiff::Timestamp;
use sqlx::{Any, Row, Transaction};

use super::{Db, from_millis, rollups, to_millis};
use crate::domain::rollup;
use crate::error::{Error, Result};

/// Stores (or replaces) a PQR's insights, moving the PQR between the risk and churn rows of the
/// KPI rollups in the same transaction.
pub async fn save(
    db: &Db,
    tenant_id: &str,
    incident_id: &str,
    insights: &serde_json::Value,
) -> Result<()> {
    let (risk, churn) = score_columns(insights);
    let mut tx = db.writer.begin().await?;
    rollups::lock(&mut tx, db.backend, tenant_id, incident_id).await?;
    let (before, _) = rollups::facts(&mut tx, tenant_id, incident_id).await?;
    sqlx::query(
        "INSERT INTO incident_insights \
         (tenant_id, incident_id, insights, scored_at, risk_label, churn_range) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, incident_id) \
         DO UPDATE SET insights = excluded.insights, scored_at = excluded.scored_at, \
         risk_label = excluded.risk_label, churn_range = excluded.churn_range",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .bind(insights.to_string())
    .bind(to_millis(Timestamp::now()))
    .bind(risk)
    .bind(churn)
    .execute(&mut *tx)
    .await?;
    let (after, _) = rollups::facts(&mut tx, tenant_id, incident_id).await?;
    rollups::apply(&mut tx, tenant_id, &rollup::delta(Some(&before), &after)).await?;
    tx.commit().await?;
    Ok(())
}

/// What the rollups count of a PQR's insights: the risk model's label and the churn range of
/// the customer's probability.
fn score_columns(insights: &serde_json::Value) -> (Option<String>, Option<&'static str>) {
    let risk = insights["risk"]["label"].as_str().map(str::to_owned);
    let churn = insights["churn"]["probability"]
        .as_f64()
        .and_then(rollup::churn_range);
    (risk, churn)
}

/// Fills the score columns of insights stored before they existed (rollup rebuilds), a page at a
/// time so millions of rows never sit in memory together.
pub(super) async fn fill_score_columns(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
) -> Result<()> {
    const PAGE: i64 = 2_000;
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT incident_id, insights FROM incident_insights \
             WHERE tenant_id = $1 AND risk_label IS NULL AND churn_range IS NULL \
             AND incident_id > $2 ORDER BY incident_id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(&after)
        .bind(PAGE)
        .fetch_all(&mut **tx)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get("incident_id")?;
        for row in &rows {
            let text: String = row.try_get("insights")?;
            let Ok(insights) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let (risk, churn) = score_columns(&insights);
            if risk.is_none() && churn.is_none() {
                continue;
            }
            sqlx::query(
                "UPDATE incident_insights SET risk_label = $1, churn_range = $2 \
                 WHERE tenant_id = $3 AND incident_id = $4",
            )
            .bind(risk)
            .bind(churn)
            .bind(tenant_id)
            .bind(row.try_get::<String, _>("incident_id")?)
            .execute(&mut **tx)
            .await?;
        }
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn score_columns_read_the_risk_label_and_the_churn_range() {
        let insights = json!({
            "risk": {"label": "alto", "probability": 0.9},
            "churn": {"label": "yes", "probability": 0.45},
        });
        assert_eq!(
            super::score_columns(&insights),
            (Some("alto".to_owned()), Some("40–60%"))
        );
        assert_eq!(
            super::score_columns(&json!({"risk": null, "churn": null})),
            (None, None)
        );
    }
}
