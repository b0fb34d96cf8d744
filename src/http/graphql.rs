//! `/graphql`: the HTTP side of the GraphQL API (`crate::graphql`). The key is checked by the
//! same extractor as every REST route, so a missing or unknown key gets the same 401
//! problem+json before the query is even read; the body is parsed as strictly as REST bodies.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Caller, JsonBody};
use crate::App;
use crate::error::{Problem, Result};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(sdl, execute))
}

/// A GraphQL request (GraphQL over HTTP, JSON body).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the body; the handler parses `async_graphql::Request`
struct GraphqlRequest {
    /// The query or mutation document.
    query: String,
    /// Values of the document's `$variables`.
    #[schema(value_type = Option<Object>)]
    variables: Option<serde_json::Value>,
    /// Which operation of the document to run, when it has several.
    #[schema(rename = "operationName")]
    operation_name: Option<String>,
}

/// Runs a GraphQL query or mutation over customers, PQRs, KPIs and invoices. Roles and tenant
/// scoping are those of the matching REST routes; a field the key's role may not read is null
/// with an error whose `extensions.code` is `FORBIDDEN`. Queries deeper than 10 fields or more
/// complex than 10,000 are refused (`QUERY_TOO_DEEP`, `QUERY_TOO_COMPLEX`). The schema is at
/// `GET /graphql`.
#[utoipa::path(post, path = "/graphql", tag = "graphql", request_body = GraphqlRequest,
    responses(
        (status = 200, description = "GraphQL's `data` and `errors`", content_type = "application/json",
            body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 415, body = Problem)))]
async fn execute(
    State(app): State<Arc<App>>,
    Caller(principal): Caller,
    body: JsonBody<async_graphql::Request>,
) -> Result<Json<async_graphql::Response>> {
    let request = body.parse()?;
    Ok(Json(crate::graphql::execute(app, principal, request).await))
}

/// The GraphQL schema in SDL (the committed `schema/abcall.graphql`); public like
/// `/openapi.json`.
#[utoipa::path(get, path = "/graphql", tag = "graphql", security(()),
    responses((status = 200, description = "The schema", content_type = "text/plain", body = String)))]
async fn sdl() -> Response {
    let mut response = crate::graphql::sdl().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
