//! Background jobs as their owners see them: progress, result or failure reason, cancellation.
//! A key sees the jobs of the kinds it may start (an import needs knowledge-base write access).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller};
use crate::App;
use crate::domain::access::{Action, Principal};
use crate::error::{Error, Problem, Result};
use crate::store::incidents::Page;
use crate::store::jobs::{self, Job};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(cancel_job))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobsQuery {
    /// Only jobs of this kind, e.g. `kb_import`.
    kind: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The caller's jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(JobsQuery),
    responses((status = 200, body = inline(Page<Job>)), (status = 422, body = Problem)))]
async fn list_jobs(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> Result<Json<Page<Job>>> {
    let principal = caller.require(Action::ReadTenant)?;
    if let Some(kind) = &query.kind
        && !crate::jobs::KINDS.contains(&kind.as_str())
    {
        return Err(Error::validation(
            "kind",
            format!("must be one of: {}", crate::jobs::KINDS.join(", ")),
        ));
    }
    let kinds: Vec<&str> = crate::jobs::KINDS
        .iter()
        .copied()
        .filter(|k| query.kind.as_deref().is_none_or(|wanted| wanted == *k))
        .filter(|k| may(principal, k, |(read, _)| read))
        .collect();
    Ok(Json(
        jobs::list(
            &app.db,
            &principal.tenant_id,
            &kinds,
            query.limit,
            query.cursor.as_deref(),
        )
        .await?,
    ))
}

fn may(principal: &Principal, kind: &str, pick: fn((Action, Action)) -> Action) -> bool {
    crate::jobs::permissions(kind).is_some_and(|actions| principal.role.may(pick(actions)))
}

/// Checks the caller may act on the job (404 for another tenant's, 403 for a kind it may not use).
async fn authorize<'c>(
    app: &App,
    caller: &'c Caller,
    id: &str,
    pick: fn((Action, Action)) -> Action,
) -> Result<&'c Principal> {
    let principal = caller.require(Action::ReadTenant)?;
    let kind = jobs::kind_of(&app.db, &principal.tenant_id, id).await?;
    let action = crate::jobs::permissions(&kind)
        .map(pick)
        .ok_or_else(|| Error::Internal(format!("job kind {kind:?} has no permissions")))?;
    caller.require(action)
}

/// One job with its progress, and its result or failure reason once finished.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = Problem)))]
async fn get_job(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>> {
    let principal = authorize(&app, &caller, &id, |(read, _)| read).await?;
    Ok(Json(jobs::get(&app.db, &principal.tenant_id, &id).await?))
}

/// Cancels a queued job at once, or asks a running one to stop (it stops at its next step).
/// A finished job gives 409.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn cancel_job(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>> {
    let principal = authorize(&app, &caller, &id, |(_, manage)| manage).await?;
    Ok(Json(
        jobs::request_cancel(&app.db, &principal.tenant_id, &id).await?,
    ))
}
