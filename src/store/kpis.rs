//! The counts behind KPIs and reports, as SQL aggregates over a tenant's PQRs in a range of
//! registration times (the database does the counting; only grouped rows come back). What each
//! count means is defined in `domain::kpi`.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use super::{Db, Sql, to_millis};
use crate::domain::incident::{Channel, Kind};
use crate::domain::kpi::Count;
use crate::error::Result;

/// Which PQRs count: registered in `[from, to)`, optionally of one channel, kind or place.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

/// Open PQRs.
pub const OPEN: &str = "i.state NOT IN ('resolved', 'closed', 'rejected')";
const DONE: &str = "i.state IN ('resolved', 'closed')";

/// `SELECT <select> FROM incidents i WHERE <tenant and scope>`; callers append more.
pub(super) fn scoped(select: &str, tenant_id: &str, scope: &Scope) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {select} FROM incidents i WHERE i.tenant_id = "
    ));
    sql.bind(tenant_id.to_owned());
    if let Some(from) = scope.from {
        sql.push(" AND i.created_at >= ").bind(to_millis(from));
    }
    if let Some(to) = scope.to {
        sql.push(" AND i.created_at < ").bind(to_millis(to));
    }
    if let Some(channel) = scope.channel {
        sql.push(" AND i.channel = ").bind(channel.as_str());
    }
    if let Some(kind) = scope.kind {
        sql.push(" AND i.kind = ").bind(kind.as_str());
    }
    for (column, value) in [
        ("region", &scope.region),
        ("department", &scope.department),
        ("province", &scope.province),
        ("district", &scope.district),
    ] {
        if let Some(value) = value {
            sql.push(&format!(" AND i.{column} = ")).bind(value.clone());
        }
    }
    sql
}

/// `CASE WHEN <expr> < b0 THEN 0 WHEN <expr> < b1 THEN 1 … ELSE n END`, from range bounds.
fn bucket(expr: &str, ranges: &[(&str, Option<SignedDuration>)]) -> String {
    let mut case = String::from("CASE");
    for (i, (_, bound)) in ranges.iter().enumerate() {
        match bound {
            Some(bound) => case.push_str(&format!(" WHEN {expr} < {} THEN {i}", bound.as_millis())),
            None => case.push_str(&format!(" ELSE {i}")),
        }
    }
    case.push_str(" END");
    case
}

fn counts(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Count>> {
    rows.iter()
        .map(|row| {
            Ok(Count {
                key: row.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
                count: row.try_get(1)?,
            })
        })
        .collect()
}

/// PQRs by channel and kind: `(channel, kind, count)`.
pub async fn by_channel_and_kind(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
) -> Result<Vec<(String, String, i64)>> {
    let mut sql = scoped("i.channel, i.kind, COUNT(*)", tenant_id, scope);
    sql.push(" GROUP BY i.channel, i.kind");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// PQRs per UTC hour: `(ms since the epoch ÷ 3,600,000, count)`.
pub async fn hourly(db: &Db, tenant_id: &str, scope: &Scope) -> Result<Vec<(i64, i64)>> {
    let mut sql = scoped("i.created_at / 3600000 AS h, COUNT(*)", tenant_id, scope);
    sql.push(" GROUP BY i.created_at / 3600000");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The most frequent values of a text column (`product`, `rejection_reason`, …) among the
/// scoped PQRs (those matching `condition`, if given), most frequent first.
pub async fn top(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    column: &'static str,
    condition: Option<&'static str>,
    limit: i64,
) -> Result<Vec<Count>> {
    let mut sql = scoped(&format!("i.{column}, COUNT(*) AS n"), tenant_id, scope);
    sql.push(&format!(" AND i.{column} IS NOT NULL"));
    if let Some(condition) = condition {
        sql.push(&format!(" AND {condition}"));
    }
    sql.push(&format!(
        " GROUP BY i.{column} ORDER BY n DESC, i.{column} LIMIT "
    ))
    .bind(limit);
    counts(&sql.fetch_all(&db.reader).await?)
}

/// PQRs by the type their customer had at registration (`unknown` without a customer).
pub async fn customer_types(db: &Db, tenant_id: &str, scope: &Scope) -> Result<Vec<Count>> {
    let mut sql = scoped(
        "COALESCE(i.customer_type, 'unknown') AS t, COUNT(*) AS n",
        tenant_id,
        scope,
    );
    sql.push(" GROUP BY COALESCE(i.customer_type, 'unknown') ORDER BY n DESC, t");
    counts(&sql.fetch_all(&db.reader).await?)
}

/// Survey answers of the scoped PQRs per score: element 0 counts the 1s, element 4 the 5s.
pub async fn survey_scores(db: &Db, tenant_id: &str, scope: &Scope) -> Result<[i64; 5]> {
    let mut sql = scoped(
        "(SELECT s.score FROM incident_surveys s WHERE s.tenant_id = i.tenant_id \
         AND s.incident_id = i.id) AS score, COUNT(*)",
        tenant_id,
        scope,
    );
    sql.push(" GROUP BY 1");
    let mut scores = [0i64; 5];
    for row in sql.fetch_all(&db.reader).await? {
        if let Some(score @ 1..=5) = row.try_get::<Option<i64>, _>(0)? {
            scores[score as usize - 1] = row.try_get(1)?;
        }
    }
    Ok(scores)
}

/// The scoped PQRs by a score column of their insights (`risk_label`, `churn_range`), with
/// `unscored` for those without one.
pub async fn by_score(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    column: &'static str,
) -> Result<Vec<Count>> {
    let mut sql = scoped(
        &format!(
            "COALESCE((SELECT n.{column} FROM incident_insights n WHERE n.tenant_id = i.tenant_id \
             AND n.incident_id = i.id), '{}') AS v, COUNT(*)",
            crate::domain::rollup::UNSCORED
        ),
        tenant_id,
        scope,
    );
    sql.push(" GROUP BY 1");
    counts(&sql.fetch_all(&db.reader).await?)
}

/// The counts behind the outcome KPIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub total: i64,
    pub resolved: i64,
    pub rejected: i64,
    pub open: i64,
    pub resolution_met: i64,
    pub resolution_breached: i64,
    pub first_response_met: i64,
    pub first_response_breached: i64,
    pub first_contact: i64,
    pub reopened: i64,
}

/// Outcome counts of the scoped PQRs; "breached" includes open PQRs already past due at `now`.
pub async fn outcomes(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    now: Timestamp,
) -> Result<OutcomeCounts> {
    let now = to_millis(now);
    let reopened = "i.id IN (SELECT e.incident_id FROM incident_events e \
                    WHERE e.tenant_id = i.tenant_id AND e.to_state = 'reopened')";
    let select = format!(
        "COUNT(*), \
         SUM(CASE WHEN {DONE} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.state = 'rejected' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {OPEN} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.resolved_at IS NOT NULL AND i.resolved_at <= i.resolution_due_at THEN 1 ELSE 0 END), \
         SUM(CASE WHEN (i.resolved_at IS NOT NULL AND i.resolved_at > i.resolution_due_at) \
                   OR ({OPEN} AND i.resolution_due_at < {now}) THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.first_response_at IS NOT NULL AND i.first_response_at <= i.first_response_due_at THEN 1 ELSE 0 END), \
         SUM(CASE WHEN (i.first_response_at IS NOT NULL AND i.first_response_at > i.first_response_due_at) \
                   OR (i.first_response_at IS NULL AND {OPEN} AND i.first_response_due_at < {now}) THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {DONE} AND i.escalation_level = 0 AND NOT {reopened} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {reopened} THEN 1 ELSE 0 END)"
    );
    let sql = scoped(&select, tenant_id, scope);
    let rows = sql.fetch_all(&db.reader).await?;
    let Some(row) = rows.first() else {
        return Ok(OutcomeCounts::default());
    };
    let n = |i: usize| -> Result<i64> { Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0)) };
    Ok(OutcomeCounts {
        total: n(0)?,
        resolved: n(1)?,
        rejected: n(2)?,
        open: n(3)?,
        resolution_met: n(4)?,
        resolution_breached: n(5)?,
        first_response_met: n(6)?,
        first_response_breached: n(7)?,
        first_contact: n(8)?,
        reopened: n(9)?,
    })
}

/// Counts per range of `expr` (milliseconds) among scoped PQRs matching `condition`, one per
/// range in order.
pub async fn ranged(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    expr: &str,
    condition: &str,
    ranges: &[(&str, Option<SignedDuration>)],
) -> Result<Vec<Count>> {
    let case = bucket(expr, ranges);
    let mut sql = scoped(&format!("{case} AS b, COUNT(*)"), tenant_id, scope);
    sql.push(&format!(" AND {condition} GROUP BY {case}"));
    let mut out: Vec<Count> = ranges
        .iter()
        .map(|(label, _)| Count {
            key: (*label).to_owned(),
            count: 0,
        })
        .collect();
    for row in sql.fetch_all(&db.reader).await? {
        let index: i64 = row.try_get(0)?;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
            slot.count = row.try_get(1)?;
        }
    }
    Ok(out)
}

/// Milliseconds from registration to resolution.
pub const RESOLUTION_TIME: &str = "(i.resolved_at - i.created_at)";
/// Resolved PQRs (resolution time known).
pub const RESOLVED: &str = "i.resolved_at IS NOT NULL";

/// Rejected PQRs by who they are attributed to and where: `(rejected_by, department, province,
/// district, count)`, in no particular order.
pub async fn rejections(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
) -> Result<
    Vec<(
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
    )>,
> {
    let mut sql = scoped(
        "i.rejected_by, i.department, i.province, i.district, COUNT(*)",
        tenant_id,
        scope,
    );
    sql.push(
        " AND i.state = 'rejected' GROUP BY i.rejected_by, i.department, i.province, i.district",
    );
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
            ))
        })
        .collect()
}

/// Per assignee (contractor): `(assignee, resolved or closed, rejected)`.
pub async fn by_contractor(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
) -> Result<Vec<(String, i64, i64)>> {
    let mut sql = scoped(
        &format!(
            "i.assignee, SUM(CASE WHEN {DONE} THEN 1 ELSE 0 END), \
             SUM(CASE WHEN i.state = 'rejected' THEN 1 ELSE 0 END)"
        ),
        tenant_id,
        scope,
    );
    sql.push(" AND i.assignee IS NOT NULL GROUP BY i.assignee ORDER BY i.assignee");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                r.try_get::<Option<i64>, _>(2)?.unwrap_or(0),
            ))
        })
        .collect()
}
