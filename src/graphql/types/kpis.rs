//! The KPIs of `GET /v1/kpis` as GraphQL types: the same numbers, computed by the same
//! `reports::kpis`. Each type is built by destructuring its REST twin completely, so a KPI added
//! there fails to compile here until GraphQL shows it too.

use async_graphql::SimpleObject;
use jiff::civil::Date;

use crate::domain::kpi;
use crate::reports;

/// Every KPI of the range.
#[derive(SimpleObject)]
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
#[derive(SimpleObject)]
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

/// A labelled count.
#[derive(SimpleObject)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

/// How many PQRs arrived, by channel, kind, hour, weekday and day.
#[derive(SimpleObject)]
pub struct Volume {
    pub total: i64,
    pub by_channel: Vec<Count>,
    pub by_kind: Vec<Count>,
    /// 24 counts, hour 0 to 23 on the tenant's clock.
    pub by_hour: Vec<i64>,
    /// 7 counts, Monday to Sunday.
    pub by_weekday: Vec<i64>,
    /// Dates with at least one PQR, in order.
    pub by_day: Vec<DayCount>,
}

/// PQRs registered on one date.
#[derive(SimpleObject)]
pub struct DayCount {
    pub date: Date,
    pub count: i64,
}

/// Resolution, first contact, SLA and non-conformity; rates are null when their base is zero.
#[derive(SimpleObject)]
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

/// Rejections by attribution and place, with the top reasons.
#[derive(SimpleObject)]
pub struct Rejections {
    pub company: i64,
    pub customer: i64,
    pub unattributed: i64,
    pub by_place: Vec<PlaceRejections>,
    /// The ten most frequent reasons.
    pub top_reasons: Vec<Count>,
}

/// Rejections of one place, split by who they are attributed to.
#[derive(SimpleObject)]
pub struct PlaceRejections {
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
    pub company: i64,
    pub customer: i64,
    pub unattributed: i64,
}

/// Resolved ÷ (resolved + rejected), overall and per contractor (the assignee).
#[derive(SimpleObject)]
pub struct Conversion {
    pub rate: Option<f64>,
    pub by_contractor: Vec<ContractorConversion>,
}

/// Conversion of one contractor (assignee).
#[derive(SimpleObject)]
pub struct ContractorConversion {
    pub contractor: String,
    pub resolved: i64,
    pub rejected: i64,
    pub conversion_rate: Option<f64>,
}

fn counts(counts: Vec<kpi::Count>) -> Vec<Count> {
    counts
        .into_iter()
        .map(|kpi::Count { key, count }| Count { key, count })
        .collect()
}

impl From<reports::Kpis> for Kpis {
    fn from(kpis: reports::Kpis) -> Self {
        let reports::Kpis {
            from,
            to,
            time_zone,
            volume,
            top_products,
            customer_types,
            outcomes,
            time_to_resolution,
            backlog_age,
            rejections,
            conversion,
            satisfaction,
            risk,
            churn,
        } = kpis;
        let reports::Satisfaction {
            responses,
            satisfied,
            csat,
            mean_score,
            by_score,
        } = satisfaction;
        Kpis {
            from,
            to,
            time_zone,
            volume: volume.into(),
            top_products: counts(top_products),
            customer_types: counts(customer_types),
            outcomes: outcomes.into(),
            time_to_resolution: counts(time_to_resolution),
            backlog_age: counts(backlog_age),
            rejections: rejections.into(),
            conversion: conversion.into(),
            satisfaction: Satisfaction {
                responses,
                satisfied,
                csat,
                mean_score,
                by_score: counts(by_score),
            },
            risk: counts(risk),
            churn: counts(churn),
        }
    }
}

impl From<reports::Volume> for Volume {
    fn from(volume: reports::Volume) -> Self {
        let reports::Volume {
            total,
            by_channel,
            by_kind,
            arrivals,
        } = volume;
        let kpi::Arrivals {
            by_hour,
            by_weekday,
            by_day,
        } = arrivals;
        Volume {
            total,
            by_channel: counts(by_channel),
            by_kind: counts(by_kind),
            by_hour,
            by_weekday,
            by_day: by_day
                .into_iter()
                .map(|kpi::DayCount { date, count }| DayCount { date, count })
                .collect(),
        }
    }
}

impl From<reports::Outcomes> for Outcomes {
    fn from(outcomes: reports::Outcomes) -> Self {
        let reports::Outcomes {
            total,
            resolved,
            rejected,
            open,
            reopened,
            resolution_rate,
            first_contact_resolution_rate,
            sla_compliance_rate,
            first_response_compliance_rate,
            non_conformity_rate,
        } = outcomes;
        Outcomes {
            total,
            resolved,
            rejected,
            open,
            reopened,
            resolution_rate,
            first_contact_resolution_rate,
            sla_compliance_rate,
            first_response_compliance_rate,
            non_conformity_rate,
        }
    }
}

impl From<reports::Rejections> for Rejections {
    fn from(rejections: reports::Rejections) -> Self {
        let reports::Rejections {
            company,
            customer,
            unattributed,
            by_place,
            top_reasons,
        } = rejections;
        Rejections {
            company,
            customer,
            unattributed,
            by_place: by_place
                .into_iter()
                .map(
                    |reports::PlaceRejections {
                         department,
                         province,
                         district,
                         company,
                         customer,
                         unattributed,
                     }| PlaceRejections {
                        department,
                        province,
                        district,
                        company,
                        customer,
                        unattributed,
                    },
                )
                .collect(),
            top_reasons: counts(top_reasons),
        }
    }
}

impl From<reports::Conversion> for Conversion {
    fn from(conversion: reports::Conversion) -> Self {
        let reports::Conversion {
            rate,
            by_contractor,
        } = conversion;
        Conversion {
            rate,
            by_contractor: by_contractor
                .into_iter()
                .map(
                    |reports::ContractorConversion {
                         contractor,
                         resolved,
                         rejected,
                         conversion_rate,
                     }| ContractorConversion {
                        contractor,
                        resolved,
                        rejected,
                        conversion_rate,
                    },
                )
                .collect(),
        }
    }
}
