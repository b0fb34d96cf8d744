//! KPI counts straight from the PQRs: grouped SQL over the rows of the range. Used for
//! drill-downs by place, which the rollups are not keyed on.

use jiff::Timestamp;

use super::Counted;
use crate::domain::kpi::{BACKLOG_RANGES, RESOLUTION_RANGES};
use crate::error::Result;
use crate::store::Db;
use crate::store::kpis::{self, Scope};

pub(super) async fn count(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    now: Timestamp,
) -> Result<Counted> {
    let age = format!("({} - i.created_at)", now.as_millisecond());
    Ok(Counted {
        by_channel_kind: kpis::by_channel_and_kind(db, tenant_id, scope).await?,
        hourly: kpis::hourly(db, tenant_id, scope).await?,
        outcomes: kpis::outcomes(db, tenant_id, scope, now).await?,
        time_to_resolution: kpis::ranged(
            db,
            tenant_id,
            scope,
            kpis::RESOLUTION_TIME,
            kpis::RESOLVED,
            &RESOLUTION_RANGES,
        )
        .await?,
        backlog_age: kpis::ranged(db, tenant_id, scope, &age, kpis::OPEN, &BACKLOG_RANGES).await?,
        top_products: kpis::top(db, tenant_id, scope, "product", None, 10).await?,
        customer_types: kpis::customer_types(db, tenant_id, scope).await?,
        rejections: kpis::rejections(db, tenant_id, scope).await?,
        top_reasons: kpis::top(
            db,
            tenant_id,
            scope,
            "rejection_reason",
            Some("i.state = 'rejected'"),
            10,
        )
        .await?,
        contractors: kpis::by_contractor(db, tenant_id, scope).await?,
        survey_scores: kpis::survey_scores(db, tenant_id, scope).await?,
        risk: kpis::by_score(db, tenant_id, scope, "risk_label").await?,
        churn: kpis::by_score(db, tenant_id, scope, "churn_range").await?,
    })
}
