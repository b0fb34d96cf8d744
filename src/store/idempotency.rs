//! `Idempotency-Key` records: a channel that retries a POST gets the resource the first attempt
//! created instead of a duplicate. The record is written in the same transaction as the resource.

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use super::{Db, to_millis};
use crate::error::{Error, Result};

/// A validated key together with a fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub scope: &'static str,
    pub request_hash: String,
}

impl IdempotencyKey {
    /// Checks the header value (1–255 visible ASCII characters) and fingerprints the body.
    pub fn new(key: &str, scope: &'static str, body: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        let digest = Sha256::digest(body);
        Ok(Self {
            key: key.to_owned(),
            scope,
            request_hash: digest.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// The id of the resource a key already produced, if any; a key reused for another request
/// (different body or endpoint) is an error rather than a silent replay.
pub async fn lookup(db: &Db, tenant_id: &str, key: &IdempotencyKey) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT scope, request_hash, resource_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2",
    )
    .bind(tenant_id)
    .bind(&key.key)
    .fetch_optional(&db.reader)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let scope: String = row.try_get(0)?;
    let request_hash: String = row.try_get(1)?;
    if scope != key.scope || request_hash != key.request_hash {
        return Err(Error::Validation(vec![
            crate::domain::validation::FieldError::new(
                "Idempotency-Key",
                "was already used for a different request",
            ),
        ]));
    }
    Ok(Some(row.try_get(2)?))
}

/// Records the key inside the transaction that creates the resource. A unique violation here
/// means a concurrent retry won the race; the caller rolls back and replays.
pub async fn record(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    key: &IdempotencyKey,
    resource_id: &str,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, key, scope, request_hash, resource_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(&key.key)
    .bind(key.scope)
    .bind(&key.request_hash)
    .bind(resource_id)
    .bind(to_millis(Timestamp::now()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
