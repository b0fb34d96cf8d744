//! Survey answers: stored once per PQR, in the transaction that records the answer on the PQR's
//! timeline and moves the PQR's contribution to the CSAT counts of the rollups.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;

use super::{Db, from_millis, rollups, to_millis};
use crate::domain::access::Principal;
use crate::domain::rollup;
use crate::domain::survey::{self, SurveyAnswer};
use crate::error::{Error, Result};

/// A PQR's survey answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Survey {
    pub incident_id: String,
    pub score: i64,
    pub comment: Option<String>,
    pub answered_at: Timestamp,
}

/// Records the answer to a resolved or closed PQR's survey. A PQR is surveyed once: a second
/// answer is a conflict, and so is an answer to a PQR that is not solved yet.
pub async fn answer(
    db: &Db,
    principal: &Principal,
    incident_id: &str,
    answer: SurveyAnswer,
    now: Timestamp,
) -> Result<Survey> {
    let tenant_id = &principal.tenant_id;
    let mut tx = db.writer.begin().await?;
    rollups::lock(&mut tx, db.backend, tenant_id, incident_id).await?;
    let (before, version) = rollups::facts(&mut tx, tenant_id, incident_id).await?;
    if before.survey_score.is_some() {
        return Err(Error::Conflict(
            "the PQR's survey is already answered".into(),
        ));
    }
    if !survey::can_answer(before.state) {
        return Err(Error::Conflict(format!(
            "a PQR is surveyed once it is resolved or closed; this one is {}",
            before.state.as_str()
        )));
    }
    sqlx::query(
        "INSERT INTO incident_surveys (tenant_id, incident_id, score, comment, answered_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .bind(answer.score)
    .bind(&answer.comment)
    .bind(to_millis(now))
    .execute(&mut *tx)
    .await?;
    // The answer is part of the PQR's history, like a transition.
    sqlx::query(
        "UPDATE incidents SET version = version + 1, updated_at = $1 \
         WHERE id = $2 AND tenant_id = $3",
    )
    .bind(to_millis(now))
    .bind(incident_id)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    let data = serde_json::to_value(&answer)
        .map_err(|e| Error::Internal(format!("survey does not serialise: {e}")))?;
    super::incidents::append_event(
        &mut tx,
        principal,
        incident_id,
        version + 1,
        now,
        "survey",
        None,
        None,
        &data,
    )
    .await?;
    let (after, _) = rollups::facts(&mut tx, tenant_id, incident_id).await?;
    rollups::apply(&mut tx, tenant_id, &rollup::delta(Some(&before), &after)).await?;
    tx.commit().await?;
    Ok(Survey {
        incident_id: incident_id.to_owned(),
        score: answer.score,
        comment: answer.comment,
        // As stored: milliseconds, so this reply and later reads agree.
        answered_at: from_millis(to_millis(now)),
    })
}

/// A PQR's survey answer, if it has one.
pub async fn get(db: &Db, tenant_id: &str, incident_id: &str) -> Result<Option<Survey>> {
    let row = sqlx::query(
        "SELECT score, comment, answered_at FROM incident_surveys \
         WHERE tenant_id = $1 AND incident_id = $2",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .fetch_optional(&db.reader)
    .await?;
    row.map(|row| {
        Ok(Survey {
            incident_id: incident_id.to_owned(),
            score: row.try_get("score")?,
            comment: row.try_get("comment")?,
            answered_at: from_millis(row.try_get("answered_at")?),
        })
    })
    .transpose()
}
