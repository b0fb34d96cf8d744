//! Datasets, model training and the model registry, and scoring: what client data teams use to
//! teach the service their own risk and churn patterns, and what workflows call to get a score.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller, JsonBody, PageQuery};
use super::{location, upload};
use crate::App;
use crate::domain::access::Action;
use crate::domain::dataset::{DatasetKind, FileFormat, Roles};
use crate::domain::validation::optional_text;
use crate::error::{Error, Problem, Result};
use crate::ml::registry::{self, Input, Scored, TrainRequest};
use crate::store::datasets::{self, Dataset};
use crate::store::incidents::Page;
use crate::store::jobs::Job;
use crate::store::models::{self, ModelVersion};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_datasets, upload_dataset))
        .routes(routes!(get_dataset, delete_dataset))
        .routes(routes!(list_models, train_model))
        .routes(routes!(get_model, delete_model))
        .routes(routes!(activate_model))
        .routes(routes!(score))
}

/// How to read an uploaded dataset.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// A name for people, e.g. "churn 2026-10".
    name: String,
    /// `tabular` or `text_labels`.
    kind: String,
    /// `csv` or `jsonl`; by default from the `Content-Type`.
    format: Option<FileFormat>,
    /// Tabular: the column to predict.
    target: Option<String>,
    /// Text labels: the column holding the text.
    text_column: Option<String>,
    /// Text labels: label columns, comma-separated (e.g. `risk,category`).
    label_columns: Option<String>,
}

/// Uploads a dataset (CSV with a header, or JSON Lines; gzip accepted). It is read whole, its
/// schema inferred and every row checked; broken rows reject it with their line numbers (422)
/// and nothing is stored. A stored dataset never changes; its sha256 goes with every model.
#[utoipa::path(post, path = "/v1/datasets", tag = "models", params(UploadQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV or JSON Lines"),
    responses((status = 201, body = Dataset), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn upload_dataset(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], Json<Dataset>)> {
    let principal = caller.require(Action::ManageModels)?;
    let mut errors = crate::domain::validation::Errors::new();
    let name = optional_text(&mut errors, "name", Some(&query.name), 120);
    let kind = DatasetKind::parse(&query.kind);
    if kind.is_none() {
        errors.add("kind", "must be tabular or text_labels");
    }
    let (Some(name), Some(kind)) = (name, kind) else {
        return Err(Error::Validation(errors.into_vec()));
    };
    let roles = Roles {
        target: query.target,
        text_column: query.text_column,
        label_columns: query
            .label_columns
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    };
    let (format, bytes) =
        upload::read(&headers, body, query.format, app.config.max_upload_bytes).await?;
    let dataset = registry::ingest(
        &app,
        &principal.tenant_id,
        registry::Upload {
            name,
            kind,
            format,
            roles,
            bytes,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        location(format!("/v1/datasets/{}", dataset.id)),
        Json(dataset),
    ))
}

/// The tenant's datasets, newest first.
#[utoipa::path(get, path = "/v1/datasets", tag = "models", params(PageQuery),
    responses((status = 200, body = inline(Page<Dataset>))))]
async fn list_datasets(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Dataset>>> {
    let principal = caller.require(Action::ReadModels)?;
    Ok(Json(
        datasets::list(
            &app.db,
            &principal.tenant_id,
            page.limit,
            page.cursor.as_deref(),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/datasets/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 200, body = Dataset), (status = 404, body = Problem)))]
async fn get_dataset(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Dataset>> {
    let principal = caller.require(Action::ReadModels)?;
    Ok(Json(
        datasets::get(&app.db, &principal.tenant_id, &id).await?,
    ))
}

/// Deletes a dataset; models trained on it keep working and keep its checksum.
#[utoipa::path(delete, path = "/v1/datasets/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_dataset(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let principal = caller.require(Action::ManageModels)?;
    datasets::delete(&app.db, &principal.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Trains a model on a dataset as a job (202; follow `Location`). Candidates (logistic
/// regression, random forest) are compared by stratified 5-fold cross-validation and the best is
/// registered as the next version of its name — active if it is the first.
#[utoipa::path(post, path = "/v1/models", tag = "models", request_body = TrainRequest,
    responses((status = 202, body = Job), (status = 422, body = Problem)))]
async fn train_model(
    State(app): State<Arc<App>>,
    caller: Caller,
    request: JsonBody<TrainRequest>,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], Json<Job>)> {
    let principal = caller.require(Action::ManageModels)?;
    let job = registry::enqueue_training(&app, &principal.tenant_id, request.parse()?).await?;
    Ok((
        StatusCode::ACCEPTED,
        location(format!("/v1/jobs/{}", job.id)),
        Json(job),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ModelsQuery {
    /// Only versions of this name, e.g. `churn`.
    name: Option<String>,
}

/// The tenant's models by name, newest version first, with their metrics.
#[utoipa::path(get, path = "/v1/models", tag = "models", params(ModelsQuery),
    responses((status = 200, body = [ModelVersion])))]
async fn list_models(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ModelsQuery>,
) -> Result<Json<Vec<ModelVersion>>> {
    let principal = caller.require(Action::ReadModels)?;
    Ok(Json(
        models::list(&app.db, &principal.tenant_id, query.name.as_deref()).await?,
    ))
}

#[utoipa::path(get, path = "/v1/models/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 200, body = ModelVersion), (status = 404, body = Problem)))]
async fn get_model(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ModelVersion>> {
    let principal = caller.require(Action::ReadModels)?;
    Ok(Json(models::get(&app.db, &principal.tenant_id, &id).await?))
}

/// Makes this version the one scoring uses; activating an older version rolls back.
#[utoipa::path(post, path = "/v1/models/{id}/activate", tag = "models",
    params(("id" = String, Path)),
    responses((status = 200, body = ModelVersion), (status = 404, body = Problem)))]
async fn activate_model(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ModelVersion>> {
    let principal = caller.require(Action::ManageModels)?;
    let model = models::activate(&app.db, &principal.tenant_id, &id).await?;
    app.registry.forget_tenant(&principal.tenant_id);
    Ok(Json(model))
}

/// Deletes an inactive version (409 for the active one).
#[utoipa::path(delete, path = "/v1/models/{id}", tag = "models", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn delete_model(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let principal = caller.require(Action::ManageModels)?;
    let model = models::delete(&app.db, &principal.tenant_id, &id).await?;
    if let Err(error) = tokio::fs::remove_file(&model.path).await {
        tracing::warn!(path = %model.path.display(), %error, "model artifact not removed");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What to score: a record given inline, or one of the tenant's customers (its attributes and
/// profile fields are the record).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The registry name, e.g. `churn`.
    model: String,
    #[schema(value_type = Option<Object>)]
    record: Option<serde_json::Map<String, serde_json::Value>>,
    customer_id: Option<String>,
    /// For text models (risk, category, sentiment of a PQR's text).
    text: Option<String>,
}

/// Scores a record synchronously with the tenant's active model of that name: the predicted
/// class, its probability, every class's probability and the features that raised it most.
#[utoipa::path(post, path = "/v1/score", tag = "models", request_body = ScoreRequest,
    responses((status = 200, body = Scored), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn score(
    State(app): State<Arc<App>>,
    caller: Caller,
    request: JsonBody<ScoreRequest>,
) -> Result<Json<Scored>> {
    let principal = caller.require(Action::Score)?;
    let request = request.parse()?;
    let mut record: HashMap<String, String> = HashMap::new();
    match (&request.record, &request.customer_id, &request.text) {
        (Some(fields), None, None) => {
            record.extend(
                fields
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), registry::cell(v)?))),
            );
        }
        (None, Some(id), None) => {
            record = registry::customer_record(&app, &principal.tenant_id, id).await?;
        }
        (None, None, Some(text)) => {
            if text.trim().is_empty() || text.chars().count() > 10_000 {
                return Err(Error::validation("text", "must be 1 to 10000 characters"));
            }
            return Ok(Json(
                registry::score(
                    &app,
                    &principal.tenant_id,
                    &request.model,
                    Input::Text(text),
                )
                .await?,
            ));
        }
        _ => {
            return Err(Error::validation(
                "record",
                "give exactly one of record, customer_id or text",
            ));
        }
    }
    Ok(Json(
        registry::score(
            &app,
            &principal.tenant_id,
            &request.model,
            Input::Record(&record),
        )
        .await?,
    ))
}
