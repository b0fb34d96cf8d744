//! PQR registration from every channel, the lifecycle, and the timeline.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller, JsonBody, parse_json};
use super::location;
use crate::App;
use crate::domain::access::Action;
use crate::domain::incident::{NewIncidentRequest, TransitionRequest};
use crate::domain::survey::SurveyRequest;
use crate::error::{Error, Problem, Result};
use crate::store::idempotency::IdempotencyKey;
use crate::store::incidents::{self, Event, Incident, IncidentFilter, Page};
use crate::store::surveys::{self, Survey};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, create_incident))
        .routes(routes!(get_incident))
        .routes(routes!(transition))
        .routes(routes!(timeline))
        .routes(routes!(insights))
        .routes(routes!(answer_survey, get_survey))
}

/// Registers a PQR. Priority comes from impact × urgency and SLA due times from the tenant's
/// policy. Send an `Idempotency-Key` header so a retry returns the first PQR instead of a copy.
#[utoipa::path(post, path = "/v1/incidents", tag = "incidents", request_body = NewIncidentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "unique per logical request")),
    responses(
        (status = 201, body = Incident, description = "registered (or replayed: header Idempotent-Replayed: true)"),
        (status = 422, body = Problem)))]
async fn create_incident(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let principal = caller.require(Action::CreateIncidents)?;
    let new: NewIncidentRequest = parse_json(&headers, &body)?;
    let new = new.parse().map_err(Error::Validation)?;
    let key = headers
        .get("idempotency-key")
        .map(|value| {
            let value = value.to_str().map_err(|_| {
                Error::validation("Idempotency-Key", "must be visible ASCII characters")
            })?;
            IdempotencyKey::new(value, "incidents.create", &body)
        })
        .transpose()?;
    let settings = app.settings.get(&app.db, principal).await?;
    // Tenants with models get their PQRs scored by a job queued in the same transaction.
    let scoring = app
        .registry
        .tenant_has_models(&app.db, &principal.tenant_id)
        .await?
        .then_some(&crate::ml::insights::SCORING_JOB);
    let registered = incidents::register(
        &app.db,
        principal,
        &settings,
        new,
        key,
        scoring,
        app.clock.now(),
    )
    .await?;
    if scoring.is_some() && !registered.replayed {
        app.jobs_ready.notify_one();
    }
    if !registered.replayed {
        let pqr = &registered.incident;
        app.live.publish(
            &principal.tenant_id,
            "incident.created",
            serde_json::json!({
                "id": pqr.id, "channel": pqr.channel, "kind": pqr.kind,
                "priority": pqr.priority, "subject": pqr.subject,
            }),
        );
    }
    let mut response = (
        StatusCode::CREATED,
        location(format!("/v1/incidents/{}", registered.incident.id)),
        Json(registered.incident),
    )
        .into_response();
    if registered.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Lists PQRs, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(IncidentFilter),
    responses((status = 200, body = inline(Page<Incident>)), (status = 400, body = Problem)))]
async fn list_incidents(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<IncidentFilter>,
) -> Result<Json<Page<Incident>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(
        incidents::list(&app.db, &principal.tenant_id, filter).await?,
    ))
}

#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = Incident), (status = 404, body = Problem)))]
async fn get_incident(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Incident>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(
        incidents::get(&app.db, &principal.tenant_id, &id).await?,
    ))
}

/// Moves a PQR to another state. A move the lifecycle forbids gets 409 with the allowed states.
#[utoipa::path(post, path = "/v1/incidents/{id}/transitions", tag = "incidents",
    request_body = TransitionRequest, params(("id" = String, Path)),
    responses((status = 200, body = Incident), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn transition(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    request: JsonBody<TransitionRequest>,
) -> Result<Json<Incident>> {
    let principal = caller.require(Action::WorkIncidents)?;
    let request = request.parse()?;
    let pqr = incidents::transition(&app.db, principal, &id, request, app.clock.now()).await?;
    app.live.publish(
        &principal.tenant_id,
        "incident.changed",
        serde_json::json!({
            "id": pqr.id, "state": pqr.state, "priority": pqr.priority,
            "assignee": pqr.assignee, "escalation_level": pqr.escalation_level,
        }),
    );
    Ok(Json(pqr))
}

/// The append-only timeline: who changed what, when.
#[utoipa::path(get, path = "/v1/incidents/{id}/events", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = [Event]), (status = 404, body = Problem)))]
async fn timeline(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Event>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    Ok(Json(
        incidents::events(&app.db, &principal.tenant_id, &id).await?,
    ))
}

/// A PQR's scores from the tenant's models.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IncidentInsights {
    pub incident_id: String,
    /// `scored`, or `pending` while the scoring job has not run (or the tenant has no models).
    pub status: &'static str,
    pub scored_at: Option<jiff::Timestamp>,
    /// Each is a score (model, version, label, probability, probabilities, reasons) or null
    /// when the tenant has no active model of that name.
    #[schema(value_type = Option<Object>)]
    pub risk: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub category: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub sentiment: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub churn: Option<serde_json::Value>,
    /// The retention offer proposed when churn passes the tenant's threshold, with its reasons.
    #[schema(value_type = Option<Object>)]
    pub offer: Option<serde_json::Value>,
    /// How many transcripts of the PQR's calls the text models read with its subject and
    /// description (the PQR is scored again when one of its calls is transcribed).
    pub transcripts: u64,
}

/// Risk, category and sentiment of the PQR's text and its customer's churn probability, as the
/// scoring job after registration computed them.
#[utoipa::path(get, path = "/v1/incidents/{id}/insights", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = IncidentInsights), (status = 404, body = Problem)))]
async fn insights(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentInsights>> {
    let principal = caller.require(Action::ReadIncidents)?;
    incidents::get(&app.db, &principal.tenant_id, &id).await?;
    let stored = crate::store::insights::get(&app.db, &principal.tenant_id, &id).await?;
    let field = |name: &str| {
        stored
            .as_ref()
            .map(|(v, _)| v[name].clone())
            .filter(|v| !v.is_null())
    };
    Ok(Json(IncidentInsights {
        status: if stored.is_some() {
            "scored"
        } else {
            "pending"
        },
        scored_at: stored.as_ref().map(|(_, at)| *at),
        risk: field("risk"),
        category: field("category"),
        sentiment: field("sentiment"),
        churn: field("churn"),
        offer: field("offer"),
        transcripts: stored
            .as_ref()
            .and_then(|(v, _)| v["transcripts"].as_u64())
            .unwrap_or(0),
        incident_id: id,
    }))
}

/// Records the customer's satisfaction survey answer (1–5 and a comment) for a resolved or closed
/// PQR, once; it feeds CSAT in `GET /v1/kpis`.
#[utoipa::path(post, path = "/v1/incidents/{id}/survey", tag = "incidents",
    request_body = SurveyRequest, params(("id" = String, Path)),
    responses((status = 201, body = Survey), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already answered, or the PQR is not solved"),
        (status = 422, body = Problem)))]
async fn answer_survey(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    request: JsonBody<SurveyRequest>,
) -> Result<Response> {
    let principal = caller.require(Action::AnswerSurveys)?;
    let answer = request.parse()?.parse().map_err(Error::Validation)?;
    let survey = surveys::answer(&app.db, principal, &id, answer, app.clock.now()).await?;
    app.live.publish(
        &principal.tenant_id,
        "incident.surveyed",
        serde_json::json!({ "id": survey.incident_id, "score": survey.score }),
    );
    Ok((
        StatusCode::CREATED,
        location(format!("/v1/incidents/{id}/survey")),
        Json(survey),
    )
        .into_response())
}

/// The PQR's survey answer; 404 while it has none.
#[utoipa::path(get, path = "/v1/incidents/{id}/survey", tag = "incidents",
    params(("id" = String, Path)),
    responses((status = 200, body = Survey), (status = 404, body = Problem)))]
async fn get_survey(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Survey>> {
    let principal = caller.require(Action::ReadIncidents)?;
    incidents::get(&app.db, &principal.tenant_id, &id).await?;
    surveys::get(&app.db, &principal.tenant_id, &id)
        .await?
        .map(Json)
        .ok_or(Error::NotFound("survey"))
}
