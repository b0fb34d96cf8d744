//! KPI counts from the rollups (`store::rollups`): sums of the hourly and daily rows of the range,
//! plus the live counts over open PQRs that depend on the time of the question.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;

use super::{Counted, RejectionRow};
use crate::domain::kpi::{BACKLOG_RANGES, Count, RESOLUTION_RANGES};
use crate::domain::rollup::{HourlyCounts, SURVEY_FIRST, TTR_FIRST, parse_place};
use crate::error::Result;
use crate::store::Db;
use crate::store::kpis::{OutcomeCounts, Scope};
use crate::store::rollups::{self, DailyQuery, DailyRow};

pub(super) async fn count(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    days: (Date, Date),
    now: Timestamp,
) -> Result<Counted> {
    let hourly = rollups::hourly(db, tenant_id, scope).await?;
    let open = rollups::open_counts(db, tenant_id, scope, now).await?;
    let mut totals = HourlyCounts::default();
    let mut by_hour: BTreeMap<i64, i64> = BTreeMap::new();
    let mut by_channel_kind: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (hour, channel, kind, counts) in hourly {
        for (total, count) in totals.iter_mut().zip(counts) {
            *total += count;
        }
        *by_hour.entry(hour).or_default() += counts[0];
        *by_channel_kind.entry((channel, kind)).or_default() += counts[0];
    }
    let [
        total,
        done,
        rejected,
        reopened,
        first_contact,
        resolution_met,
        resolution_late,
        first_response_met,
        first_response_late,
        ..,
    ] = totals;
    let query = |attribute, having, order, limit| DailyQuery {
        attribute,
        days,
        scope,
        by_day: false,
        by_channel: false,
        by_kind: false,
        skip_empty: attribute != "customer_type",
        having,
        order,
        limit,
    };
    let counts = |rows: Vec<DailyRow>, column: usize| -> Vec<Count> {
        rows.into_iter()
            .map(|r| Count {
                key: r.value,
                count: r.counts[column],
            })
            .collect()
    };
    let products = rollups::daily(
        db,
        tenant_id,
        query("product", "n", "SUM(n) DESC, value", Some(10)),
    )
    .await?;
    let customer_types = rollups::daily(
        db,
        tenant_id,
        query("customer_type", "n", "SUM(n) DESC, value", None),
    )
    .await?;
    let reasons = rollups::daily(
        db,
        tenant_id,
        query(
            "rejection_reason",
            "rejected",
            "SUM(rejected) DESC, value",
            Some(10),
        ),
    )
    .await?;
    let places = rollups::daily(db, tenant_id, query("place", "rejected", "value", None)).await?;
    let contractors =
        rollups::daily(db, tenant_id, query("contractor", "n", "value", None)).await?;
    let risk = rollups::daily(db, tenant_id, query("risk", "n", "value", None)).await?;
    let churn = rollups::daily(db, tenant_id, query("churn", "n", "value", None)).await?;
    let mut rejections: Vec<RejectionRow> = Vec::new();
    for row in places {
        let (department, province, district) = parse_place(&row.value);
        let [_, _, rejected, company, customer] = row.counts;
        for (by, n) in [
            (Some("company"), company),
            (Some("customer"), customer),
            (None, rejected - company - customer),
        ] {
            if n > 0 {
                rejections.push((
                    by.map(str::to_owned),
                    department.clone(),
                    province.clone(),
                    district.clone(),
                    n,
                ));
            }
        }
    }
    Ok(Counted {
        by_channel_kind: by_channel_kind
            .into_iter()
            .map(|((channel, kind), n)| (channel, kind, n))
            .collect(),
        hourly: by_hour.into_iter().collect(),
        outcomes: OutcomeCounts {
            total,
            resolved: done,
            rejected,
            open: total - done - rejected,
            resolution_met,
            resolution_breached: resolution_late + open.resolution_overdue,
            first_response_met,
            first_response_breached: first_response_late + open.first_response_overdue,
            first_contact,
            reopened,
        },
        time_to_resolution: RESOLUTION_RANGES
            .iter()
            .enumerate()
            .map(|(i, (label, _))| Count {
                key: (*label).to_owned(),
                count: totals[TTR_FIRST + i],
            })
            .collect(),
        backlog_age: BACKLOG_RANGES
            .iter()
            .zip(open.backlog)
            .map(|((label, _), count)| Count {
                key: (*label).to_owned(),
                count,
            })
            .collect(),
        top_products: counts(products, 0),
        customer_types: counts(customer_types, 0),
        rejections,
        top_reasons: counts(reasons, 2),
        contractors: contractors
            .into_iter()
            .map(|r| (r.value, r.counts[1], r.counts[2]))
            .collect(),
        survey_scores: std::array::from_fn(|i| totals[SURVEY_FIRST + i]),
        risk: counts(risk, 0),
        churn: counts(churn, 0),
    })
}
