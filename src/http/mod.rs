//! The HTTP surface: one router per resource merged over the shared [`App`], the middleware stack
//! (limits, timeouts, compression, tracing, metrics, problem+json for every error) and the
//! OpenAPI document generated from the handlers.

mod attachments;
mod billing;
mod call_activity;
mod calls;
mod customers;
mod download;
pub mod extract;
mod graphql;
mod health;
mod incidents;
mod intake;
mod jobs;
mod kb;
mod kpis;
mod live;
mod models;
mod operator;
mod reports;
mod search;
mod tenants;
mod upload;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::App;
use crate::error::{PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "abcall API",
        description = "Multi-tenant incident intelligence for call centres and telecom operators. \
            Authenticate with `Authorization: Bearer <api key>`; errors are RFC 9457 problem+json."
    ),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "tenants", description = "The caller's tenant: settings and API keys"),
        (name = "customers", description = "Customer data and the agent's 360 view"),
        (name = "incidents", description = "PQRs and their lifecycle"),
        (name = "calls", description = "Recorded calls: upload, audio download (ranges), quality metrics"),
        (name = "knowledge", description = "Knowledge-base articles, search and suggested answers"),
        (name = "models", description = "Datasets, training, the model registry and scoring"),
        (name = "jobs", description = "Background work (imports, training): progress, results, cancellation"),
        (name = "billing", description = "The tenant's plan, prices, usage and invoices"),
        (name = "reports", description = "KPIs and custom reports over the tenant's PQRs"),
        (name = "graphql", description = "The GraphQL API over customers, PQRs, KPIs and invoices (same keys, roles and tenant scoping)"),
        (name = "back office", description = "ABCall staff only (operator keys): plans, billing terms, price lists, invoice lifecycle"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(tenants::router())
        .merge(customers::router())
        .merge(incidents::router())
        .merge(calls::router())
        .merge(call_activity::router())
        // Attachments stream into the blob staging area under ABCALL_MAX_ATTACHMENT_BYTES, not
        // the JSON body limit.
        .merge(attachments::router().layer(axum::extract::DefaultBodyLimit::disable()))
        .merge(kb::router())
        .merge(jobs::router())
        .merge(models::router())
        .merge(billing::router())
        .merge(operator::router())
        .merge(live::router())
        .merge(kpis::router())
        .merge(reports::router())
        .merge(search::router())
        .merge(graphql::router())
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// The full application router with its middleware.
pub fn router(app: Arc<App>) -> Router {
    let (routes, openapi) = api().split_for_parts();
    let max_body = app.config.max_body_bytes;
    let timeout = app.config.request_timeout();
    routes
        .route("/metrics", axum::routing::get(health::metrics))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(not_found)
        .with_state(app)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the limit and timeout layers, so their rejections become problem+json too.
        .layer(middleware::map_response(ensure_problem))
        // Never compress ranged downloads (their byte offsets are of the stored file) nor
        // already compressed media.
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
                    !headers.contains_key(header::ACCEPT_RANGES)
                },
            )),
        )
        .layer(middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error occurred; it has been logged.",
            )
            .into_response()
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such route; see /openapi.json",
    )
}

/// Guarantees that every error response is problem+json, including those produced by axum and
/// tower-http themselves (method not allowed, timeouts, …).
async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (slug, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this route does not accept that method",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was cancelled"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload-too-large", "the request body is too large"),
        s if s.is_server_error() => (
            "internal",
            "An unexpected error occurred; it has been logged.",
        ),
        _ => ("http-error", "the request could not be handled"),
    };
    let mut problem = Problem::new(status, slug, detail).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

/// Request counts and latency by route template and status, for `/metrics`.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let labels = [
        ("method", method),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `Location` header for a created resource.
fn location(path: String) -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::LOCATION,
        HeaderValue::from_str(&path).unwrap_or_else(|_| HeaderValue::from_static("/")),
    )]
}
