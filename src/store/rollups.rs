//! The KPI rollup tables (`kpi_hourly`, `kpi_daily`): applying a PQR's change in the transaction
//! that makes it, rebuilding a tenant's rollups from its PQRs, and reading them back grouped.
//! What a PQR contributes is decided in `domain::rollup`.

use futures_util::TryStreamExt;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::kpis::{OPEN, Scope};
use super::{Db, Sql, to_millis};
use crate::domain::incident::State;
use crate::domain::kpi::BACKLOG_RANGES;
use crate::domain::rollup::{DAILY_COUNTS, DailyCounts, Delta, Facts, HOURLY_COUNTS, HourlyCounts};
use crate::error::{Error, Result};

/// Rows per multi-row statement (well under SQLite's limit on bound values).
const ROWS_PER_STATEMENT: usize = 400;

/// The columns `facts_from_row` reads, from `incidents i`.
const FACT_COLUMNS: &str = "i.id, i.created_at, i.local_day, i.channel, i.kind, i.customer_type, \
    i.product, i.region, i.department, i.province, i.district, i.assignee, i.rejected_by, \
    i.rejection_reason, i.state, i.escalation_level, \
    CAST(CASE WHEN EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id \
        AND e.to_state = 'reopened') THEN 1 ELSE 0 END AS BIGINT) AS reopened, \
    i.first_response_at, i.first_response_due_at, i.resolved_at, i.resolution_due_at, i.version, \
    (SELECT s.score FROM incident_surveys s WHERE s.tenant_id = i.tenant_id \
        AND s.incident_id = i.id) AS survey_score, \
    (SELECT n.risk_label FROM incident_insights n WHERE n.tenant_id = i.tenant_id \
        AND n.incident_id = i.id) AS risk_label, \
    (SELECT n.churn_range FROM incident_insights n WHERE n.tenant_id = i.tenant_id \
        AND n.incident_id = i.id) AS churn_range";

fn facts_from_row(row: &AnyRow) -> Result<Facts> {
    let state: String = row.try_get("state")?;
    Ok(Facts {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        local_day: row
            .try_get::<Option<String>, _>("local_day")?
            .unwrap_or_default(),
        channel: row.try_get("channel")?,
        kind: row.try_get("kind")?,
        customer_type: row.try_get("customer_type")?,
        product: row.try_get("product")?,
        region: row.try_get("region")?,
        department: row.try_get("department")?,
        province: row.try_get("province")?,
        district: row.try_get("district")?,
        assignee: row.try_get("assignee")?,
        rejected_by: row.try_get("rejected_by")?,
        rejection_reason: row.try_get("rejection_reason")?,
        state: State::parse(&state)
            .ok_or_else(|| Error::Internal(format!("unreadable state {state:?} stored")))?,
        escalation_level: row.try_get("escalation_level")?,
        reopened: row.try_get::<i64, _>("reopened")? != 0,
        first_response_at: row.try_get("first_response_at")?,
        first_response_due_at: row.try_get("first_response_due_at")?,
        resolved_at: row.try_get("resolved_at")?,
        resolution_due_at: row.try_get("resolution_due_at")?,
        survey_score: row.try_get("survey_score")?,
        risk: row.try_get("risk_label")?,
        churn_range: row.try_get("churn_range")?,
    })
}

/// Serialises changes to one PQR's rollup contribution: a transaction that reads its facts and
/// applies a delta takes this lock first, so its "before" cannot be stale (PostgreSQL; SQLite has
/// one writer). Needed because surveys and scores change facts without the version check of
/// transitions. Fails with not-found for another tenant's PQR.
pub async fn lock(
    tx: &mut Transaction<'_, Any>,
    backend: super::Backend,
    tenant_id: &str,
    id: &str,
) -> Result<()> {
    let sql = match backend {
        super::Backend::Postgres => {
            "SELECT id FROM incidents WHERE id = $1 AND tenant_id = $2 FOR UPDATE"
        }
        super::Backend::Sqlite => "SELECT id FROM incidents WHERE id = $1 AND tenant_id = $2",
    };
    sqlx::query(sql)
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound("incident"))?;
    Ok(())
}

/// A PQR's facts and version as this transaction sees them.
pub async fn facts(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    id: &str,
) -> Result<(Facts, i64)> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {FACT_COLUMNS} FROM incidents i WHERE i.id = $1 AND i.tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Error::NotFound("incident"))?;
    Ok((facts_from_row(&row)?, row.try_get("version")?))
}

/// Adds `delta` to the tenant's rollup rows, creating missing rows.
pub async fn apply(tx: &mut Transaction<'_, Any>, tenant_id: &str, delta: &Delta) -> Result<()> {
    let hourly: Vec<_> = delta.hourly.iter().collect();
    for chunk in hourly.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new("INSERT INTO kpi_hourly (tenant_id, hour, channel, kind, shard");
        for column in HOURLY_COUNTS {
            sql.push(", ").push(column);
        }
        sql.push(") VALUES ");
        for (i, (key, counts)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(tenant_id.to_owned());
            sql.push(", ").bind(key.hour);
            sql.push(", ").bind(key.channel.clone());
            sql.push(", ").bind(key.kind.clone());
            sql.push(", ").bind(key.shard);
            for count in counts.iter() {
                sql.push(", ").bind(*count);
            }
            sql.push(")");
        }
        sql.push(" ON CONFLICT (tenant_id, hour, channel, kind, shard) DO UPDATE SET ");
        push_increments(&mut sql, "kpi_hourly", &HOURLY_COUNTS);
        sql.execute(&mut **tx).await?;
    }
    let daily: Vec<_> = delta.daily.iter().collect();
    for chunk in daily.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(
            "INSERT INTO kpi_daily (tenant_id, day, channel, kind, attribute, value, shard",
        );
        for column in DAILY_COUNTS {
            sql.push(", ").push(column);
        }
        sql.push(") VALUES ");
        for (i, (key, counts)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(tenant_id.to_owned());
            sql.push(", ").bind(key.day.clone());
            sql.push(", ").bind(key.channel.clone());
            sql.push(", ").bind(key.kind.clone());
            sql.push(", ").bind(key.attribute);
            sql.push(", ").bind(key.value.clone());
            sql.push(", ").bind(key.shard);
            for count in counts.iter() {
                sql.push(", ").bind(*count);
            }
            sql.push(")");
        }
        sql.push(
            " ON CONFLICT (tenant_id, attribute, day, channel, kind, value, shard) DO UPDATE SET ",
        );
        push_increments(&mut sql, "kpi_daily", &DAILY_COUNTS);
        sql.execute(&mut **tx).await?;
    }
    Ok(())
}

fn push_increments(sql: &mut Sql, table: &str, columns: &[&str]) {
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(&format!("{column} = {table}.{column} + excluded.{column}"));
    }
}

/// Recomputes a tenant's rollups from its PQRs, first filling in the registration snapshots
/// (`local_day` on the wall clock of `tz`, `customer_type`) of PQRs stored before rollups
/// existed. Registrations and changes made meanwhile wait, then apply on top. Returns the number
/// of PQRs counted.
pub async fn rebuild(db: &Db, tenant_id: &str, tz: &TimeZone) -> Result<u64> {
    let mut tx = db.writer.begin().await?;
    if db.backend == super::Backend::Postgres {
        // Writers of rollup rows wait until the rebuilt rows are committed; their PQR changes are
        // either visible below (committed before the lock) or applied as deltas after it.
        sqlx::query("LOCK TABLE kpi_hourly, kpi_daily IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE incidents SET customer_type = (SELECT c.customer_type FROM customers c \
         WHERE c.tenant_id = incidents.tenant_id AND c.id = incidents.customer_id) \
         WHERE tenant_id = $1 AND customer_type IS NULL AND customer_id IS NOT NULL",
    )
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    fill_local_days(&mut tx, tenant_id, tz).await?;
    super::insights::fill_score_columns(&mut tx, tenant_id).await?;
    for table in ["kpi_hourly", "kpi_daily"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1"
        )))
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    }
    let mut delta = Delta::default();
    let mut counted = 0u64;
    {
        let sql = format!("SELECT {FACT_COLUMNS} FROM incidents i WHERE i.tenant_id = $1");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant_id)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            delta.add(&facts_from_row(&row)?, 1);
            counted += 1;
        }
    }
    apply(&mut tx, tenant_id, &delta.without_zeros()).await?;
    sqlx::query(
        "INSERT INTO kpi_rollup_builds (tenant_id, built_at) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET built_at = excluded.built_at",
    )
    .bind(tenant_id)
    .bind(to_millis(Timestamp::now()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(counted)
}

/// Sets `local_day` where it is missing, one local day at a time.
async fn fill_local_days(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    tz: &TimeZone,
) -> Result<()> {
    let row = sqlx::query(
        "SELECT MIN(created_at), MAX(created_at) FROM incidents \
         WHERE tenant_id = $1 AND local_day IS NULL",
    )
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await?;
    let (Some(first), Some(last)) = (
        row.try_get::<Option<i64>, _>(0)?,
        row.try_get::<Option<i64>, _>(1)?,
    ) else {
        return Ok(());
    };
    let day_of = |ms: i64| tz.to_datetime(super::from_millis(ms)).date();
    let mut day = day_of(first);
    let last = day_of(last);
    while day <= last {
        let (start, end) = crate::domain::kpi::date_range(day, day, tz)
            .ok_or_else(|| Error::Internal(format!("no instants for {day}")))?;
        sqlx::query(
            "UPDATE incidents SET local_day = $1 WHERE tenant_id = $2 AND local_day IS NULL \
             AND created_at >= $3 AND created_at < $4",
        )
        .bind(day.to_string())
        .bind(tenant_id)
        .bind(to_millis(start))
        .bind(to_millis(end))
        .execute(&mut **tx)
        .await?;
        day = day
            .tomorrow()
            .map_err(|e| Error::Internal(format!("date overflow: {e}")))?;
    }
    Ok(())
}

/// Tenants whose rollups have never been built.
pub async fn unbuilt_tenants(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM tenants WHERE id NOT IN (SELECT tenant_id FROM kpi_rollup_builds) \
         ORDER BY id",
    )
    .fetch_all(&db.reader)
    .await?;
    rows.iter()
        .map(|r| r.try_get(0).map_err(Error::from))
        .collect()
}

/// Marks a new tenant's (empty) rollups as complete.
pub async fn mark_built(tx: &mut Transaction<'_, Any>, tenant_id: &str) -> Result<()> {
    sqlx::query("INSERT INTO kpi_rollup_builds (tenant_id, built_at) VALUES ($1, $2)")
        .bind(tenant_id)
        .bind(to_millis(Timestamp::now()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn sums(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn push_channel_kind(sql: &mut Sql, scope: &Scope) {
    if let Some(channel) = scope.channel {
        sql.push(" AND channel = ").bind(channel.as_str());
    }
    if let Some(kind) = scope.kind {
        sql.push(" AND kind = ").bind(kind.as_str());
    }
}

/// Hourly counts of the PQRs registered in `[scope.from, scope.to)` (whole hours) of the scope's
/// channel and kind: `(hour, channel, kind, counts)`.
pub async fn hourly(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
) -> Result<Vec<(i64, String, String, HourlyCounts)>> {
    let mut sql = Sql::new(&format!(
        "SELECT hour, channel, kind, {} FROM kpi_hourly WHERE tenant_id = ",
        sums(&HOURLY_COUNTS)
    ));
    sql.bind(tenant_id.to_owned());
    if let Some(from) = scope.from {
        sql.push(" AND hour >= ")
            .bind(to_millis(from).div_euclid(3_600_000));
    }
    if let Some(to) = scope.to {
        sql.push(" AND hour < ")
            .bind(to_millis(to).div_euclid(3_600_000));
    }
    push_channel_kind(&mut sql, scope);
    sql.push(" GROUP BY hour, channel, kind HAVING SUM(n) <> 0");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(|r| {
            let mut counts = HourlyCounts::default();
            for (i, slot) in counts.iter_mut().enumerate() {
                *slot = r.try_get(3 + i)?;
            }
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, counts))
        })
        .collect()
}

/// How daily rows are grouped and ordered.
pub struct DailyQuery<'a> {
    pub attribute: &'static str,
    pub days: (Date, Date),
    pub scope: &'a Scope,
    /// Also group by day, channel and kind (else only by value).
    pub by_day: bool,
    pub by_channel: bool,
    pub by_kind: bool,
    /// Leave out PQRs without a value (no product, not assigned, …).
    pub skip_empty: bool,
    /// Rows whose count column is positive (e.g. `rejected` for rejection reasons), else `n`.
    pub having: &'static str,
    /// `ORDER BY` of the result (columns `value`, `day`, `channel`, `kind`, or a count).
    pub order: &'static str,
    pub limit: Option<i64>,
}

/// One grouped row of the daily rollup.
#[derive(Debug, Clone)]
pub struct DailyRow {
    pub value: String,
    pub day: Option<String>,
    pub channel: Option<String>,
    pub kind: Option<String>,
    pub counts: DailyCounts,
}

/// Daily counts of one attribute over a range of local days (both included).
pub async fn daily(db: &Db, tenant_id: &str, q: DailyQuery<'_>) -> Result<Vec<DailyRow>> {
    let mut groups = vec!["value"];
    for (on, column) in [
        (q.by_day, "day"),
        (q.by_channel, "channel"),
        (q.by_kind, "kind"),
    ] {
        if on {
            groups.push(column);
        }
    }
    let groups = groups.join(", ");
    let mut sql = Sql::new(&format!(
        "SELECT {groups}, {} FROM kpi_daily WHERE tenant_id = ",
        sums(&DAILY_COUNTS)
    ));
    sql.bind(tenant_id.to_owned());
    sql.push(" AND attribute = ").bind(q.attribute);
    sql.push(" AND day >= ").bind(q.days.0.to_string());
    sql.push(" AND day <= ").bind(q.days.1.to_string());
    push_channel_kind(&mut sql, q.scope);
    if q.skip_empty {
        sql.push(" AND value <> ''");
    }
    sql.push(&format!(
        " GROUP BY {groups} HAVING SUM({}) > 0 ORDER BY {}",
        q.having, q.order
    ));
    if let Some(limit) = q.limit {
        sql.push(" LIMIT ").bind(limit);
    }
    let rows = sql.fetch_all(&db.reader).await?;
    rows.iter()
        .map(|r| {
            let mut at = 1;
            let mut next = |on: bool| -> Result<Option<String>> {
                if !on {
                    return Ok(None);
                }
                at += 1;
                Ok(Some(r.try_get(at - 1)?))
            };
            let day = next(q.by_day)?;
            let channel = next(q.by_channel)?;
            let kind = next(q.by_kind)?;
            let mut counts = DailyCounts::default();
            for (i, slot) in counts.iter_mut().enumerate() {
                *slot = r.try_get(at + i)?;
            }
            Ok(DailyRow {
                value: r.try_get(0)?,
                day,
                channel,
                kind,
                counts,
            })
        })
        .collect()
}

/// What is counted live over the open PQRs of the scope, because it depends on `now`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenCounts {
    pub resolution_overdue: i64,
    pub first_response_overdue: i64,
    /// Per range of [`BACKLOG_RANGES`].
    pub backlog: Vec<i64>,
}

/// Counts over the open PQRs registered in the scope's range (the partial index `incidents_open`
/// holds just those).
pub async fn open_counts(
    db: &Db,
    tenant_id: &str,
    scope: &Scope,
    now: Timestamp,
) -> Result<OpenCounts> {
    let now = to_millis(now);
    let mut select = format!(
        "COUNT(*), \
         SUM(CASE WHEN i.resolution_due_at < {now} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN i.first_response_at IS NULL AND i.first_response_due_at < {now} \
             THEN 1 ELSE 0 END)"
    );
    let mut lower = None;
    for (_, bound) in BACKLOG_RANGES {
        // Age = now - created_at; age in [lower, bound) ⇔ created_at in (now - bound, now - lower].
        let mut condition = Vec::new();
        if let Some(bound) = bound {
            condition.push(format!("i.created_at > {}", now - bound.as_millis() as i64));
        }
        if let Some(lower) = lower {
            condition.push(format!("i.created_at <= {}", now - lower));
        }
        let condition = if condition.is_empty() {
            "1 = 1".to_owned()
        } else {
            condition.join(" AND ")
        };
        select.push_str(&format!(", SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"));
        lower = bound.map(|b| b.as_millis() as i64);
    }
    let mut sql = super::kpis::scoped(&select, tenant_id, scope);
    sql.push(&format!(" AND {OPEN}"));
    let rows = sql.fetch_all(&db.reader).await?;
    let row = rows
        .first()
        .ok_or_else(|| Error::Internal("an aggregate returned no row".into()))?;
    let n = |i: usize| -> Result<i64> { Ok(row.try_get::<Option<i64>, _>(i)?.unwrap_or(0)) };
    Ok(OpenCounts {
        resolution_overdue: n(1)?,
        first_response_overdue: n(2)?,
        backlog: (0..BACKLOG_RANGES.len())
            .map(|i| n(3 + i))
            .collect::<Result<_>>()?,
    })
}
