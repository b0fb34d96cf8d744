//! Custom reports (`POST /v1/reports`): one kind of measures over a period, filtered by channel
//! and kind, grouped by date or month, channel, kind and at most one attribute of the PQRs
//! (product, customer type, contractor, place, rejection reason). Served from the daily rollup,
//! so a report over millions of PQRs adds up thousands of rows.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::billing::Period;
use crate::domain::incident::{Channel, Kind};
use crate::domain::kpi::rate;
use crate::domain::rollup::DailyCounts;
use crate::domain::validation::Errors;
use crate::error::{Error, Result};
use crate::store::Db;
use crate::store::kpis::Scope;
use crate::store::rollups::{self, DailyQuery};

/// Longest period one report may cover.
pub const MAX_DAYS: i32 = 366;
/// Most rows one report may return; a larger result asks for a narrower grouping.
pub const MAX_ROWS: usize = 50_000;

/// Which measures a report has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `pqrs`
    Volume,
    /// `pqrs`, `resolved`, `rejected`, `open`, `resolution_rate`
    Outcomes,
    /// `pqrs`, `rejected`, `rejected_by_company`, `rejected_by_customer`, `rejection_rate`
    Rejections,
    /// `resolved`, `rejected`, `conversion_rate` (resolved ÷ (resolved + rejected))
    Conversion,
}

/// What rows are grouped by. At most one of the PQR attributes (all but `date`, `month`,
/// `channel`, `kind`) per report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The tenant's date of registration.
    Date,
    /// The tenant's month of registration (`YYYY-MM`).
    Month,
    Channel,
    Kind,
    Product,
    /// The customer's type at registration (`unknown` without a customer).
    CustomerType,
    /// The assignee.
    Contractor,
    Region,
    Department,
    Province,
    District,
    RejectionReason,
    /// The label of the tenant's `risk` model (`unscored` before scoring).
    Risk,
    /// The customer's churn probability range when the PQR was scored (`unscored` before).
    Churn,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Date => "date",
            GroupBy::Month => "month",
            GroupBy::Channel => "channel",
            GroupBy::Kind => "kind",
            GroupBy::Product => "product",
            GroupBy::CustomerType => "customer_type",
            GroupBy::Contractor => "contractor",
            GroupBy::Region => "region",
            GroupBy::Department => "department",
            GroupBy::Province => "province",
            GroupBy::District => "district",
            GroupBy::RejectionReason => "rejection_reason",
            GroupBy::Risk => "risk",
            GroupBy::Churn => "churn",
        }
    }

    /// The daily rollup's attribute, for the PQR attributes.
    fn attribute(self) -> Option<&'static str> {
        match self {
            GroupBy::Date | GroupBy::Month | GroupBy::Channel | GroupBy::Kind => None,
            other => Some(other.as_str()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportFilters {
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
}

/// How the report is returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

/// A report to compute. Give either `period` or `from` and `to`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub kind: ReportKind,
    /// A month, `YYYY-MM`, on the tenant's calendar.
    #[schema(value_type = Option<String>, example = "2026-11")]
    pub period: Option<Period>,
    /// First date (`YYYY-MM-DD`, the tenant's time zone).
    #[schema(value_type = Option<String>)]
    pub from: Option<Date>,
    /// Last date, included.
    #[schema(value_type = Option<String>)]
    pub to: Option<Date>,
    #[serde(default)]
    pub filters: ReportFilters,
    /// Columns to group by, in the order they appear; none gives one row of totals.
    #[serde(default)]
    pub group_by: Vec<GroupBy>,
    /// `json` (default) or `csv`.
    pub format: Option<ReportFormat>,
}

/// A checked report request.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    pub kind: ReportKind,
    pub days: (Date, Date),
    pub filters: ReportFilters,
    pub group_by: Vec<GroupBy>,
}

impl ReportRequest {
    /// Checks the request, naming every field at fault.
    pub fn validate(self) -> Result<ReportSpec> {
        let mut errors = Errors::new();
        let days = match (self.period, self.from, self.to) {
            (Some(period), None, None) => Some((period.first_day(), period.last_day())),
            (None, Some(from), Some(to)) if to < from => {
                errors.add("to", "must not be before from");
                None
            }
            (None, Some(from), Some(to)) if (to - from).get_days() >= MAX_DAYS => {
                errors.add("to", format!("a report covers at most {MAX_DAYS} days"));
                None
            }
            (None, Some(from), Some(to)) => Some((from, to)),
            (Some(_), _, _) => {
                errors.add("period", "give either period or from and to, not both");
                None
            }
            (None, from, to) => {
                if from.is_none() {
                    errors.add("from", "required when there is no period");
                }
                if to.is_none() {
                    errors.add("to", "required when there is no period");
                }
                None
            }
        };
        let mut seen = Vec::new();
        for (i, group) in self.group_by.iter().enumerate() {
            let field = format!("group_by[{i}]");
            if seen.contains(group) {
                errors.add(field, format!("{} is already grouped by", group.as_str()));
            } else if group.attribute().is_some() && seen.iter().any(|g| g.attribute().is_some()) {
                errors.add(
                    field,
                    "group by at most one of product, customer_type, contractor, region, \
                     department, province, district, rejection_reason, risk and churn",
                );
            } else if matches!(group, GroupBy::Date | GroupBy::Month)
                && seen
                    .iter()
                    .any(|g| matches!(g, GroupBy::Date | GroupBy::Month))
            {
                errors.add(field, "group by date or by month, not both");
            }
            seen.push(*group);
        }
        errors
            .finish(|| ())
            .map_err(Error::Validation)
            .map(|()| ReportSpec {
                kind: self.kind,
                days: days.expect("no errors means the days were set"),
                filters: self.filters,
                group_by: self.group_by,
            })
    }
}

/// A computed report: its columns in order and one object per row.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub kind: ReportKind,
    pub from: Date,
    pub to: Date,
    /// The time zone dates and months are counted in.
    pub time_zone: String,
    pub columns: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
}

fn measures(kind: ReportKind) -> &'static [&'static str] {
    match kind {
        ReportKind::Volume => &["pqrs"],
        ReportKind::Outcomes => &["pqrs", "resolved", "rejected", "open", "resolution_rate"],
        ReportKind::Rejections => &[
            "pqrs",
            "rejected",
            "rejected_by_company",
            "rejected_by_customer",
            "rejection_rate",
        ],
        ReportKind::Conversion => &["resolved", "rejected", "conversion_rate"],
    }
}

fn measure(name: &str, c: &DailyCounts) -> Value {
    let [n, done, rejected, company, customer] = *c;
    match name {
        "pqrs" => n.into(),
        "resolved" => done.into(),
        "rejected" => rejected.into(),
        "open" => (n - done - rejected).into(),
        "rejected_by_company" => company.into(),
        "rejected_by_customer" => customer.into(),
        "resolution_rate" => rate(done, n).into(),
        "rejection_rate" => rate(rejected, n).into(),
        "conversion_rate" => rate(done, done + rejected).into(),
        _ => Value::Null,
    }
}

/// Computes a report from the tenant's daily rollup.
pub async fn run(db: &Db, tenant_id: &str, tz: &TimeZone, spec: &ReportSpec) -> Result<Report> {
    let has = |g: GroupBy| spec.group_by.contains(&g);
    // Every PQR has exactly one customer type, so that attribute's rows add up to all PQRs.
    let attribute = spec
        .group_by
        .iter()
        .find_map(|g| g.attribute())
        .unwrap_or("customer_type");
    let scope = Scope {
        channel: spec.filters.channel,
        kind: spec.filters.kind,
        ..Scope::default()
    };
    let rows = rollups::daily(
        db,
        tenant_id,
        DailyQuery {
            attribute,
            days: spec.days,
            scope: &scope,
            by_day: has(GroupBy::Date) || has(GroupBy::Month),
            by_channel: has(GroupBy::Channel),
            by_kind: has(GroupBy::Kind),
            skip_empty: false,
            having: "n",
            order: "value",
            limit: None,
        },
    )
    .await?;
    // Group in the order the caller asked for; months fold their days together.
    let mut groups: BTreeMap<Vec<Option<String>>, DailyCounts> = BTreeMap::new();
    for row in rows {
        let key = spec
            .group_by
            .iter()
            .map(|g| match g {
                GroupBy::Date => row.day.clone(),
                GroupBy::Month => row.day.as_ref().map(|d| d[..7].to_owned()),
                GroupBy::Channel => row.channel.clone(),
                GroupBy::Kind => row.kind.clone(),
                _ => (!row.value.is_empty()).then(|| row.value.clone()),
            })
            .collect();
        let slot = groups.entry(key).or_default();
        for (total, count) in slot.iter_mut().zip(row.counts) {
            *total += count;
        }
        if groups.len() > MAX_ROWS {
            return Err(Error::validation(
                "group_by",
                format!(
                    "the report would have more than {MAX_ROWS} rows; group by fewer columns or \
                     shorten the period"
                ),
            ));
        }
    }
    if spec.group_by.is_empty() && groups.is_empty() {
        groups.insert(Vec::new(), DailyCounts::default());
    }
    let measures = measures(spec.kind);
    let columns: Vec<String> = spec
        .group_by
        .iter()
        .map(|g| g.as_str().to_owned())
        .chain(measures.iter().map(|m| (*m).to_owned()))
        .collect();
    let rows = groups
        .into_iter()
        .map(|(key, counts)| {
            let mut row = Map::new();
            for (group, value) in spec.group_by.iter().zip(key) {
                row.insert(
                    group.as_str().to_owned(),
                    value.map_or(Value::Null, Value::from),
                );
            }
            for name in measures {
                row.insert((*name).to_owned(), measure(name, &counts));
            }
            row
        })
        .collect();
    Ok(Report {
        kind: spec.kind,
        from: spec.days.0,
        to: spec.days.1,
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        columns,
        rows,
    })
}

/// The report as CSV: a header of its columns, then one line per row (empty for null).
pub fn csv(report: &Report) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    out.write_record(&report.columns).map_err(fail)?;
    for row in &report.rows {
        out.write_record(report.columns.iter().map(|c| match row.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }))
        .map_err(fail)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> Result<ReportSpec> {
        serde_json::from_value::<ReportRequest>(json)
            .expect("parses")
            .validate()
    }

    fn fields(result: Result<ReportSpec>) -> Vec<String> {
        match result {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_period_is_its_whole_month() {
        let spec = request(serde_json::json!({"kind": "volume", "period": "2026-02"})).unwrap();
        assert_eq!(
            spec.days,
            (
                jiff::civil::date(2026, 2, 1),
                jiff::civil::date(2026, 2, 28)
            )
        );
    }

    #[test]
    fn bad_requests_name_every_field() {
        assert_eq!(
            fields(request(serde_json::json!({"kind": "volume"}))),
            ["from", "to"]
        );
        assert_eq!(
            fields(request(serde_json::json!({
                "kind": "volume", "from": "2026-01-01", "to": "2027-06-01",
                "group_by": ["product", "district", "date", "month", "date"]
            }))),
            ["to", "group_by[1]", "group_by[3]", "group_by[4]"]
        );
        assert_eq!(
            fields(request(serde_json::json!({
                "kind": "volume", "period": "2026-01", "from": "2026-01-01"
            }))),
            ["period"]
        );
    }
}
