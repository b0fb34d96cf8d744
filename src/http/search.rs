//! `GET /v1/search`: full-text search over the tenant's PQR texts and call transcripts (and
//! emails, once the email channel stores them), with filters by kind, date, agent and customer.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller};
use crate::App;
use crate::domain::access::Action;
use crate::domain::search::parse_query;
use crate::domain::validation::Errors;
use crate::error::{Error, Problem, Result};
use crate::store::search::{self, SearchFilter, SearchParams, SearchResults};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(search_documents))
}

/// Largest `offset`: deeper pages mean a narrower query.
const MAX_OFFSET: u32 = 1_000;

impl SearchParams {
    fn filter(self) -> Result<SearchFilter> {
        let mut errors = Errors::new();
        let terms = match parse_query(&self.q) {
            Ok(terms) => terms,
            Err(e) => {
                errors.extend([e]);
                Vec::new()
            }
        };
        let limit = self.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            errors.add("limit", "must be between 1 and 100");
        }
        let offset = self.offset.unwrap_or(0);
        if offset > MAX_OFFSET {
            errors.add("offset", format!("must be at most {MAX_OFFSET}"));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            errors.add("to", "must be after from");
        }
        let text =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        errors
            .finish(|| SearchFilter {
                terms,
                kind: self.kind,
                from: self.from,
                to: self.to,
                agent: text(self.agent),
                customer_id: text(self.customer_id),
                sort: self.sort.unwrap_or_default(),
                limit,
                offset,
            })
            .map_err(Error::Validation)
    }
}

/// Documents of the tenant that contain every word of `q`, best match first (or newest first
/// with `sort=recent`), each with a snippet around the first match.
#[utoipa::path(get, path = "/v1/search", tag = "incidents", params(SearchParams),
    responses((status = 200, body = SearchResults),
        (status = 422, body = Problem, description = "no words in `q`, or a filter out of range")))]
async fn search_documents(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResults>> {
    let principal = caller.require(Action::ReadIncidents)?;
    let filter = params.filter()?;
    Ok(Json(
        search::search(&app.db, &principal.tenant_id, &filter).await?,
    ))
}
