//! Calls in progress as the telephony platform reports them (`POST /v1/calls/events`): started,
//! ended, and how many are active by direction, for the live feed and wallboards. Retried events
//! change nothing: a call is keyed by the platform's own id.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, from_millis, to_millis};
use crate::domain::call::{CallEvent, Direction, MAX_CALL_SECS};
use crate::error::{Error, Result};

/// A call as the platform reported it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallSession {
    pub call_ref: String,
    pub direction: Direction,
    pub agent: Option<String>,
    pub customer_id: Option<String>,
    pub started_at: Timestamp,
    /// Null while the call goes on.
    pub ended_at: Option<Timestamp>,
}

/// Calls going on now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActiveCalls {
    pub inbound: u64,
    pub outbound: u64,
}

const COLUMNS: &str = "call_ref, direction, agent, customer_id, started_at, ended_at";

fn from_row(row: &AnyRow) -> Result<CallSession> {
    let direction: String = row.try_get("direction")?;
    Ok(CallSession {
        call_ref: row.try_get("call_ref")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| Error::Internal(format!("stored direction {direction:?}")))?,
        agent: row.try_get("agent")?,
        customer_id: row.try_get("customer_id")?,
        started_at: from_millis(row.try_get("started_at")?),
        ended_at: row.try_get::<Option<i64>, _>("ended_at")?.map(from_millis),
    })
}

async fn get(db: &Db, tenant_id: &str, call_ref: &str) -> Result<Option<CallSession>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM call_sessions WHERE tenant_id = $1 AND call_ref = $2"
    )))
    .bind(tenant_id)
    .bind(call_ref)
    // The writer: the caller has just written this row.
    .fetch_optional(&db.writer)
    .await?
    .map(|row| from_row(&row))
    .transpose()
}

/// Records a start; `true` when it is new, `false` when the call had already started (the
/// stored call is returned as it is).
pub async fn start(
    db: &Db,
    tenant_id: &str,
    event: &CallEvent,
    at: Timestamp,
) -> Result<(CallSession, bool)> {
    let direction = event
        .direction
        .ok_or_else(|| Error::validation("direction", "is required when a call starts"))?;
    let inserted = sqlx::query(
        "INSERT INTO call_sessions (tenant_id, call_ref, direction, agent, customer_id, \
         started_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, call_ref) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(&event.call_ref)
    .bind(direction.as_str())
    .bind(event.agent.as_deref())
    .bind(event.customer_id.as_deref())
    .bind(to_millis(at))
    .execute(&db.writer)
    .await?;
    let session = get(db, tenant_id, &event.call_ref)
        .await?
        .ok_or_else(|| Error::Internal("a started call vanished".into()))?;
    Ok((session, inserted.rows_affected() == 1))
}

/// Records an end; `true` when the call was going on, `false` when it had already ended. A call
/// that never started here is refused (422 on `call_ref`), as is an end before the start.
pub async fn end(
    db: &Db,
    tenant_id: &str,
    call_ref: &str,
    at: Timestamp,
) -> Result<(CallSession, bool)> {
    let Some(session) = get(db, tenant_id, call_ref).await? else {
        return Err(Error::validation(
            "call_ref",
            "no call with this call_ref has started in this tenant",
        ));
    };
    if session.ended_at.is_some() {
        return Ok((session, false));
    }
    if at < session.started_at {
        return Err(Error::validation("at", "is before the call started"));
    }
    let updated = sqlx::query(
        "UPDATE call_sessions SET ended_at = $1 \
         WHERE tenant_id = $2 AND call_ref = $3 AND ended_at IS NULL",
    )
    .bind(to_millis(at))
    .bind(tenant_id)
    .bind(call_ref)
    .execute(&db.writer)
    .await?;
    let session = get(db, tenant_id, call_ref)
        .await?
        .ok_or_else(|| Error::Internal("an ended call vanished".into()))?;
    Ok((session, updated.rows_affected() == 1))
}

/// Calls older than a day that never ended are not counted: their end event was lost.
fn horizon(now: Timestamp) -> i64 {
    to_millis(now) - MAX_CALL_SECS * 1_000
}

/// How many calls are going on now, by direction.
pub async fn active(db: &Db, tenant_id: &str, now: Timestamp) -> Result<ActiveCalls> {
    let rows = sqlx::query(
        "SELECT direction, COUNT(*) AS calls FROM call_sessions \
         WHERE tenant_id = $1 AND ended_at IS NULL AND started_at >= $2 GROUP BY direction",
    )
    .bind(tenant_id)
    .bind(horizon(now))
    .fetch_all(&db.reader)
    .await?;
    let mut active = ActiveCalls::default();
    for row in &rows {
        let direction: String = row.try_get("direction")?;
        let calls = row.try_get::<i64, _>("calls")?.max(0) as u64;
        match Direction::parse(&direction) {
            Some(Direction::Inbound) => active.inbound = calls,
            Some(Direction::Outbound) => active.outbound = calls,
            None => {}
        }
    }
    Ok(active)
}

/// The calls going on now, longest first (at most `limit`).
pub async fn list_active(
    db: &Db,
    tenant_id: &str,
    now: Timestamp,
    limit: u32,
) -> Result<Vec<CallSession>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM call_sessions WHERE tenant_id = $1 AND ended_at IS NULL \
         AND started_at >= $2 ORDER BY started_at, call_ref LIMIT $3"
    )))
    .bind(tenant_id)
    .bind(horizon(now))
    .bind(i64::from(limit))
    .fetch_all(&db.reader)
    .await?;
    rows.iter().map(from_row).collect()
}
