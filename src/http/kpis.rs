//! `GET /v1/kpis`: the tenant's KPIs over a range of dates, for managers and BI.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use jiff::civil::Date;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller};
use crate::App;
use crate::domain::access::Action;
use crate::domain::incident::{Channel, Kind};
use crate::error::{Problem, Result};
use crate::reports::{self, Kpis};
use crate::store::kpis::Scope;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(get_kpis))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KpiQuery {
    /// First date (`YYYY-MM-DD`, the tenant's time zone); default the first of this month.
    #[param(value_type = Option<String>)]
    from: Option<Date>,
    /// Last date, included; default today.
    #[param(value_type = Option<String>)]
    to: Option<Date>,
    channel: Option<Channel>,
    kind: Option<Kind>,
    region: Option<String>,
    department: Option<String>,
    province: Option<String>,
    district: Option<String>,
}

/// KPIs of the PQRs registered between two dates (both included): volume by channel, kind,
/// hour, weekday and day; top products; customer types; resolution, first-contact resolution,
/// SLA compliance and non-conformity rates; time to resolution and backlog age ranges;
/// rejections by attribution and place with the top reasons; conversion by contractor.
#[utoipa::path(get, path = "/v1/kpis", tag = "reports", params(KpiQuery),
    responses((status = 200, body = Kpis), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn get_kpis(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<KpiQuery>,
) -> Result<Json<Kpis>> {
    let principal = caller.require(Action::ReadReports)?;
    let settings = app.settings.get(&app.db, principal).await?;
    let tz = settings.time_zone().clone();
    let now = app.clock.now();
    let today = tz.to_datetime(now).date();
    let range = reports::requested_range(today, query.from, query.to)?;
    let scope = Scope {
        channel: query.channel,
        kind: query.kind,
        region: query.region,
        department: query.department,
        province: query.province,
        district: query.district,
        ..Scope::default()
    };
    Ok(Json(
        reports::kpis(&app.db, &principal.tenant_id, &tz, range, scope, now).await?,
    ))
}
