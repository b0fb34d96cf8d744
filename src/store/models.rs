//! The model registry's rows: versions per tenant and name, which one is active, their metrics,
//! and where the artifact is. Activation is one transaction, so exactly one version is active.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Sql, from_millis, is_unique_violation, to_millis};
use crate::error::{Error, Result};

/// A trained model as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub id: String,
    /// What it predicts, e.g. `churn`.
    pub name: String,
    pub version: i64,
    pub dataset_id: String,
    /// Checksum of the training data, to tell exactly what the model learnt from.
    pub dataset_sha256: String,
    pub algorithm: String,
    /// Whether scoring uses this version.
    pub active: bool,
    /// Cross-validated metrics, candidates compared, feature importances.
    #[schema(value_type = Object)]
    pub metrics: serde_json::Value,
    pub created_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    #[serde(skip)]
    pub path: PathBuf,
}

const COLUMNS: &str = "id, name, version, dataset_id, dataset_sha256, algorithm, active, metrics, \
    path, created_at, activated_at";

fn from_row(row: &AnyRow) -> Result<ModelVersion> {
    let metrics: String = row.try_get("metrics")?;
    let path: String = row.try_get("path")?;
    Ok(ModelVersion {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        dataset_id: row.try_get("dataset_id")?,
        dataset_sha256: row.try_get("dataset_sha256")?,
        algorithm: row.try_get("algorithm")?,
        active: row.try_get::<i64, _>("active")? != 0,
        metrics: serde_json::from_str(&metrics)
            .map_err(|e| Error::Internal(format!("unreadable stored metrics: {e}")))?,
        path: PathBuf::from(path),
        created_at: from_millis(row.try_get("created_at")?),
        activated_at: row
            .try_get::<Option<i64>, _>("activated_at")?
            .map(from_millis),
    })
}

/// What a finished training registers.
pub struct NewModel<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub dataset_id: &'a str,
    pub dataset_sha256: &'a str,
    pub algorithm: &'a str,
    pub metrics: &'a serde_json::Value,
    pub path: &'a std::path::Path,
}

/// Registers the next version of `name`; it becomes active when no version of that name is.
pub async fn create(db: &Db, tenant_id: &str, new: NewModel<'_>) -> Result<ModelVersion> {
    let now = to_millis(Timestamp::now());
    // Two trainings finishing together race for the version number: retry on the unique key.
    for _ in 0..5 {
        let mut tx = db.writer.begin().await?;
        let (latest, active): (Option<i64>, Option<i64>) = {
            let row = sqlx::query(
                "SELECT MAX(version) AS latest, MAX(active) AS active FROM models \
                 WHERE tenant_id = $1 AND name = $2",
            )
            .bind(tenant_id)
            .bind(new.name)
            .fetch_one(&mut *tx)
            .await?;
            (row.try_get("latest")?, row.try_get("active")?)
        };
        let activate = active.unwrap_or(0) == 0;
        let inserted = sqlx::query(
            "INSERT INTO models (id, tenant_id, name, version, dataset_id, dataset_sha256, \
             algorithm, active, metrics, path, created_at, activated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(new.id)
        .bind(tenant_id)
        .bind(new.name)
        .bind(latest.unwrap_or(0) + 1)
        .bind(new.dataset_id)
        .bind(new.dataset_sha256)
        .bind(new.algorithm)
        .bind(i64::from(activate))
        .bind(new.metrics.to_string())
        .bind(new.path.to_string_lossy().into_owned())
        .bind(now)
        .bind(activate.then_some(now))
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => continue,
            other => other?,
        };
        tx.commit().await?;
        return get(db, tenant_id, new.id).await;
    }
    Err(Error::Conflict(
        "another model of this name was registered at the same time; retry".into(),
    ))
}

pub async fn get(db: &Db, tenant_id: &str, id: &str) -> Result<ModelVersion> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM models WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("model"))?;
    from_row(&row)
}

/// The tenant's models (of one name, if given), by name then newest version first.
pub async fn list(db: &Db, tenant_id: &str, name: Option<&str>) -> Result<Vec<ModelVersion>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM models WHERE tenant_id = "));
    sql.bind(tenant_id.to_owned());
    if let Some(name) = name {
        sql.push(" AND name = ").bind(name.to_owned());
    }
    sql.push(" ORDER BY name, version DESC");
    sql.fetch_all(&db.reader)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The version of `name` that scoring uses, if any.
pub async fn active(db: &Db, tenant_id: &str, name: &str) -> Result<Option<ModelVersion>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM models WHERE tenant_id = $1 AND name = $2 AND active = 1"
    )))
    .bind(tenant_id)
    .bind(name)
    .fetch_optional(&db.reader)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Makes `id` the active version of its name (activating an older one is a rollback).
pub async fn activate(db: &Db, tenant_id: &str, id: &str) -> Result<ModelVersion> {
    let model = get(db, tenant_id, id).await?;
    let now = to_millis(Timestamp::now());
    let mut tx = db.writer.begin().await?;
    sqlx::query("UPDATE models SET active = 0 WHERE tenant_id = $1 AND name = $2 AND active = 1")
        .bind(tenant_id)
        .bind(&model.name)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE models SET active = 1, activated_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    get(db, tenant_id, id).await
}

/// Deletes an inactive version (the active one must be replaced first: 409).
pub async fn delete(db: &Db, tenant_id: &str, id: &str) -> Result<ModelVersion> {
    let model = get(db, tenant_id, id).await?;
    if model.active {
        return Err(Error::Conflict(
            "this version is active; activate another version of it first".into(),
        ));
    }
    sqlx::query("DELETE FROM models WHERE id = $1 AND tenant_id = $2 AND active = 0")
        .bind(id)
        .bind(tenant_id)
        .execute(&db.writer)
        .await?;
    Ok(model)
}

/// Whether the tenant has any active model (so new PQRs are worth scoring).
pub async fn any_active(db: &Db, tenant_id: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM models WHERE tenant_id = $1 AND active = 1 LIMIT 1")
            .bind(tenant_id)
            .fetch_optional(&db.reader)
            .await?;
    Ok(found.is_some())
}
