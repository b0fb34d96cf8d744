//! KPIs of a tenant over a range of dates: volume (by channel, kind, hour, weekday, day),
//! products, customer types, outcomes (resolution, first contact, SLA, non-conformity), time to
//! resolution, backlog age, the Claro datamart's rejections and conversion. The counting is SQL
//! (`store::kpis`); the definitions are `domain::kpi`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::domain::kpi::{self, Arrivals, BACKLOG_RANGES, Count, RESOLUTION_RANGES};
use crate::error::Result;
use crate::store::Db;
use crate::store::kpis::{self, Scope};

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
}

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
    let by_channel_kind = kpis::by_channel_and_kind(db, tenant_id, &scope).await?;
    let hourly = kpis::hourly(db, tenant_id, &scope).await?;
    let counts = kpis::outcomes(db, tenant_id, &scope, now).await?;
    let age = format!("({} - i.created_at)", now.as_millisecond());
    let rejections = kpis::rejections(db, tenant_id, &scope).await?;
    let mut by_place: Vec<PlaceRejections> = Vec::new();
    let (mut company, mut customer, mut unattributed) = (0, 0, 0);
    for (by, department, province, district, n) in rejections {
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
    let contractors = kpis::by_contractor(db, tenant_id, &scope).await?;
    Ok(Kpis {
        from: first,
        to: last,
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        volume: Volume {
            total: counts.total,
            by_channel: sum_by(&by_channel_kind, |r| &r.0),
            by_kind: sum_by(&by_channel_kind, |r| &r.1),
            arrivals: kpi::arrivals(&hourly, tz),
        },
        top_products: kpis::top(db, tenant_id, &scope, "product", None, 10).await?,
        customer_types: kpis::customer_types(db, tenant_id, &scope).await?,
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
        time_to_resolution: kpis::ranged(
            db,
            tenant_id,
            &scope,
            kpis::RESOLUTION_TIME,
            kpis::RESOLVED,
            &RESOLUTION_RANGES,
        )
        .await?,
        backlog_age: kpis::ranged(db, tenant_id, &scope, &age, kpis::OPEN, &BACKLOG_RANGES).await?,
        rejections: Rejections {
            company,
            customer,
            unattributed,
            by_place,
            top_reasons: kpis::top(
                db,
                tenant_id,
                &scope,
                "rejection_reason",
                Some("i.state = 'rejected'"),
                10,
            )
            .await?,
        },
        conversion: Conversion {
            rate: kpi::rate(counts.resolved, counts.resolved + counts.rejected),
            by_contractor: contractors
                .into_iter()
                .map(|(contractor, resolved, rejected)| ContractorConversion {
                    contractor,
                    resolved,
                    rejected,
                    conversion_rate: kpi::rate(resolved, resolved + rejected),
                })
                .collect(),
        },
    })
}
