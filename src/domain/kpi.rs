//! KPI definitions: what each indicator counts, the ranges durations are grouped in, and how
//! hourly counts become the tenant's hours of day, weekdays and dates. The store computes the
//! counts; the rules of what they mean live here, once.
//!
//! Definitions (also in the README):
//! - **resolution rate**: resolved or closed ÷ all PQRs of the range;
//! - **first-contact resolution**: resolved or closed, never escalated and never reopened ÷
//!   resolved or closed;
//! - **SLA compliance**: resolved by the resolution due time ÷ those resolved plus those still
//!   open past it (first response likewise);
//! - **non-conformity rate**: PQRs reopened at least once (the customer did not accept the
//!   resolution) ÷ all PQRs of the range (seed target ≤ 2%);
//! - **conversion** (Claro): resolved or closed ÷ (resolved or closed + rejected), overall and per
//!   contractor (the assignee).

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// Upper bounds (exclusive) of the time-to-resolution ranges, with their labels.
pub const RESOLUTION_RANGES: [(&str, Option<SignedDuration>); 5] = [
    ("< 4 h", Some(SignedDuration::from_hours(4))),
    ("4–24 h", Some(SignedDuration::from_hours(24))),
    ("1–3 d", Some(SignedDuration::from_hours(72))),
    ("3–7 d", Some(SignedDuration::from_hours(168))),
    ("≥ 7 d", None),
];

/// Upper bounds (exclusive) of the backlog age ranges.
pub const BACKLOG_RANGES: [(&str, Option<SignedDuration>); 5] = [
    ("< 1 d", Some(SignedDuration::from_hours(24))),
    ("1–3 d", Some(SignedDuration::from_hours(72))),
    ("3–7 d", Some(SignedDuration::from_hours(168))),
    ("7–30 d", Some(SignedDuration::from_hours(720))),
    ("≥ 30 d", None),
];

/// Churn probability ranges (upper bounds exclusive, the last inclusive of 1).
pub const CHURN_RANGES: [(&str, f64); 5] = [
    ("0–20%", 0.2),
    ("20–40%", 0.4),
    ("40–60%", 0.6),
    ("60–80%", 0.8),
    ("80–100%", f64::INFINITY),
];

/// A labelled count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub key: String,
    pub count: i64,
}

/// `part ÷ whole`, or null when nothing was counted.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The index of the range `value` falls in, given exclusive upper bounds (the last unbounded).
pub fn range_index(value: SignedDuration, ranges: &[(&str, Option<SignedDuration>)]) -> usize {
    ranges
        .iter()
        .position(|(_, bound)| bound.is_none_or(|b| value < b))
        .unwrap_or(ranges.len() - 1)
}

/// Counts per range, in the ranges' order, all ranges present.
pub fn ranged(
    values: impl IntoIterator<Item = SignedDuration>,
    ranges: &[(&str, Option<SignedDuration>)],
) -> Vec<Count> {
    let mut counts = vec![0i64; ranges.len()];
    for value in values {
        counts[range_index(value, ranges)] += 1;
    }
    ranges
        .iter()
        .zip(counts)
        .map(|((label, _), count)| Count {
            key: (*label).to_owned(),
            count,
        })
        .collect()
}

/// When PQRs arrive, on the tenant's wall clock.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Arrivals {
    /// 24 counts, hour 0 to 23.
    pub by_hour: Vec<i64>,
    /// 7 counts, Monday to Sunday.
    pub by_weekday: Vec<i64>,
    /// Dates with at least one PQR, in order.
    pub by_day: Vec<DayCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    pub date: Date,
    pub count: i64,
}

/// Spreads counts per UTC hour (`hour` = milliseconds since the epoch ÷ 3,600,000) over the
/// tenant's hours, weekdays and dates. Exact for zones whose offsets are whole hours (all of
/// Peru, Colombia and Chile).
pub fn arrivals(hourly: &[(i64, i64)], tz: &TimeZone) -> Arrivals {
    let mut by_hour = vec![0i64; 24];
    let mut by_weekday = vec![0i64; 7];
    let mut by_day: std::collections::BTreeMap<Date, i64> = std::collections::BTreeMap::new();
    for &(hour, count) in hourly {
        let Ok(at) = Timestamp::from_second(hour.saturating_mul(3_600)) else {
            continue;
        };
        let local = tz.to_datetime(at);
        by_hour[local.hour() as usize] += count;
        let weekday = match local.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        by_weekday[weekday] += count;
        *by_day.entry(local.date()).or_insert(0) += count;
    }
    Arrivals {
        by_hour,
        by_weekday,
        by_day: by_day
            .into_iter()
            .map(|(date, count)| DayCount { date, count })
            .collect(),
    }
}

/// The instants `[from, to)` covering the dates `first..=last` on the tenant's wall clock.
pub fn date_range(first: Date, last: Date, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = tz
        .to_zoned(first.to_datetime(jiff::civil::Time::midnight()))
        .ok()?;
    let end = tz
        .to_zoned(
            last.tomorrow()
                .ok()?
                .to_datetime(jiff::civil::Time::midnight()),
        )
        .ok()?;
    (start.timestamp() < end.timestamp()).then(|| (start.timestamp(), end.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lima() -> TimeZone {
        TimeZone::get("America/Lima").unwrap()
    }

    #[test]
    fn durations_fall_in_their_range() {
        let h = SignedDuration::from_hours;
        let labels: Vec<_> = [h(0), h(3), h(4), h(30), h(100), h(500)]
            .into_iter()
            .map(|d| RESOLUTION_RANGES[range_index(d, &RESOLUTION_RANGES)].0)
            .collect();
        assert_eq!(
            labels,
            ["< 4 h", "< 4 h", "4–24 h", "1–3 d", "3–7 d", "≥ 7 d"]
        );
        let counts = ranged([h(1), h(2), h(200)], &RESOLUTION_RANGES);
        assert_eq!(counts.len(), 5);
        assert_eq!((counts[0].count, counts[4].count), (2, 1));
    }

    #[test]
    fn utc_hours_become_lima_hours_weekdays_and_dates() {
        // 2026-11-30T04:00Z is Sunday 29 November 23:00 in Lima; 05:00Z is Monday 00:00.
        let hour = |s: &str| s.parse::<Timestamp>().unwrap().as_second() / 3_600;
        let a = arrivals(
            &[
                (hour("2026-11-30T04:00:00Z"), 3),
                (hour("2026-11-30T05:00:00Z"), 2),
            ],
            &lima(),
        );
        assert_eq!((a.by_hour[23], a.by_hour[0]), (3, 2));
        assert_eq!((a.by_weekday[6], a.by_weekday[0]), (3, 2));
        let days: Vec<_> = a
            .by_day
            .iter()
            .map(|d| (d.date.to_string(), d.count))
            .collect();
        assert_eq!(
            days,
            [("2026-11-29".to_owned(), 3), ("2026-11-30".to_owned(), 2)]
        );
    }

    #[test]
    fn date_ranges_are_local_days() {
        let (from, to) = date_range(
            jiff::civil::date(2026, 11, 1),
            jiff::civil::date(2026, 11, 30),
            &lima(),
        )
        .unwrap();
        assert_eq!(from.to_string(), "2026-11-01T05:00:00Z");
        assert_eq!(to.to_string(), "2026-12-01T05:00:00Z");
        assert!(
            date_range(
                jiff::civil::date(2026, 11, 2),
                jiff::civil::date(2026, 11, 1),
                &lima()
            )
            .is_none()
        );
    }

    #[test]
    fn rates_are_null_without_a_base() {
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(rate(0, 0), None);
    }
}
