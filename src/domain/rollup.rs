//! What one PQR contributes to the KPI rollups, so KPIs and reports add up a few thousand rollup
//! rows instead of scanning millions of PQRs. A rollup row is the sum of the contributions of the
//! PQRs that fall in it; when a PQR changes, the difference between its contribution after and
//! before is added ([`delta`]). The meaning of each count is the one `domain::kpi` defines; the
//! equality of both ways of counting is tested (`tests/api/kpis.rs`).
//!
//! Two rollups:
//! - **hourly**: per UTC hour, channel and kind — volume, outcomes and time to resolution;
//! - **daily**: per local day (the tenant's date at registration), channel, kind and one
//!   attribute ([`ATTRIBUTES`]) — breakdowns by product, customer type, contractor, place, reason.
//!
//! Counts that depend on the time of the question (open PQRs already overdue, backlog age) are not
//! rolled up; they are counted live over the open PQRs only.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use super::incident::State;
use super::kpi::{CHURN_RANGES, RESOLUTION_RANGES, range_index};

/// Rollup rows are spread over this many shards (by PQR id), so concurrent registrations of the
/// same hour, channel and kind do not all wait on one row lock (PostgreSQL).
pub const SHARDS: i64 = 4;

/// The hourly counts, in column order.
pub const HOURLY_COUNTS: [&str; 19] = [
    "n",
    "done",
    "rejected",
    "reopened",
    "first_contact",
    "resolution_met",
    "resolution_late",
    "first_response_met",
    "first_response_late",
    "ttr_0",
    "ttr_1",
    "ttr_2",
    "ttr_3",
    "ttr_4",
    "survey_1",
    "survey_2",
    "survey_3",
    "survey_4",
    "survey_5",
];
/// Index of the first time-to-resolution range in [`HOURLY_COUNTS`].
pub const TTR_FIRST: usize = 9;
/// Index of the count of survey answers scoring 1 in [`HOURLY_COUNTS`] (then 2 to 5).
pub const SURVEY_FIRST: usize = 14;

/// The daily counts, in column order.
pub const DAILY_COUNTS: [&str; 5] = [
    "n",
    "done",
    "rejected",
    "rejected_company",
    "rejected_customer",
];

/// The attributes PQRs are broken down by in the daily rollup. Every PQR has one value of each
/// (empty when not set; `unknown` for a missing customer type), so each attribute's rows add up to
/// all PQRs. `risk` is the risk model's label and `churn` the customer's churn range
/// ([`CHURN_RANGES`]), both [`UNSCORED`] until the scoring job has run.
pub const ATTRIBUTES: [&str; 11] = [
    "customer_type",
    "product",
    "region",
    "department",
    "province",
    "district",
    "contractor",
    "rejection_reason",
    "place",
    "risk",
    "churn",
];

/// The `risk` and `churn` value of a PQR without that score.
pub const UNSCORED: &str = "unscored";

/// The fields of a PQR the rollups depend on. Times are UTC milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub id: String,
    pub created_at: i64,
    /// The tenant's date at registration (`YYYY-MM-DD`).
    pub local_day: String,
    pub channel: String,
    pub kind: String,
    /// The customer's type when the PQR was registered.
    pub customer_type: Option<String>,
    pub product: Option<String>,
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
    pub assignee: Option<String>,
    pub rejected_by: Option<String>,
    pub rejection_reason: Option<String>,
    pub state: State,
    pub escalation_level: i64,
    /// Reopened at least once.
    pub reopened: bool,
    pub first_response_at: Option<i64>,
    pub first_response_due_at: i64,
    pub resolved_at: Option<i64>,
    pub resolution_due_at: i64,
    /// The satisfaction survey's score (1–5), once answered.
    pub survey_score: Option<i64>,
    /// The risk model's label for the PQR.
    pub risk: Option<String>,
    /// The customer's churn range label when the PQR was scored.
    pub churn_range: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourlyKey {
    /// Milliseconds since the epoch ÷ 3,600,000.
    pub hour: i64,
    pub channel: String,
    pub kind: String,
    pub shard: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DailyKey {
    pub day: String,
    pub channel: String,
    pub kind: String,
    pub attribute: &'static str,
    pub value: String,
    pub shard: i64,
}

pub type HourlyCounts = [i64; HOURLY_COUNTS.len()];
pub type DailyCounts = [i64; DAILY_COUNTS.len()];

/// Changes to apply to the rollups, in key order (so concurrent writers lock rows in one order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    pub hourly: BTreeMap<HourlyKey, HourlyCounts>,
    pub daily: BTreeMap<DailyKey, DailyCounts>,
}

impl Delta {
    /// Adds `facts`' contribution `sign` times (1 to add a PQR, -1 to take it away).
    pub fn add(&mut self, facts: &Facts, sign: i64) {
        let shard = shard_of(&facts.id);
        let hourly = self
            .hourly
            .entry(HourlyKey {
                hour: facts.created_at.div_euclid(3_600_000),
                channel: facts.channel.clone(),
                kind: facts.kind.clone(),
                shard,
            })
            .or_default();
        for (slot, count) in hourly.iter_mut().zip(hourly_counts(facts)) {
            *slot += sign * count;
        }
        let counts = daily_counts(facts);
        for (attribute, value) in attribute_values(facts) {
            let daily = self
                .daily
                .entry(DailyKey {
                    day: facts.local_day.clone(),
                    channel: facts.channel.clone(),
                    kind: facts.kind.clone(),
                    attribute,
                    value,
                    shard,
                })
                .or_default();
            for (slot, count) in daily.iter_mut().zip(counts) {
                *slot += sign * count;
            }
        }
    }

    /// Drops rows whose counts cancel out.
    pub fn without_zeros(mut self) -> Delta {
        self.hourly.retain(|_, c| c.iter().any(|&n| n != 0));
        self.daily.retain(|_, c| c.iter().any(|&n| n != 0));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.hourly.is_empty() && self.daily.is_empty()
    }
}

/// The change to the rollups when a PQR goes from `before` (None: not yet registered) to `after`.
pub fn delta(before: Option<&Facts>, after: &Facts) -> Delta {
    let mut delta = Delta::default();
    if let Some(before) = before {
        delta.add(before, -1);
    }
    delta.add(after, 1);
    delta.without_zeros()
}

fn shard_of(id: &str) -> i64 {
    // FNV-1a: stable across builds and platforms (std's hasher is not).
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % SHARDS as u64) as i64
}

fn done(state: State) -> bool {
    matches!(state, State::Resolved | State::Closed)
}

fn hourly_counts(f: &Facts) -> HourlyCounts {
    let flag = |b: bool| i64::from(b);
    let done = done(f.state);
    let mut counts = [
        1,
        flag(done),
        flag(f.state == State::Rejected),
        flag(f.reopened),
        flag(done && f.escalation_level == 0 && !f.reopened),
        flag(f.resolved_at.is_some_and(|at| at <= f.resolution_due_at)),
        flag(f.resolved_at.is_some_and(|at| at > f.resolution_due_at)),
        flag(
            f.first_response_at
                .is_some_and(|at| at <= f.first_response_due_at),
        ),
        flag(
            f.first_response_at
                .is_some_and(|at| at > f.first_response_due_at),
        ),
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    if let Some(score @ 1..=5) = f.survey_score {
        counts[SURVEY_FIRST + score as usize - 1] = 1;
    }
    if let Some(resolved_at) = f.resolved_at {
        let taken = SignedDuration::from_millis(resolved_at - f.created_at);
        counts[TTR_FIRST + range_index(taken, &RESOLUTION_RANGES)] = 1;
    }
    counts
}

fn daily_counts(f: &Facts) -> DailyCounts {
    let rejected = f.state == State::Rejected;
    let by = f.rejected_by.as_deref();
    [
        1,
        i64::from(done(f.state)),
        i64::from(rejected),
        i64::from(rejected && by == Some("company")),
        i64::from(rejected && by == Some("customer")),
    ]
}

/// The place of a PQR as the daily rollup's `place` value: a JSON array
/// `[department, province, district]` (nulls where unknown).
pub fn place_value(
    department: Option<&str>,
    province: Option<&str>,
    district: Option<&str>,
) -> String {
    serde_json::json!([department, province, district]).to_string()
}

/// Reads a `place` value back.
pub fn parse_place(value: &str) -> (Option<String>, Option<String>, Option<String>) {
    serde_json::from_str(value).unwrap_or_default()
}

fn attribute_values(f: &Facts) -> [(&'static str, String); ATTRIBUTES.len()] {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        (
            "customer_type",
            f.customer_type.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("product", text(&f.product)),
        ("region", text(&f.region)),
        ("department", text(&f.department)),
        ("province", text(&f.province)),
        ("district", text(&f.district)),
        ("contractor", text(&f.assignee)),
        ("rejection_reason", text(&f.rejection_reason)),
        (
            "place",
            place_value(
                f.department.as_deref(),
                f.province.as_deref(),
                f.district.as_deref(),
            ),
        ),
        ("risk", f.risk.clone().unwrap_or_else(|| UNSCORED.into())),
        (
            "churn",
            f.churn_range.clone().unwrap_or_else(|| UNSCORED.into()),
        ),
    ]
}

/// The label of the churn range a probability falls in (ranges of `domain::kpi`).
pub fn churn_range(probability: f64) -> Option<&'static str> {
    probability.is_finite().then(|| {
        CHURN_RANGES
            .iter()
            .find(|(_, bound)| probability < *bound)
            .map_or(CHURN_RANGES[CHURN_RANGES.len() - 1].0, |(label, _)| *label)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let h = 3_600_000;
        Facts {
            id: "0190-a".into(),
            created_at: 100 * h,
            local_day: "2026-11-02".into(),
            channel: "phone".into(),
            kind: "reclamo".into(),
            customer_type: None,
            product: Some("Plan Hogar".into()),
            region: None,
            department: Some("Lima".into()),
            province: Some("Lima".into()),
            district: None,
            assignee: None,
            rejected_by: None,
            rejection_reason: None,
            state: State::Registered,
            escalation_level: 0,
            reopened: false,
            first_response_at: None,
            first_response_due_at: 104 * h,
            resolved_at: None,
            resolution_due_at: 124 * h,
            survey_score: None,
            risk: None,
            churn_range: None,
        }
    }

    #[test]
    fn a_registration_adds_one_to_every_attribute() {
        let d = delta(None, &facts());
        assert_eq!(d.hourly.len(), 1);
        let (key, counts) = d.hourly.iter().next().unwrap();
        assert_eq!(key.hour, 100);
        assert_eq!(counts[0], 1);
        assert_eq!(counts[1..].iter().sum::<i64>(), 0);
        assert_eq!(d.daily.len(), ATTRIBUTES.len());
        assert!(d.daily.values().all(|c| c == &[1, 0, 0, 0, 0]));
        let values: Vec<_> = d
            .daily
            .keys()
            .map(|k| (k.attribute, k.value.as_str()))
            .collect();
        assert!(values.contains(&("customer_type", "unknown")));
        assert!(values.contains(&("product", "Plan Hogar")));
        assert!(values.contains(&("place", r#"["Lima","Lima",null]"#)));
        assert!(values.contains(&("risk", UNSCORED)));
        assert!(values.contains(&("churn", UNSCORED)));
    }

    #[test]
    fn a_survey_answer_and_scores_move_only_their_counts() {
        let before = facts();
        let mut after = before.clone();
        after.survey_score = Some(4);
        after.risk = Some("alto".into());
        after.churn_range = churn_range(0.65).map(str::to_owned);
        let d = delta(Some(&before), &after);
        let counts = d.hourly.values().next().unwrap();
        let named: Vec<_> = HOURLY_COUNTS
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n != 0)
            .map(|(name, n)| (*name, *n))
            .collect();
        assert_eq!(named, [("survey_4", 1)]);
        let moved: Vec<_> = d
            .daily
            .iter()
            .map(|(k, c)| (k.attribute, k.value.as_str(), c[0]))
            .collect();
        assert_eq!(
            moved,
            [
                ("churn", "60–80%", 1),
                ("churn", UNSCORED, -1),
                ("risk", "alto", 1),
                ("risk", UNSCORED, -1),
            ]
        );
    }

    #[test]
    fn churn_probabilities_fall_in_their_range() {
        let labels: Vec<_> = [0.0, 0.19, 0.2, 0.5, 0.8, 1.0]
            .into_iter()
            .map(|p| churn_range(p).unwrap())
            .collect();
        assert_eq!(
            labels,
            ["0–20%", "0–20%", "20–40%", "40–60%", "80–100%", "80–100%"]
        );
        assert_eq!(churn_range(f64::NAN), None);
    }

    #[test]
    fn a_change_moves_counts_without_adding_a_pqr() {
        let before = facts();
        let mut after = before.clone();
        after.state = State::Resolved;
        after.assignee = Some("contratista-1".into());
        after.first_response_at = Some(before.created_at + 3_600_000);
        after.resolved_at = Some(before.created_at + 30 * 3_600_000);
        let d = delta(Some(&before), &after);
        let counts = d.hourly.values().next().unwrap();
        assert_eq!(counts[0], 0, "still one PQR");
        // done, first contact, resolved late, first response met, 1–3 d to resolve.
        let named: Vec<_> = HOURLY_COUNTS
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n != 0)
            .map(|(name, n)| (*name, *n))
            .collect();
        assert_eq!(
            named,
            [
                ("done", 1),
                ("first_contact", 1),
                ("resolution_late", 1),
                ("first_response_met", 1),
                ("ttr_2", 1)
            ]
        );
        // The contractor moves from "" to contratista-1; every other attribute gains a done.
        let contractor: Vec<_> = d
            .daily
            .iter()
            .filter(|(k, _)| k.attribute == "contractor")
            .map(|(k, c)| (k.value.as_str(), *c))
            .collect();
        assert_eq!(
            contractor,
            [("", [-1, 0, 0, 0, 0]), ("contratista-1", [1, 1, 0, 0, 0])]
        );
        assert_eq!(
            d.daily
                .iter()
                .filter(|(k, _)| k.attribute == "product")
                .map(|(_, c)| *c)
                .collect::<Vec<_>>(),
            [[0, 1, 0, 0, 0]]
        );
    }

    #[test]
    fn an_unchanged_pqr_changes_nothing_and_rejections_are_attributed() {
        let f = facts();
        assert!(delta(Some(&f), &f).is_empty());
        let mut rejected = f.clone();
        rejected.state = State::Rejected;
        rejected.rejected_by = Some("customer".into());
        rejected.rejection_reason = Some("Cliente desistió".into());
        let d = delta(Some(&f), &rejected);
        let reason = d
            .daily
            .iter()
            .find(|(k, _)| k.attribute == "rejection_reason" && !k.value.is_empty())
            .unwrap();
        assert_eq!(reason.1, &[1, 0, 1, 0, 1]);
    }

    #[test]
    fn places_round_trip_and_shards_are_stable() {
        let value = place_value(Some("Cusco"), None, Some("Wanchaq"));
        assert_eq!(
            parse_place(&value),
            (Some("Cusco".into()), None, Some("Wanchaq".into()))
        );
        assert_eq!(shard_of("0190-a"), shard_of("0190-a"));
        assert!((0..SHARDS).contains(&shard_of("x")));
    }
}
