//! KPIs of a tenant over a range of dates: volume (by channel, kind, hour, weekday, day),
//! products, customer types, outcomes (resolution, first contact, SLA, non-conformity), time to
//! resolution, backlog age, the Claro datamart's rejections and conversion; and custom reports
//! ([`custom`]). The definitions are `domain::kpi`. The counting comes from the rollups
//! ([`from_rollups`]), or, for a drill-down by place, which the rollups do not key on, from the
//! PQRs themselves ([`from_rows`]); both give the same numbers.

pub mod custom;
mod from_rollups;
mod from_rows;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::domain::kpi::{self, Arrivals, Count};
use crate::error::Result;
use crate::store::Db;
use crate::store::kpis::{OutcomeCounts, Scope};

/// Rates are null when their base is zero.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcomes {
    pub total: i64,
    pub resolved: i64,
    pub rejected: i64,
    pub open: i64,
    pub reopened: i64,
    pub resolution_rate: Option<f64>,
    pub first_contact_resolution_rate: Option<f64>,
    pub sla_compliance_rate: Option<f64>,
    pub first_response_compliance_rate: Option<f64>,
    pub non_conformity_rate: Option<f64>,
}

/// Rejections of one place, split by who they are attributed to.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PlaceRejections {
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
    pub company: i64,
    pub customer: i64,
    pub unattributed: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejections {
    pub company: i64,
    pub customer: i64,
    pub unattributed: i64,
    pub by_place: Vec<PlaceRejections>,
    /// The ten most frequent reasons.
    pub top_reasons: Vec<Count>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContractorConversion {
    pub contractor: String,
    pub resolved: i64,
    pub rejected: i64,
    pub conversion_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conversion {
    /// Resolved ÷ (resolved + rejected).
    pub rate: Option<f64>,
    pub by_contractor: Vec<ContractorConversion>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Volume {
    pub total: i64,
    pub by_channel: Vec<Count>,
    pub by_kind: Vec<Count>,
    #[serde(flatten)]
    pub arrivals: Arrivals,
}

/// Every KPI of the range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Kpis {
    pub from: Date,
    pub to: Date,
    /// The tenant's time zone, in which dates and hours are counted.
    pub time_zone: String,
    pub volume: Volume,
    pub top_products: Vec<Count>,
    pub customer_types: Vec<Count>,
    pub outcomes: Outcomes,
    pub time_to_resolution: Vec<Count>,
    /// Open PQRs of the range by age now.
    pub backlog_age: Vec<Count>,
    pub rejections: Rejections,
    pub conversion: Conversion,
    pub satisfaction: Satisfaction,
    /// PQRs by the risk model's label, most frequent first (`unscored` before scoring).
    pub risk: Vec<Count>,
    /// PQRs by their customer's churn probability when scored, in range order, then `unscored`.
    pub churn: Vec<Count>,
}

/// The satisfaction survey answers of the range's PQRs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    pub responses: i64,
    /// Answers of 4 or 5.
    pub satisfied: i64,
    /// CSAT: satisfied ÷ responses.
    pub csat: Option<f64>,
    pub mean_score: Option<f64>,
    /// Answers per score, `"1"` to `"5"`.
    pub by_score: Vec<Count>,
}

/// What both ways of counting produce, before it is shaped into [`Kpis`].
#[derive(Debug, Default)]
struct Counted {
    /// `(channel, kind, count)`
    by_channel_kind: Vec<(String, String, i64)>,
    /// `(UTC hour, count)`
    hourly: Vec<(i64, i64)>,
    outcomes: OutcomeCounts,
    time_to_resolution: Vec<Count>,
    backlog_age: Vec<Count>,
    top_products: Vec<Count>,
    customer_types: Vec<Count>,
    /// `(rejected_by, department, province, district, count)`, in any order.
    rejections: Vec<RejectionRow>,
    top_reasons: Vec<Count>,
    /// `(contractor, resolved or closed, rejected)`, by contractor.
    contractors: Vec<(String, i64, i64)>,
    /// Survey answers per score, 1 to 5.
    survey_scores: [i64; 5],
    /// PQRs per risk label and per churn range (`unscored` included), in any order.
    risk: Vec<Count>,
    churn: Vec<Count>,
}

type RejectionRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// Most frequent first, then by key.
fn sum_by(
    rows: &[(String, String, i64)],
    key: impl Fn(&(String, String, i64)) -> &str,
) -> Vec<Count> {
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    for row in rows {
        *totals.entry(key(row)).or_insert(0) += row.2;
    }
    let mut counts: Vec<Count> = totals
        .into_iter()
        .map(|(key, count)| Count {
            key: key.to_owned(),
            count,
        })
        .collect();
    counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    counts
}

/// Builds the tenant's rollups where they have never been built (tenants with PQRs from before
/// rollups existed), at start-up before serving.
pub async fn build_missing_rollups(db: &Db) -> Result<()> {
    for tenant_id in crate::store::rollups::unbuilt_tenants(db).await? {
        let tz = crate::billing::tenant_zone(db, &tenant_id).await?;
        let started = std::time::Instant::now();
        let counted = crate::store::rollups::rebuild(db, &tenant_id, &tz).await?;
        tracing::info!(tenant_id, counted, elapsed = ?started.elapsed(), "KPI rollups built");
    }
    Ok(())
}

/// Longest range one request may cover.
pub const MAX_DAYS: i32 = 366;

/// The dates a KPI request covers: `from` defaults to the first of `today`'s month and `to` to
/// `today`; `to` must not be before `from` and the range spans at most [`MAX_DAYS`]. Shared by
/// `GET /v1/kpis` and GraphQL's `kpis` so both answer the same question the same way.
pub fn requested_range(today: Date, from: Option<Date>, to: Option<Date>) -> Result<(Date, Date)> {
    let from = from.unwrap_or_else(|| today.first_of_month());
    let to = to.unwrap_or(today);
    if to < from {
        return Err(crate::error::Error::validation(
            "to",
            "must not be before from",
        ));
    }
    if (to - from).get_days() >= MAX_DAYS {
        return Err(crate::error::Error::validation(
            "to",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// Computes the KPIs of the PQRs registered from `first` to `last` (dates on the tenant's wall
/// clock, both included) within `scope`'s filters.
pub async fn kpis(
    db: &Db,
    tenant_id: &str,
    tz: &TimeZone,
    (first, last): (Date, Date),
    mut scope: Scope,
    now: Timestamp,
) -> Result<Kpis> {
    let (from, to) = kpi::date_range(first, last, tz)
        .ok_or_else(|| crate::error::Error::validation("to", "must not be before from"))?;
    scope.from = Some(from);
    scope.to = Some(to);
    let by_place = [
        &scope.region,
        &scope.department,
        &scope.province,
        &scope.district,
    ]
    .iter()
    .any(|v| v.is_some());
    let counted = if by_place {
        from_rows::count(db, tenant_id, &scope, now).await?
    } else {
        from_rollups::count(db, tenant_id, &scope, (first, last), now).await?
    };
    Ok(shape(counted, tz, (first, last)))
}

fn shape(mut c: Counted, tz: &TimeZone, (first, last): (Date, Date)) -> Kpis {
    c.rejections
        .sort_by(|a, b| (&a.1, &a.2, &a.3, &a.0).cmp(&(&b.1, &b.2, &b.3, &b.0)));
    let mut by_place: Vec<PlaceRejections> = Vec::new();
    let (mut company, mut customer, mut unattributed) = (0, 0, 0);
    for (by, department, province, district, n) in c.rejections {
        if by_place.last().is_none_or(|p| {
            (&p.department, &p.province, &p.district) != (&department, &province, &district)
        }) {
            by_place.push(PlaceRejections {
                department,
                province,
                district,
                ..PlaceRejections::default()
            });
        }
        let place = by_place.last_mut().expect("pushed above");
        let (at_place, overall) = match by.as_deref() {
            Some("company") => (&mut place.company, &mut company),
            Some("customer") => (&mut place.customer, &mut customer),
            _ => (&mut place.unattributed, &mut unattributed),
        };
        *at_place += n;
        *overall += n;
    }
    let counts = c.outcomes;
    let responses: i64 = c.survey_scores.iter().sum();
    let satisfied: i64 = crate::domain::survey::SATISFIED
        .map(|score| c.survey_scores[score as usize - 1])
        .sum();
    let score_sum: i64 = (1..).zip(c.survey_scores).map(|(s, n)| s * n).sum();
    c.risk
        .sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    let churn = kpi::CHURN_RANGES
        .iter()
        .map(|(label, _)| *label)
        .chain([crate::domain::rollup::UNSCORED])
        .map(|label| Count {
            key: label.to_owned(),
            count: c
                .churn
                .iter()
                .filter(|n| n.key == label)
                .map(|n| n.count)
                .sum(),
        })
        .collect();
    Kpis {
        from: first,
        to: last,
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        volume: Volume {
            total: counts.total,
            by_channel: sum_by(&c.by_channel_kind, |r| &r.0),
            by_kind: sum_by(&c.by_channel_kind, |r| &r.1),
            arrivals: kpi::arrivals(&c.hourly, tz),
        },
        top_products: c.top_products,
        customer_types: c.customer_types,
        outcomes: Outcomes {
            total: counts.total,
            resolved: counts.resolved,
            rejected: counts.rejected,
            open: counts.open,
            reopened: counts.reopened,
            resolution_rate: kpi::rate(counts.resolved, counts.total),
            first_contact_resolution_rate: kpi::rate(counts.first_contact, counts.resolved),
            sla_compliance_rate: kpi::rate(
                counts.resolution_met,
                counts.resolution_met + counts.resolution_breached,
            ),
            first_response_compliance_rate: kpi::rate(
                counts.first_response_met,
                counts.first_response_met + counts.first_response_breached,
            ),
            non_conformity_rate: kpi::rate(counts.reopened, counts.total),
        },
        time_to_resolution: c.time_to_resolution,
        backlog_age: c.backlog_age,
        rejections: Rejections {
            company,
            customer,
            unattributed,
            by_place,
            top_reasons: c.top_reasons,
        },
        conversion: Conversion {
            rate: kpi::rate(counts.resolved, counts.resolved + counts.rejected),
            by_contractor: c
                .contractors
                .into_iter()
                .map(|(contractor, resolved, rejected)| ContractorConversion {
                    contractor,
                    resolved,
                    rejected,
                    conversion_rate: kpi::rate(resolved, resolved + rejected),
                })
                .collect(),
        },
        satisfaction: Satisfaction {
            responses,
            satisfied,
            csat: kpi::rate(satisfied, responses),
            mean_score: (responses > 0).then(|| score_sum as f64 / responses as f64),
            by_score: (1..)
                .zip(c.survey_scores)
                .map(|(score, count)| Count {
                    key: score.to_string(),
                    count,
                })
                .collect(),
        },
        risk: c.risk,
        churn,
    }
}
