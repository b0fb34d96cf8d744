//! Tenants, their settings and their API keys.
//!
//! Keys are 256-bit random secrets; only their sha256 is stored (a slow password hash buys nothing
//! for secrets of that entropy and would cost a hash per request).

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Db, from_millis, is_unique_violation, to_millis};
use crate::domain::access::{Principal, Role};
use crate::domain::new_id;
use crate::domain::tenant::TenantSettings;
use crate::error::{Error, Result};

/// A tenant as its own users see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An API key's metadata; the secret is shown once, at creation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// First characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A newly created key with its secret, which is not stored and cannot be shown again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer <key>`.
    pub secret: String,
}

pub(super) fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh 256-bit secret, hex, after `prefix` (`abk_` tenant keys, `abo_` back-office keys).
pub(super) fn generate_secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}{hex}"))
}

/// Creates a tenant with default settings and its first admin key.
pub async fn create_tenant(db: &Db, name: &str) -> Result<(Tenant, IssuedKey)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(Error::validation("name", "must be 1 to 120 characters"));
    }
    let now = Timestamp::now();
    let tenant = Tenant {
        id: new_id(),
        name: name.to_owned(),
        settings: TenantSettings::default(),
        created_at: now,
        updated_at: now,
    };
    let settings = serde_json::to_string(&tenant.settings)
        .map_err(|e| Error::Internal(format!("settings do not serialise: {e}")))?;
    let mut tx = db.writer.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(settings)
    .bind(to_millis(now))
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::Conflict(format!(
                "a tenant named {name:?} already exists"
            )));
        }
        other => other?,
    };
    let key = insert_key(&mut tx, &tenant.id, "admin", Role::Admin, now).await?;
    super::billing::open_account(&mut tx, &tenant.id, now).await?;
    super::rollups::mark_built(&mut tx, &tenant.id).await?;
    tx.commit().await?;
    Ok((tenant, key))
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<IssuedKey> {
    let secret = generate_secret("abk_")?;
    let key = ApiKey {
        id: new_id(),
        name: name.to_owned(),
        role,
        prefix: secret[..12].to_owned(),
        created_at: now,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(tenant_id)
    .bind(&key.name)
    .bind(role.as_str())
    .bind(hash_key(&secret))
    .bind(&key.prefix)
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await?;
    Ok(IssuedKey { key, secret })
}

/// Resolves a presented secret to its principal; `None` for unknown or revoked keys.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT k.id, k.tenant_id, k.name, k.role, t.updated_at FROM api_keys k \
         JOIN tenants t ON t.id = k.tenant_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(hash_key(secret))
    .fetch_optional(&db.reader)
    .await?;
    row.map(|row| {
        let role: String = row.try_get(3)?;
        Ok(Principal {
            key_id: row.try_get(0)?,
            tenant_id: row.try_get(1)?,
            key_name: row.try_get(2)?,
            role: Role::parse(&role)
                .ok_or_else(|| Error::Internal(format!("unknown role {role:?} stored")))?,
            settings_version: row.try_get(4)?,
        })
    })
    .transpose()
}

pub async fn get_tenant(db: &Db, tenant_id: &str) -> Result<Tenant> {
    let row =
        sqlx::query("SELECT id, name, settings, created_at, updated_at FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&db.reader)
            .await?
            .ok_or(Error::NotFound("tenant"))?;
    let settings: String = row.try_get(2)?;
    Ok(Tenant {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| Error::Internal(format!("stored settings unreadable: {e}")))?,
        created_at: from_millis(row.try_get(3)?),
        updated_at: from_millis(row.try_get(4)?),
    })
}

pub async fn find_tenant_by_name(db: &Db, name: &str) -> Result<Option<Tenant>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
        .bind(name.trim())
        .fetch_optional(&db.reader)
        .await?;
    match id {
        Some(id) => Ok(Some(get_tenant(db, &id).await?)),
        None => Ok(None),
    }
}

/// Replaces the settings (already validated by the caller) and bumps the version.
pub async fn update_settings(
    db: &Db,
    tenant_id: &str,
    settings: &TenantSettings,
) -> Result<Tenant> {
    let json = serde_json::to_string(settings)
        .map_err(|e| Error::Internal(format!("settings do not serialise: {e}")))?;
    let previous: Option<i64> = sqlx::query_scalar("SELECT updated_at FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&db.writer)
        .await?;
    let previous = previous.ok_or(Error::NotFound("tenant"))?;
    // The version must move even when two updates land in the same millisecond.
    let version = to_millis(Timestamp::now()).max(previous + 1);
    sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3")
        .bind(json)
        .bind(version)
        .bind(tenant_id)
        .execute(&db.writer)
        .await?;
    get_tenant(db, tenant_id).await
}

pub async fn create_key(db: &Db, tenant_id: &str, name: &str, role: Role) -> Result<IssuedKey> {
    let mut tx = db.writer.begin().await?;
    let key = insert_key(&mut tx, tenant_id, name, role, Timestamp::now()).await?;
    tx.commit().await?;
    Ok(key)
}

pub async fn list_keys(db: &Db, tenant_id: &str) -> Result<Vec<ApiKey>> {
    let rows = sqlx::query(
        "SELECT id, name, role, prefix, created_at, revoked_at FROM api_keys \
         WHERE tenant_id = $1 ORDER BY created_at, id",
    )
    .bind(tenant_id)
    .fetch_all(&db.reader)
    .await?;
    rows.into_iter()
        .map(|row| {
            let role: String = row.try_get(2)?;
            let revoked_at: Option<i64> = row.try_get(5)?;
            Ok(ApiKey {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role: Role::parse(&role)
                    .ok_or_else(|| Error::Internal(format!("unknown role {role:?} stored")))?,
                prefix: row.try_get(3)?,
                created_at: from_millis(row.try_get(4)?),
                revoked_at: revoked_at.map(from_millis),
            })
        })
        .collect()
}

/// Revokes a key of the tenant; revoking twice is harmless.
pub async fn revoke_key(db: &Db, tenant_id: &str, key_id: &str) -> Result<()> {
    let found = sqlx::query(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND tenant_id = $3",
    )
    .bind(to_millis(Timestamp::now()))
    .bind(key_id)
    .bind(tenant_id)
    .execute(&db.writer)
    .await?
    .rows_affected();
    if found == 0 {
        return Err(Error::NotFound("api key"));
    }
    Ok(())
}

/// Compiled tenant settings kept in memory, keyed by the settings version that authentication
/// already reads, so a settings change is seen by the very next request on every replica.
#[derive(Default)]
pub struct SettingsCache {
    entries: std::sync::RwLock<
        std::collections::HashMap<
            String,
            (i64, std::sync::Arc<crate::domain::tenant::ValidSettings>),
        >,
    >,
}

impl SettingsCache {
    pub async fn get(
        &self,
        db: &Db,
        principal: &Principal,
    ) -> Result<std::sync::Arc<crate::domain::tenant::ValidSettings>> {
        if let Some((version, settings)) = self
            .entries
            .read()
            .map_err(|_| Error::Internal("settings cache poisoned".into()))?
            .get(&principal.tenant_id)
            && *version == principal.settings_version
        {
            return Ok(settings.clone());
        }
        let tenant = get_tenant(db, &principal.tenant_id).await?;
        let settings = std::sync::Arc::new(tenant.settings.validate().map_err(|errors| {
            Error::Internal(format!("stored settings are invalid: {errors:?}"))
        })?);
        self.entries
            .write()
            .map_err(|_| Error::Internal("settings cache poisoned".into()))?
            .insert(
                principal.tenant_id.clone(),
                (to_millis(tenant.updated_at), settings.clone()),
            );
        Ok(settings)
    }
}
