//! PQRs: registration (idempotent), lifecycle transitions with optimistic concurrency, the
//! append-only timeline, and filtered listing with cursor pagination.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::idempotency::{self, IdempotencyKey};
use super::{Db, Sql, from_millis, is_unique_violation, to_millis};
use crate::domain::access::Principal;
use crate::domain::billing::Period;
use crate::domain::incident::{
    Change, Channel, Current, Kind, Location, NewIncident, RejectedBy, State, TransitionError,
    TransitionRequest,
};
use crate::domain::new_id;
use crate::domain::priority::{Impact, Priority, Urgency};
use crate::domain::rollup::{self, Facts};
use crate::domain::tenant::ValidSettings;
use crate::error::{Error, Result};

/// A PQR as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Incident {
    pub id: String,
    pub channel: Channel,
    pub kind: Kind,
    pub subject: String,
    pub description: String,
    pub customer_id: Option<String>,
    pub product: Option<String>,
    pub location: Location,
    pub impact: Impact,
    pub urgency: Urgency,
    pub priority: Priority,
    pub state: State,
    /// 0 until escalated, then the level reached.
    pub escalation_level: i64,
    pub assignee: Option<String>,
    pub rejected_by: Option<RejectedBy>,
    pub rejection_reason: Option<String>,
    pub resolution: Option<String>,
    pub external_ref: Option<String>,
    pub sla: Sla,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped by every change.
    pub version: i64,
}

impl Incident {
    /// The representation of a PQR just registered, without reading it back.
    fn registered(
        id: String,
        new: NewIncident,
        priority: Priority,
        first_response_due_at: Timestamp,
        resolution_due_at: Timestamp,
        now: Timestamp,
    ) -> Incident {
        // Stored times have millisecond precision; report what a later read will return.
        let now = from_millis(to_millis(now));
        Incident {
            id,
            channel: new.channel,
            kind: new.kind,
            subject: new.subject,
            description: new.description,
            customer_id: new.customer_id,
            product: new.product,
            location: new.location,
            impact: new.impact,
            urgency: new.urgency,
            priority,
            state: State::Registered,
            escalation_level: 0,
            assignee: None,
            rejected_by: None,
            rejection_reason: None,
            resolution: None,
            external_ref: new.external_ref,
            sla: Sla {
                first_response_due_at: from_millis(to_millis(first_response_due_at)),
                resolution_due_at: from_millis(to_millis(resolution_due_at)),
                first_response_at: None,
            },
            resolved_at: None,
            closed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// Service-level targets of a PQR and whether they were met.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sla {
    pub first_response_due_at: Timestamp,
    pub resolution_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
}

/// One entry of a PQR's timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: String,
    /// 1 for the registration, then one per change.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Actor,
    /// `created`, `transition` or `survey`.
    pub kind: String,
    pub from_state: Option<State>,
    pub to_state: Option<State>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Who made a change: the API key's name and role.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Actor {
    pub key_id: Option<String>,
    pub name: String,
    pub role: String,
}

const COLUMNS: &str = "id, channel, kind, subject, description, customer_id, product, region, \
    department, province, district, impact, urgency, priority, state, escalation_level, assignee, \
    rejected_by, rejection_reason, resolution, external_ref, first_response_due_at, \
    resolution_due_at, first_response_at, resolved_at, closed_at, created_at, updated_at, version";

fn parse_stored<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let value: String = row.try_get(column)?;
    parse(&value).ok_or_else(|| Error::Internal(format!("unreadable {column} {value:?} stored")))
}

fn from_row(row: &AnyRow) -> Result<Incident> {
    let millis = |column: &str| -> Result<Option<Timestamp>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
    };
    let rejected_by: Option<String> = row.try_get("rejected_by")?;
    Ok(Incident {
        id: row.try_get("id")?,
        channel: parse_stored(row, "channel", Channel::parse)?,
        kind: parse_stored(row, "kind", Kind::parse)?,
        subject: row.try_get("subject")?,
        description: row.try_get("description")?,
        customer_id: row.try_get("customer_id")?,
        product: row.try_get("product")?,
        location: Location {
            region: row.try_get("region")?,
            department: row.try_get("department")?,
            province: row.try_get("province")?,
            district: row.try_get("district")?,
        },
        impact: parse_stored(row, "impact", Impact::parse)?,
        urgency: parse_stored(row, "urgency", Urgency::parse)?,
        priority: parse_stored(row, "priority", Priority::parse)?,
        state: parse_stored(row, "state", State::parse)?,
        escalation_level: row.try_get("escalation_level")?,
        assignee: row.try_get("assignee")?,
        rejected_by: rejected_by.as_deref().and_then(RejectedBy::parse),
        rejection_reason: row.try_get("rejection_reason")?,
        resolution: row.try_get("resolution")?,
        external_ref: row.try_get("external_ref")?,
        sla: Sla {
            first_response_due_at: from_millis(row.try_get("first_response_due_at")?),
            resolution_due_at: from_millis(row.try_get("resolution_due_at")?),
            first_response_at: millis("first_response_at")?,
        },
        resolved_at: millis("resolved_at")?,
        closed_at: millis("closed_at")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        version: row.try_get("version")?,
    })
}

/// The result of a registration: the PQR and whether it already existed (an idempotent retry).
pub struct Registered {
    pub incident: Incident,
    pub replayed: bool,
}

/// Registers a PQR: priority from the matrix, SLA due times from the tenant's policy, the first
/// timeline event, the idempotency record and the billing event — all in one transaction, so a
/// PQR is billed exactly once, at the price in force at `now`.
pub async fn register(
    db: &Db,
    principal: &Principal,
    settings: &ValidSettings,
    new: NewIncident,
    idempotency_key: Option<IdempotencyKey>,
    scoring: Option<&ScoringJob>,
    now: Timestamp,
) -> Result<Registered> {
    if let Some(key) = &idempotency_key
        && let Some(existing) = idempotency::lookup(db, &principal.tenant_id, key).await?
    {
        return replay(db, &principal.tenant_id, &existing).await;
    }
    let priority = Priority::from_matrix(new.impact, new.urgency);
    let due = settings.sla_due(priority, now);
    let id = new_id();
    // Snapshots for the KPI rollups: the PQR stays counted under the customer's type and the
    // date of its registration.
    let customer_type = match &new.customer_id {
        Some(customer_id) => {
            sqlx::query("SELECT customer_type FROM customers WHERE tenant_id = $1 AND id = $2")
                .bind(&principal.tenant_id)
                .bind(customer_id)
                .fetch_optional(&db.reader)
                .await?
                .map(|row| row.try_get::<String, _>(0))
                .transpose()?
        }
        None => None,
    };
    let local_day = settings.time_zone().to_datetime(now).date().to_string();
    let mut tx = db.writer.begin().await?;
    sqlx::query(
        "INSERT INTO incidents (id, tenant_id, channel, kind, subject, description, customer_id, \
         product, region, department, province, district, impact, urgency, priority, state, \
         escalation_level, external_ref, first_response_due_at, resolution_due_at, created_at, \
         updated_at, version, customer_type, local_day) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13, $14, $15, $16, 0, $17, $18, $19, $20, $20, 1, $21, $22)",
    )
    .bind(&id)
    .bind(&principal.tenant_id)
    .bind(new.channel.as_str())
    .bind(new.kind.as_str())
    .bind(&new.subject)
    .bind(&new.description)
    .bind(&new.customer_id)
    .bind(&new.product)
    .bind(&new.location.region)
    .bind(&new.location.department)
    .bind(&new.location.province)
    .bind(&new.location.district)
    .bind(new.impact.as_str())
    .bind(new.urgency.as_str())
    .bind(priority.as_str())
    .bind(State::Registered.as_str())
    .bind(&new.external_ref)
    .bind(to_millis(due.first_response))
    .bind(to_millis(due.resolution))
    .bind(to_millis(now))
    .bind(&customer_type)
    .bind(&local_day)
    .execute(&mut *tx)
    .await
    .map_err(|e| match &e {
        // The composite foreign key only accepts a customer of the caller's tenant.
        sqlx::Error::Database(db_error) if db_error.is_foreign_key_violation() => {
            Error::validation("customer_id", "no such customer")
        }
        _ => Error::from(e),
    })?;
    super::search::index(
        &mut *tx,
        db.backend,
        &principal.tenant_id,
        &super::search::Document {
            kind: super::search::DocKind::Incident,
            ref_id: &id,
            incident_id: Some(&id),
            customer_id: new.customer_id.as_deref(),
            agent: None,
            at: now,
            title: &new.subject,
            body: &new.description,
        },
    )
    .await?;
    let data = serde_json::json!({ "channel": new.channel, "priority": priority });
    append_event(
        &mut tx,
        principal,
        &id,
        1,
        now,
        "created",
        None,
        Some(State::Registered),
        &data,
    )
    .await?;
    if let Some(key) = &idempotency_key {
        match idempotency::record(&mut tx, &principal.tenant_id, key, &id).await {
            Err(e) if is_unique_violation(&e) => {
                // A concurrent retry with the same key committed first: keep its PQR.
                tx.rollback().await?;
                let existing = idempotency::lookup(db, &principal.tenant_id, key)
                    .await?
                    .ok_or_else(|| Error::Internal("idempotency record vanished".into()))?;
                return replay(db, &principal.tenant_id, &existing).await;
            }
            other => other?,
        }
    }
    let facts = Facts {
        id: id.clone(),
        created_at: to_millis(now),
        local_day,
        channel: new.channel.as_str().to_owned(),
        kind: new.kind.as_str().to_owned(),
        customer_type,
        product: new.product.clone(),
        region: new.location.region.clone(),
        department: new.location.department.clone(),
        province: new.location.province.clone(),
        district: new.location.district.clone(),
        assignee: None,
        rejected_by: None,
        rejection_reason: None,
        state: State::Registered,
        escalation_level: 0,
        reopened: false,
        first_response_at: None,
        first_response_due_at: to_millis(due.first_response),
        resolved_at: None,
        resolution_due_at: to_millis(due.resolution),
        survey_score: None,
        risk: None,
        churn_range: None,
    };
    super::rollups::apply(&mut tx, &principal.tenant_id, &rollup::delta(None, &facts)).await?;
    let period = Period::containing(now, settings.time_zone());
    super::billing::record_event(&mut tx, &principal.tenant_id, &id, new.channel, period, now)
        .await?;
    if let Some(job) = scoring {
        let payload = serde_json::json!({ "incident_id": id });
        super::jobs::insert(
            &mut *tx,
            &principal.tenant_id,
            job.kind,
            &payload,
            job.max_attempts,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Registered {
        incident: Incident::registered(id, new, priority, due.first_response, due.resolution, now),
        replayed: false,
    })
}

/// The job that scores a new PQR, queued in the same transaction as the PQR itself.
pub struct ScoringJob {
    pub kind: &'static str,
    pub max_attempts: u32,
}

async fn replay(db: &Db, tenant_id: &str, id: &str) -> Result<Registered> {
    Ok(Registered {
        incident: get(db, tenant_id, id).await?,
        replayed: true,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn append_event(
    tx: &mut Transaction<'_, Any>,
    principal: &Principal,
    incident_id: &str,
    seq: i64,
    at: Timestamp,
    kind: &str,
    from: Option<State>,
    to: Option<State>,
    data: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO incident_events (id, tenant_id, incident_id, seq, at, actor_key_id, \
         actor_name, actor_role, kind, from_state, to_state, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(new_id())
    .bind(&principal.tenant_id)
    .bind(incident_id)
    .bind(seq)
    .bind(to_millis(at))
    .bind(&principal.key_id)
    .bind(&principal.key_name)
    .bind(principal.role.as_str())
    .bind(kind)
    .bind(from.map(State::as_str))
    .bind(to.map(State::as_str))
    .bind(data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Incident> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM incidents WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("incident"))?;
    from_row(&row)
}

/// Moves a PQR through its lifecycle. Concurrent changes are detected by the version column and
/// retried against the fresh state, so two agents can never both apply a transition to one version.
pub async fn transition(
    db: &Db,
    principal: &Principal,
    id: &str,
    request: TransitionRequest,
    now: Timestamp,
) -> Result<Incident> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let mut tx = db.writer.begin().await?;
        super::rollups::lock(&mut tx, db.backend, &principal.tenant_id, id).await?;
        let (before, version) = super::rollups::facts(&mut tx, &principal.tenant_id, id).await?;
        let current = Current {
            state: before.state,
            escalation_level: before.escalation_level,
        };
        let responded = before.first_response_at;
        let change = request.clone().apply(&current).map_err(|e| match e {
            TransitionError::NotAllowed { from, to, allowed } => {
                Error::InvalidTransition { from, to, allowed }
            }
            TransitionError::Invalid(errors) => Error::Validation(errors),
        })?;
        let updated = apply_change(
            &mut tx,
            &principal.tenant_id,
            id,
            version,
            &change,
            now,
            responded,
        )
        .await?;
        if updated == 0 {
            tx.rollback().await?;
            continue;
        }
        let data = serde_json::to_value(&change)
            .map_err(|e| Error::Internal(format!("change does not serialise: {e}")))?;
        append_event(
            &mut tx,
            principal,
            id,
            version + 1,
            now,
            "transition",
            Some(change.from),
            Some(change.to),
            &data,
        )
        .await?;
        let (after, _) = super::rollups::facts(&mut tx, &principal.tenant_id, id).await?;
        super::rollups::apply(
            &mut tx,
            &principal.tenant_id,
            &rollup::delta(Some(&before), &after),
        )
        .await?;
        tx.commit().await?;
        return get(db, &principal.tenant_id, id).await;
    }
    Err(Error::Conflict(
        "the incident is being changed concurrently; retry".into(),
    ))
}

async fn apply_change(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    id: &str,
    version: i64,
    change: &Change,
    now: Timestamp,
    responded: Option<i64>,
) -> Result<u64> {
    let now_ms = to_millis(now);
    let mut sql = Sql::new("UPDATE incidents SET state = ");
    sql.bind(change.to.as_str());
    sql.push(", escalation_level = ")
        .bind(change.escalation_level);
    sql.push(", updated_at = ").bind(now_ms);
    sql.push(", version = version + 1");
    if responded.is_none() {
        sql.push(", first_response_at = ").bind(now_ms);
    }
    if let Some(assignee) = &change.assignee {
        sql.push(", assignee = ").bind(assignee.clone());
    }
    match change.to {
        State::Resolved => {
            sql.push(", resolved_at = ").bind(now_ms);
            sql.push(", resolution = ").bind(change.resolution.clone());
        }
        State::Closed => {
            sql.push(", closed_at = ").bind(now_ms);
        }
        State::Rejected => {
            sql.push(", rejected_by = ")
                .bind(change.rejected_by.map(|r| r.as_str().to_owned()));
            sql.push(", rejection_reason = ")
                .bind(change.reason.clone());
        }
        State::Reopened => {
            sql.push(", resolved_at = NULL, closed_at = NULL, resolution = NULL");
            sql.push(", rejected_by = NULL, rejection_reason = NULL");
        }
        _ => {}
    }
    sql.push(" WHERE id = ").bind(id.to_owned());
    sql.push(" AND tenant_id = ").bind(tenant_id.to_owned());
    sql.push(" AND version = ").bind(version);
    sql.execute(&mut **tx).await
}

/// The timeline of a PQR, oldest first.
pub async fn events(db: &Db, tenant_id: &str, id: &str) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT id, seq, at, actor_key_id, actor_name, actor_role, kind, from_state, to_state, data \
         FROM incident_events WHERE incident_id = $1 AND tenant_id = $2 ORDER BY seq",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_all(&db.reader)
    .await?;
    if rows.is_empty() {
        // Every PQR has its registration event, so no rows means no such PQR for this tenant.
        return Err(Error::NotFound("incident"));
    }
    rows.iter().map(event_from_row).collect()
}

pub(super) fn event_from_row(row: &AnyRow) -> Result<Event> {
    let state = |column: &str| -> Result<Option<State>> {
        let value: Option<String> = row.try_get(column)?;
        Ok(value.as_deref().and_then(State::parse))
    };
    let data: String = row.try_get("data")?;
    Ok(Event {
        id: row.try_get("id")?,
        seq: row.try_get("seq")?,
        at: from_millis(row.try_get("at")?),
        actor: Actor {
            key_id: row.try_get("actor_key_id")?,
            name: row.try_get("actor_name")?,
            role: row.try_get("actor_role")?,
        },
        kind: row.try_get("kind")?,
        from_state: state("from_state")?,
        to_state: state("to_state")?,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
    })
}

/// Filters for listing PQRs; all optional and combined with AND.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentFilter {
    pub state: Option<State>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    pub customer_id: Option<String>,
    pub assignee: Option<String>,
    /// Created at or after this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    pub created_from: Option<Timestamp>,
    /// Created before this instant (RFC 3339).
    #[param(value_type = Option<String>)]
    pub created_to: Option<Timestamp>,
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// Checks a page size and cursor from a query string.
pub fn page_bounds(limit: Option<u32>, cursor: Option<&str>) -> Result<(u32, Option<String>)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::validation(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let cursor = match cursor {
        Some(c) if uuid::Uuid::parse_str(c).is_err() => {
            return Err(Error::validation(
                "cursor",
                "is not a cursor this API returned",
            ));
        }
        other => other.map(str::to_owned),
    };
    Ok((limit, cursor))
}

/// Newest first, `limit` per page.
pub async fn list(db: &Db, tenant_id: &str, filter: IncidentFilter) -> Result<Page<Incident>> {
    let (limit, cursor) = page_bounds(filter.limit, filter.cursor.as_deref())?;
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM incidents WHERE tenant_id = "
    ));
    sql.bind(tenant_id.to_owned());
    let mut eq = |column: &str, value: Option<String>| {
        if let Some(value) = value {
            sql.push(&format!(" AND {column} = ")).bind(value);
        }
    };
    eq("state", filter.state.map(|v| v.as_str().to_owned()));
    eq("channel", filter.channel.map(|v| v.as_str().to_owned()));
    eq("priority", filter.priority.map(|v| v.as_str().to_owned()));
    eq("kind", filter.kind.map(|v| v.as_str().to_owned()));
    eq("customer_id", filter.customer_id);
    eq("assignee", filter.assignee);
    eq("region", filter.region);
    eq("department", filter.department);
    eq("province", filter.province);
    eq("district", filter.district);
    if let Some(from) = filter.created_from {
        sql.push(" AND created_at >= ").bind(to_millis(from));
    }
    if let Some(to) = filter.created_to {
        sql.push(" AND created_at < ").bind(to_millis(to));
    }
    if let Some(cursor) = cursor {
        sql.push(" AND id < ").bind(cursor);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    paginate(&rows, limit, from_row, |i| i.id.clone())
}

/// Turns `limit + 1` fetched rows into a page and the cursor of the next one.
pub(super) fn paginate<T>(
    rows: &[AnyRow],
    limit: u32,
    map: fn(&AnyRow) -> Result<T>,
    id: fn(&T) -> String,
) -> Result<Page<T>> {
    let limit = limit as usize;
    let items = rows
        .iter()
        .take(limit)
        .map(map)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = (rows.len() > limit).then(|| items.last().map(id)).flatten();
    Ok(Page { items, next_cursor })
}

/// One page of a tenant's rows of `table`, newest first (ids are UUIDv7, so they sort by time).
pub(super) async fn newest_first<T>(
    db: &Db,
    table: &str,
    columns: &str,
    tenant_id: &str,
    (limit, cursor): (Option<u32>, Option<&str>),
    map: fn(&AnyRow) -> Result<T>,
    id: fn(&T) -> String,
) -> Result<Page<T>> {
    let (limit, cursor) = page_bounds(limit, cursor)?;
    let mut sql = Sql::new(&format!("SELECT {columns} FROM {table} WHERE tenant_id = "));
    sql.bind(tenant_id.to_owned());
    if let Some(cursor) = cursor {
        sql.push(" AND id < ").bind(cursor);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    paginate(&rows, limit, map, id)
}

/// Short view of a PQR for lists such as the customer 360.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentSummary {
    pub id: String,
    pub channel: Channel,
    pub kind: Kind,
    pub subject: String,
    pub state: State,
    pub priority: Priority,
    pub created_at: Timestamp,
    pub resolution_due_at: Timestamp,
}

impl From<Incident> for IncidentSummary {
    fn from(i: Incident) -> Self {
        Self {
            id: i.id,
            channel: i.channel,
            kind: i.kind,
            subject: i.subject,
            state: i.state,
            priority: i.priority,
            created_at: i.created_at,
            resolution_due_at: i.sla.resolution_due_at,
        }
    }
}

/// A customer's PQRs, newest first: the open ones (up to `limit`) and the most recent of any state.
pub async fn for_customer(
    db: &Db,
    tenant_id: &str,
    customer_id: &str,
    limit: i64,
) -> Result<(Vec<IncidentSummary>, Vec<IncidentSummary>, i64, i64)> {
    let open_states = || State::ALL.into_iter().filter(|s| s.is_open());
    let scoped = |select: &str| {
        let mut sql = Sql::new(select);
        sql.push(" FROM incidents WHERE tenant_id = ")
            .bind(tenant_id.to_owned());
        sql.push(" AND customer_id = ").bind(customer_id.to_owned());
        sql
    };
    let only_open = |sql: &mut Sql| {
        sql.push(" AND state IN ")
            .bind_list(open_states().map(State::as_str));
    };
    let mut open = scoped(&format!("SELECT {COLUMNS}"));
    only_open(&mut open);
    open.push(" ORDER BY id DESC LIMIT ").bind(limit);
    let open = open.fetch_all(&db.reader).await?;
    let mut recent = scoped(&format!("SELECT {COLUMNS}"));
    recent.push(" ORDER BY id DESC LIMIT ").bind(limit);
    let recent = recent.fetch_all(&db.reader).await?;
    let total = scoped("SELECT COUNT(*)").fetch_all(&db.reader).await?;
    let mut open_count = scoped("SELECT COUNT(*)");
    only_open(&mut open_count);
    let open_count = open_count.fetch_all(&db.reader).await?;
    let count = |rows: &[AnyRow]| -> Result<i64> {
        Ok(rows.first().map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    };
    let summaries = |rows: Vec<AnyRow>| -> Result<Vec<IncidentSummary>> {
        rows.iter().map(|r| from_row(r).map(Into::into)).collect()
    };
    Ok((
        summaries(open)?,
        summaries(recent)?,
        count(&total)?,
        count(&open_count)?,
    ))
}
