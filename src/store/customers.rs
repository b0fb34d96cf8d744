//! Customers: single and bulk (all-or-nothing) upserts keyed by the tenant's external id, listing,
//! and the agent's 360 view.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::incidents::{self, IncidentSummary, Page, paginate};
use super::{Db, Sql, from_millis, is_unique_violation, to_millis};
use crate::domain::customer::{ContactPreferences, CustomerData, CustomerType, Importance, Tier};
use crate::domain::incident::Location;
use crate::domain::new_id;
use crate::domain::validation::FieldError;
use crate::error::{Error, Result};

/// A customer as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub document_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub customer_type: CustomerType,
    pub segment: Option<String>,
    pub importance: Importance,
    pub contact_preferences: ContactPreferences,
    pub location: Location,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, external_id, name, document_id, email, phone, customer_type, segment, \
    importance_tier, importance_score, contact_preferences, region, department, province, \
    district, attributes, created_at, updated_at";

/// Columns written from [`CustomerData`], in bind order.
const DATA_COLUMNS: [&str; 15] = [
    "external_id",
    "name",
    "document_id",
    "email",
    "phone",
    "customer_type",
    "segment",
    "importance_tier",
    "importance_score",
    "contact_preferences",
    "region",
    "department",
    "province",
    "district",
    "attributes",
];

fn from_row(row: &AnyRow) -> Result<Customer> {
    let unreadable = |what: &str| Error::Internal(format!("unreadable stored {what}"));
    let customer_type: String = row.try_get("customer_type")?;
    let tier: String = row.try_get("importance_tier")?;
    let preferences: String = row.try_get("contact_preferences")?;
    let attributes: String = row.try_get("attributes")?;
    Ok(Customer {
        id: row.try_get("id")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        document_id: row.try_get("document_id")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        customer_type: CustomerType::parse(&customer_type).ok_or_else(|| unreadable("type"))?,
        segment: row.try_get("segment")?,
        importance: Importance {
            tier: Tier::parse(&tier).ok_or_else(|| unreadable("tier"))?,
            score: row.try_get("importance_score")?,
        },
        contact_preferences: serde_json::from_str(&preferences)
            .map_err(|_| unreadable("contact preferences"))?,
        location: Location {
            region: row.try_get("region")?,
            department: row.try_get("department")?,
            province: row.try_get("province")?,
            district: row.try_get("district")?,
        },
        attributes: serde_json::from_str(&attributes).map_err(|_| unreadable("attributes"))?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

fn bind_data(sql: &mut Sql, data: &CustomerData) {
    sql.bind(data.external_id.clone());
    sql.push(", ").bind(data.name.clone());
    sql.push(", ").bind(data.document_id.clone());
    sql.push(", ").bind(data.email.clone());
    sql.push(", ").bind(data.phone.clone());
    sql.push(", ").bind(data.customer_type.as_str());
    sql.push(", ").bind(data.segment.clone());
    sql.push(", ").bind(data.importance.tier.as_str());
    sql.push(", ").bind(data.importance.score);
    sql.push(", ").bind(to_json(&data.contact_preferences));
    sql.push(", ").bind(data.location.region.clone());
    sql.push(", ").bind(data.location.department.clone());
    sql.push(", ").bind(data.location.province.clone());
    sql.push(", ").bind(data.location.district.clone());
    sql.push(", ").bind(to_json(&data.attributes));
}

/// The JSON columns hold plain data that always serialises.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

fn duplicate_external_id(external_id: &str) -> Error {
    Error::Conflict(format!(
        "another customer already has external_id {external_id:?}"
    ))
}

pub async fn create(db: &Db, tenant_id: &str, data: CustomerData) -> Result<Customer> {
    let id = new_id();
    let now = to_millis(Timestamp::now());
    let mut sql = Sql::new(&format!(
        "INSERT INTO customers (id, tenant_id, {}, created_at, updated_at) VALUES (",
        DATA_COLUMNS.join(", ")
    ));
    sql.bind(id.clone())
        .push(", ")
        .bind(tenant_id.to_owned())
        .push(", ");
    bind_data(&mut sql, &data);
    sql.push(", ").bind(now).push(", ").bind(now).push(")");
    match sql.execute(&db.writer).await {
        Err(Error::Database(e)) if is_unique_violation(&e) => {
            Err(duplicate_external_id(&data.external_id))
        }
        other => other,
    }?;
    get(db, tenant_id, &id).await
}

/// Replaces every field of an existing customer.
pub async fn replace(db: &Db, tenant_id: &str, id: &str, data: CustomerData) -> Result<Customer> {
    let mut sql = Sql::new("UPDATE customers SET (");
    sql.push(&DATA_COLUMNS.join(", ")).push(", updated_at) = (");
    bind_data(&mut sql, &data);
    sql.push(", ").bind(to_millis(Timestamp::now()));
    sql.push(") WHERE id = ").bind(id.to_owned());
    sql.push(" AND tenant_id = ").bind(tenant_id.to_owned());
    let updated = match sql.execute(&db.writer).await {
        Err(Error::Database(e)) if is_unique_violation(&e) => {
            Err(duplicate_external_id(&data.external_id))
        }
        other => other,
    }?;
    if updated == 0 {
        return Err(Error::NotFound("customer"));
    }
    get(db, tenant_id, id).await
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<Customer> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("customer"))?;
    from_row(&row)
}

/// Result of a bulk upsert.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkOutcome {
    pub created: usize,
    pub updated: usize,
    /// Our id for each external id, in request order.
    pub ids: Vec<BulkId>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkId {
    pub external_id: String,
    pub id: String,
}

/// Rows per INSERT: 17 binds each keeps well under SQLite's and PostgreSQL's parameter limits.
const BULK_CHUNK: usize = 500;

/// Inserts or updates every customer by external id in one transaction: all or nothing.
pub async fn bulk_upsert(
    db: &Db,
    tenant_id: &str,
    items: Vec<CustomerData>,
) -> Result<BulkOutcome> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(first) = seen.insert(&item.external_id, index) {
            errors.push(FieldError::new(
                format!("[{index}].external_id"),
                format!("repeats item {first}; each external_id may appear once"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let now = to_millis(Timestamp::now());
    let mut tx = db.writer.begin().await?;
    let mut ids = Vec::with_capacity(items.len());
    let mut created = 0;
    for chunk in items.chunks(BULK_CHUNK) {
        // Every row proposes a new id; a row that already existed keeps (and returns) its own,
        // which is how created and updated rows are told apart without a lookup first.
        let proposed: HashMap<&str, String> = chunk
            .iter()
            .map(|item| (item.external_id.as_str(), new_id()))
            .collect();
        let mut sql = Sql::new(&format!(
            "INSERT INTO customers (id, tenant_id, {}, created_at, updated_at) VALUES ",
            DATA_COLUMNS.join(", ")
        ));
        for (i, item) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(proposed[item.external_id.as_str()].clone())
                .push(", ")
                .bind(tenant_id.to_owned())
                .push(", ");
            bind_data(&mut sql, item);
            sql.push(", ").bind(now).push(", ").bind(now).push(")");
        }
        sql.push(" ON CONFLICT (tenant_id, external_id) DO UPDATE SET ");
        let updates: Vec<String> = DATA_COLUMNS
            .iter()
            .chain(["updated_at"].iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        sql.push(&updates.join(", "));
        sql.push(" RETURNING external_id, id");
        let mut stored: HashMap<String, String> = HashMap::with_capacity(chunk.len());
        for row in sql.fetch_all(&mut *tx).await? {
            stored.insert(row.try_get(0)?, row.try_get(1)?);
        }
        for item in chunk {
            let id = stored.remove(&item.external_id).ok_or_else(|| {
                Error::Internal(format!("upsert returned no row for {}", item.external_id))
            })?;
            if id == proposed[item.external_id.as_str()] {
                created += 1;
            }
            ids.push(BulkId {
                external_id: item.external_id.clone(),
                id,
            });
        }
    }
    tx.commit().await?;
    Ok(BulkOutcome {
        created,
        updated: items.len() - created,
        ids,
    })
}

/// Filters for listing customers.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub document_id: Option<String>,
    pub segment: Option<String>,
    pub tier: Option<Tier>,
    pub customer_type: Option<CustomerType>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Newest first.
pub async fn list(db: &Db, tenant_id: &str, filter: CustomerFilter) -> Result<Page<Customer>> {
    let (limit, cursor) = incidents::page_bounds(filter.limit, filter.cursor.as_deref())?;
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM customers WHERE tenant_id = "
    ));
    sql.bind(tenant_id.to_owned());
    for (column, value) in [
        ("external_id", filter.external_id),
        ("phone", filter.phone),
        ("document_id", filter.document_id),
        ("segment", filter.segment),
        (
            "importance_tier",
            filter.tier.map(|t| t.as_str().to_owned()),
        ),
        (
            "customer_type",
            filter.customer_type.map(|t| t.as_str().to_owned()),
        ),
    ] {
        if let Some(value) = value {
            sql.push(&format!(" AND {column} = ")).bind(value);
        }
    }
    if let Some(cursor) = cursor {
        sql.push(" AND id < ").bind(cursor);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    paginate(&rows, limit, from_row, |c| c.id.clone())
}

/// What an agent sees first when a customer calls.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer360 {
    pub customer: Customer,
    pub open_incidents: Vec<IncidentSummary>,
    pub recent_incidents: Vec<IncidentSummary>,
    pub last_interactions: Vec<Interaction>,
    pub stats: CustomerStats,
    pub insights: CustomerInsights,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerStats {
    pub total_incidents: i64,
    pub open_incidents: i64,
    pub last_contact_at: Option<Timestamp>,
}

/// Risk and churn scores; `null` until the scoring models exist for the tenant.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerInsights {
    pub risk: Option<serde_json::Value>,
    pub churn: Option<serde_json::Value>,
    /// The retention offer to make when churn is above the tenant's threshold, and why.
    pub offer: Option<serde_json::Value>,
}

/// A recent touch point with the customer (today: PQR timeline events).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Interaction {
    pub at: Timestamp,
    pub incident_id: String,
    pub kind: String,
    pub to_state: Option<String>,
    pub actor: String,
}

const VIEW_LIMIT: i64 = 10;

pub async fn view_360(db: &Db, tenant_id: &str, id: &str) -> Result<Customer360> {
    let customer = get(db, tenant_id, id).await?;
    let (open, recent, total, open_count) =
        incidents::for_customer(db, tenant_id, id, VIEW_LIMIT).await?;
    let rows = sqlx::query(
        // Scoped through the subquery: naming events' own tenant_id here would lead SQLite to
        // scan the tenant's whole timeline instead of the customer's few PQRs.
        "SELECT at, incident_id, kind, to_state, actor_name FROM incident_events \
         WHERE incident_id IN \
             (SELECT id FROM incidents WHERE tenant_id = $1 AND customer_id = $2) \
         ORDER BY at DESC, seq DESC LIMIT $3",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(VIEW_LIMIT)
    .fetch_all(&db.reader)
    .await?;
    let last_interactions = rows
        .iter()
        .map(|row| {
            Ok(Interaction {
                at: from_millis(row.try_get(0)?),
                incident_id: row.try_get(1)?,
                kind: row.try_get(2)?,
                to_state: row.try_get(3)?,
                actor: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Customer360 {
        stats: CustomerStats {
            total_incidents: total,
            open_incidents: open_count,
            last_contact_at: last_interactions.first().map(|i| i.at),
        },
        customer,
        open_incidents: open,
        recent_incidents: recent,
        last_interactions,
        insights: CustomerInsights {
            risk: None,
            churn: None,
            offer: None,
        },
    })
}
