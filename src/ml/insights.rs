//! What the tenant's models say about a PQR: risk, category and sentiment of its text (active
//! text models named `risk`, `category`, `sentiment`) and the churn probability of its customer
//! (an active tabular model named `churn`). Computed by a job queued with the PQR, so the 201 of
//! registration never waits for a model.

use std::sync::Arc;

use serde_json::{Value, json};

use super::embed::Purpose;
use super::registry::{self, Artifact, Input, Scored};
use crate::App;
use crate::domain::retention::Facts;
use crate::error::{Error, Result};
use crate::jobs::{JobContext, JobError, JobResult};
use crate::store::incidents::{self, Incident, ScoringJob};
use crate::store::{insights, models, transcripts};

/// The job kind.
pub const SCORE_KIND: &str = "score_incident";

/// Queued with each PQR of a tenant that has models; scoring is cheap to retry.
pub const SCORING_JOB: ScoringJob = ScoringJob {
    kind: SCORE_KIND,
    max_attempts: crate::jobs::MAX_ATTEMPTS,
};

/// Text models applied to every PQR, by registry name.
pub const TEXT_MODELS: [&str; 3] = ["risk", "category", "sentiment"];

/// The job: scores the PQR and stores the result.
pub async fn run(app: &Arc<App>, ctx: &mut JobContext) -> JobResult {
    let incident_id = ctx.payload["incident_id"]
        .as_str()
        .ok_or_else(|| JobError::Failed("the scoring job names no PQR".into()))?
        .to_owned();
    let incident = incidents::get(&app.db, &ctx.tenant_id, &incident_id).await?;
    let scores = score_incident(app, &ctx.tenant_id, &incident).await?;
    insights::save(&app.db, &ctx.tenant_id, &incident_id, &scores).await?;
    publish(app, &ctx.tenant_id, &incident_id, &scores);
    Ok(scores)
}

/// Risk labels that raise an alert on the live feed.
const ALERTING_RISK: [&str; 3] = ["alto", "high", "critico"];

/// Tells live dashboards about the scores, with an alert for high risk or a retention offer.
fn publish(app: &App, tenant_id: &str, incident_id: &str, scores: &Value) {
    let risk = scores["risk"]["label"].as_str();
    app.live.publish(
        tenant_id,
        "incident.scored",
        json!({
            "id": incident_id, "risk": risk,
            "churn_probability": scores["churn"]["probability"],
        }),
    );
    let high_risk = risk.is_some_and(|r| ALERTING_RISK.contains(&r.to_lowercase().as_str()));
    let offer = !scores["offer"].is_null();
    if high_risk || offer {
        app.live.publish(
            tenant_id,
            "alert",
            json!({
                "id": incident_id,
                "reason": if high_risk { "high_risk" } else { "churn_risk" },
                "risk": risk, "offer": scores["offer"],
            }),
        );
    }
}

fn scored(model: &models::ModelVersion, prediction: super::tabular::Prediction) -> Value {
    serde_json::to_value(Scored {
        model_id: model.id.clone(),
        name: model.name.clone(),
        version: model.version,
        prediction,
    })
    .unwrap_or(Value::Null)
}

/// Scores a PQR with every applicable active model; missing models leave `null`. The text models
/// read the subject, the description and the transcripts of the PQR's calls (`transcripts` says
/// how many).
pub async fn score_incident(app: &App, tenant_id: &str, incident: &Incident) -> Result<Value> {
    let mut out = json!({
        "risk": null, "category": null, "sentiment": null, "churn": null, "offer": null,
        "transcripts": 0
    });
    let mut text_models = Vec::new();
    for name in TEXT_MODELS {
        if let Some(model) = models::active(&app.db, tenant_id, name).await?
            && let Artifact::Text(text) = app.registry.load(&model).await?.as_ref()
        {
            text_models.push((model.clone(), text.clone()));
        }
    }
    if !text_models.is_empty() {
        // One embedding of the PQR's text (with what was said in its transcribed calls) serves
        // every text model.
        let mut text = format!("{}\n{}", incident.subject, incident.description);
        let transcripts = transcripts::of_incident(&app.db, tenant_id, &incident.id).await?;
        out["transcripts"] = json!(transcripts.len());
        for transcript in transcripts {
            text.push('\n');
            text.push_str(&transcript);
        }
        let embedder = registry::load_embedder(app).await?;
        let vector =
            tokio::task::spawn_blocking(move || embedder.embed(&[text.as_str()], Purpose::Query))
                .await
                .map_err(|e| Error::Internal(format!("embedding failed: {e}")))??
                .remove(0);
        for (model, text_model) in text_models {
            out[model.name.as_str()] = scored(&model, text_model.predict(&vector));
        }
    }
    if let Some(customer_id) = &incident.customer_id
        && let Some((churn, offer)) = churn_and_offer(app, tenant_id, customer_id).await?
    {
        out["churn"] = churn;
        out["offer"] = offer;
    }
    Ok(out)
}

/// The customer's churn score (if the tenant has a tabular `churn` model) and the retention
/// offer its policy proposes for it (null below the threshold or when none applies).
async fn churn_and_offer(
    app: &App,
    tenant_id: &str,
    customer_id: &str,
) -> Result<Option<(Value, Value)>> {
    if models::active(&app.db, tenant_id, "churn").await?.is_none() {
        return Ok(None);
    }
    let record = registry::customer_record(app, tenant_id, customer_id).await?;
    let churn = match registry::score(app, tenant_id, "churn", Input::Record(&record)).await {
        Ok(churn) => churn,
        // A `churn` model that is not tabular cannot score a customer: leave it out.
        Err(Error::Validation(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    let customer = crate::store::customers::get(&app.db, tenant_id, customer_id).await?;
    let settings = crate::store::tenants::get_tenant(&app.db, tenant_id)
        .await?
        .settings;
    let facts = Facts {
        churn_probability: churn.prediction.probability,
        segment: customer.segment.as_deref(),
        tenure_months: record
            .get("tenure")
            .and_then(|v| crate::domain::dataset::numeric_value(v)),
        importance_score: customer.importance.score,
    };
    let offer = settings.retention.propose(&facts);
    Ok(Some((
        serde_json::to_value(churn).unwrap_or(Value::Null),
        serde_json::to_value(offer).unwrap_or(Value::Null),
    )))
}

/// The 360 view's insights: the churn score of the customer now (when the tenant has a `churn`
/// model) and the risk of its most recent open PQR that has been scored.
pub async fn for_customer(
    app: &App,
    tenant_id: &str,
    view: &crate::store::customers::Customer360,
) -> Result<crate::store::customers::CustomerInsights> {
    let (churn, offer) = match churn_and_offer(app, tenant_id, &view.customer.id).await? {
        Some((churn, offer)) => (Some(churn), Some(offer).filter(|o| !o.is_null())),
        None => (None, None),
    };
    let mut risk = None;
    for incident in &view.open_incidents {
        if let Some((scores, _)) = insights::get(&app.db, tenant_id, &incident.id).await?
            && !scores["risk"].is_null()
        {
            let mut value = scores["risk"].clone();
            value["incident_id"] = json!(incident.id);
            risk = Some(value);
            break;
        }
    }
    Ok(crate::store::customers::CustomerInsights { risk, churn, offer })
}
