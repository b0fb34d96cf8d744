//! `POST /v1/reports`: custom reports (kind, period, filters, group-by) as JSON or CSV.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Caller, JsonBody};
use crate::App;
use crate::domain::access::Action;
use crate::error::{Problem, Result};
use crate::reports::custom::{self, Report, ReportFormat, ReportRequest};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(create_report))
}

/// Computes a report over the PQRs registered in a period: measures of its `kind` (volume,
/// outcomes, rejections, conversion), filtered by channel and kind, grouped by date or month,
/// channel, kind and at most one attribute (product, customer type, contractor, region,
/// department, province, district, rejection reason). CSV with `"format": "csv"` or
/// `Accept: text/csv`.
#[utoipa::path(post, path = "/v1/reports", tag = "reports", request_body = ReportRequest,
    responses((status = 200, description = "the report",
            content((Report = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
async fn create_report(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonBody<ReportRequest>,
) -> Result<Response> {
    let principal = caller.require(Action::ReadReports)?;
    let request = body.parse()?;
    let format = request.format.unwrap_or_else(|| {
        let wants_csv = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/csv"));
        if wants_csv {
            ReportFormat::Csv
        } else {
            ReportFormat::Json
        }
    });
    let spec = request.validate()?;
    let settings = app.settings.get(&app.db, principal).await?;
    let report = custom::run(&app.db, &principal.tenant_id, settings.time_zone(), &spec).await?;
    Ok(match format {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Csv => {
            let mut response = custom::csv(&report)?.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            response
        }
    })
}
