//! `kpis(from, to, filter)`: `GET /v1/kpis`, with the same defaults and range rules.

use async_graphql::{Context, InputObject, Object};
use jiff::civil::Date;

use crate::domain::access::Action;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits;
use crate::graphql::types::enums::{Channel, Kind};
use crate::graphql::types::kpis::Kpis;
use crate::reports;
use crate::store::kpis::Scope;

#[derive(Default)]
pub struct ReportQuery;

/// Which PQRs the KPIs count; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct KpiFilter {
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

#[Object]
impl ReportQuery {
    /// KPIs of the PQRs registered between two dates (both included, on the tenant's clock):
    /// volume, products, customer types, outcomes, time to resolution, backlog age, rejections
    /// and conversion. At most 366 days. Costs 1,000 toward the query's complexity limit.
    #[graphql(complexity = "limits::KPIS_COST + child_complexity")]
    async fn kpis(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "First date; default the first of this month.")] from: Option<Date>,
        #[graphql(desc = "Last date, included; default today.")] to: Option<Date>,
        #[graphql(desc = "Which PQRs count; all when omitted.")] filter: Option<KpiFilter>,
    ) -> Result<Option<Kpis>> {
        let (app, principal) = authorize(ctx, Action::ReadReports)?;
        let settings = app.settings.get(&app.db, principal).await?;
        let tz = settings.time_zone().clone();
        let now = app.clock.now();
        let today = tz.to_datetime(now).date();
        let range = reports::requested_range(today, from, to)?;
        let filter = filter.unwrap_or_default();
        let scope = Scope {
            channel: filter.channel.map(Into::into),
            kind: filter.kind.map(Into::into),
            region: filter.region,
            department: filter.department,
            province: filter.province,
            district: filter.district,
            ..Scope::default()
        };
        let kpis = reports::kpis(&app.db, &principal.tenant_id, &tz, range, scope, now).await?;
        Ok(Some(kpis.into()))
    }
}
