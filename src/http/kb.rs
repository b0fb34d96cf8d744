//! The knowledge base over HTTP: articles (written by admins and data teams), semantic search,
//! and suggested answers for a PQR on the agent's screen.

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
use crate::domain::kb::ArticleInput;
use crate::error::{Error, Problem, Result};
use crate::kb::import::{self, ImportOptions};
use crate::kb::{SearchRequest, Suggestion};
use crate::store::jobs::Job;

use crate::store::incidents::{self, Page};
use crate::store::kb::{self, Article, SaveAs};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, replace_article, delete_article))
        .routes(routes!(import_articles))
        .routes(routes!(search))
        .routes(routes!(suggestions))
}

/// Adds an article; it is chunked, embedded and searchable when this returns. An article with
/// the same `external_id` is replaced (200) rather than duplicated, so imports can be re-run.
#[utoipa::path(post, path = "/v1/kb/articles", tag = "knowledge", request_body = ArticleInput,
    responses((status = 201, body = Article), (status = 200, body = Article, description = "replaced"),
        (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn create_article(
    State(app): State<Arc<App>>,
    caller: Caller,
    input: JsonBody<ArticleInput>,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], Json<Article>)> {
    let principal = caller.require(Action::WriteKnowledge)?;
    let data = input.parse()?.parse().map_err(Error::Validation)?;
    let (article, created) = app
        .knowledge()
        .await?
        .save(&principal.tenant_id, SaveAs::New, data)
        .await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        location(format!("/v1/kb/articles/{}", article.id)),
        Json(article),
    ))
}

/// Imports articles from a CSV or JSON Lines file (gzip accepted with `Content-Encoding: gzip`).
/// The whole file is validated first: any bad row rejects it (422, rows listed by `line`) and
/// nothing is stored. Valid files become a job (202); follow `Location` for its progress. Articles
/// whose `external_id` exists are replaced, so an import can be re-run.
#[utoipa::path(post, path = "/v1/kb/imports", tag = "knowledge", params(ImportOptions),
    request_body(content = String, content_type = "text/csv",
        description = "CSV with a header row, or JSON Lines (`application/x-ndjson`) of articles"),
    responses((status = 202, body = Job, description = "queued; see the job for progress"),
        (status = 400, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn import_articles(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(options): ApiQuery<ImportOptions>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], Json<Job>)> {
    let principal = caller.require(Action::WriteKnowledge)?;
    let (format, bytes) =
        upload::read(&headers, body, options.format, app.config.max_upload_bytes).await?;
    // The model must be there before anything is queued: 503 now rather than a failed job.
    app.knowledge().await?;
    let articles = tokio::task::spawn_blocking(move || import::parse(&bytes, format, &options))
        .await
        .map_err(|e| Error::Internal(format!("reading the upload failed: {e}")))??;
    let job = import::enqueue(&app, &principal.tenant_id, articles).await?;
    Ok((
        StatusCode::ACCEPTED,
        location(format!("/v1/jobs/{}", job.id)),
        Json(job),
    ))
}

/// Lists articles, newest first.
#[utoipa::path(get, path = "/v1/kb/articles", tag = "knowledge", params(PageQuery),
    responses((status = 200, body = inline(Page<Article>))))]
async fn list_articles(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Article>>> {
    let principal = caller.require(Action::ReadKnowledge)?;
    Ok(Json(
        kb::list(
            &app.db,
            &principal.tenant_id,
            page.limit,
            page.cursor.as_deref(),
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/kb/articles/{id}", tag = "knowledge",
    params(("id" = String, Path)),
    responses((status = 200, body = Article), (status = 404, body = Problem)))]
async fn get_article(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Article>> {
    let principal = caller.require(Action::ReadKnowledge)?;
    Ok(Json(kb::get(&app.db, &principal.tenant_id, &id).await?))
}

/// Replaces an article; its old passages leave the index.
#[utoipa::path(put, path = "/v1/kb/articles/{id}", tag = "knowledge", request_body = ArticleInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Article), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn replace_article(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    input: JsonBody<ArticleInput>,
) -> Result<Json<Article>> {
    let principal = caller.require(Action::WriteKnowledge)?;
    let data = input.parse()?.parse().map_err(Error::Validation)?;
    // 404 for another tenant's id before any model work.
    kb::get(&app.db, &principal.tenant_id, &id).await?;
    Ok(Json(
        app.knowledge()
            .await?
            .save(&principal.tenant_id, SaveAs::Replace(&id), data)
            .await?
            .0,
    ))
}

#[utoipa::path(delete, path = "/v1/kb/articles/{id}", tag = "knowledge",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_article(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let principal = caller.require(Action::WriteKnowledge)?;
    kb::get(&app.db, &principal.tenant_id, &id).await?;
    app.knowledge()
        .await?
        .delete(&principal.tenant_id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Semantic search over the caller's knowledge base (Spanish and English queries alike).
#[utoipa::path(post, path = "/v1/kb/search", tag = "knowledge", request_body = SearchRequest,
    responses((status = 200, body = [Suggestion]), (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn search(
    State(app): State<Arc<App>>,
    caller: Caller,
    request: JsonBody<SearchRequest>,
) -> Result<Json<Vec<Suggestion>>> {
    let principal = caller.require(Action::ReadKnowledge)?;
    let request = request.parse()?;
    Ok(Json(
        app.knowledge()
            .await?
            .search(&principal.tenant_id, request)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SuggestionsQuery {
    /// How many answers (1 to 20, default 3).
    k: Option<usize>,
}

/// Suggested knowledge-base answers for a PQR, from its subject and description.
#[utoipa::path(get, path = "/v1/incidents/{id}/suggestions", tag = "knowledge",
    params(("id" = String, Path), SuggestionsQuery),
    responses((status = 200, body = [Suggestion]), (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn suggestions(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SuggestionsQuery>,
) -> Result<Json<Vec<Suggestion>>> {
    let principal = caller.require(Action::ReadIncidents)?;
    let incident = incidents::get(&app.db, &principal.tenant_id, &id).await?;
    let k = query.k.unwrap_or(3);
    Ok(Json(
        app.knowledge()
            .await?
            .suggest(
                &principal.tenant_id,
                &incident.subject,
                &incident.description,
                k,
            )
            .await?,
    ))
}
