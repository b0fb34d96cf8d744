//! The caller's own tenant: its settings and its API keys. There is no route to another tenant.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Caller, JsonBody};
use super::location;
use crate::App;
use crate::domain::access::{Action, Role};
use crate::domain::tenant::TenantSettings;
use crate::domain::validation::{Errors, required_text};
use crate::error::{Problem, Result};
use crate::store::tenants::{self, ApiKey, IssuedKey, Tenant};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_me))
        .routes(routes!(put_settings))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// The caller's tenant and its settings.
#[utoipa::path(get, path = "/v1/tenants/me", tag = "tenants",
    responses((status = 200, body = Tenant), (status = 401, body = Problem)))]
async fn get_me(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Tenant>> {
    let principal = caller.require(Action::ReadTenant)?;
    Ok(Json(
        tenants::get_tenant(&app.db, &principal.tenant_id).await?,
    ))
}

/// Replaces the tenant's settings: greeting and closing texts, SLA policy, business hours,
/// per-channel incident fees. Takes effect for PQRs registered afterwards.
#[utoipa::path(put, path = "/v1/tenants/me/settings", tag = "tenants", request_body = TenantSettings,
    responses((status = 200, body = Tenant), (status = 422, body = Problem)))]
async fn put_settings(
    State(app): State<Arc<App>>,
    caller: Caller,
    settings: JsonBody<TenantSettings>,
) -> Result<Json<Tenant>> {
    let principal = caller.require(Action::ManageTenant)?;
    let settings = settings.parse()?;
    let valid = settings
        .validate()
        .map_err(crate::error::Error::Validation)?;
    Ok(Json(
        tenants::update_settings(&app.db, &principal.tenant_id, &valid.settings).await?,
    ))
}

/// The tenant's API keys (never their secrets).
#[utoipa::path(get, path = "/v1/tenants/me/keys", tag = "tenants",
    responses((status = 200, body = [ApiKey])))]
async fn list_keys(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<Vec<ApiKey>>> {
    let principal = caller.require(Action::ManageTenant)?;
    Ok(Json(
        tenants::list_keys(&app.db, &principal.tenant_id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// What the key is for, e.g. "IVR Lima" or "agente ana.quispe".
    name: String,
    role: Role,
}

/// Issues a key; its secret is in this response only.
#[utoipa::path(post, path = "/v1/tenants/me/keys", tag = "tenants", request_body = NewKey,
    responses((status = 201, body = IssuedKey), (status = 422, body = Problem)))]
async fn create_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    new: JsonBody<NewKey>,
) -> Result<(
    StatusCode,
    [(axum::http::HeaderName, axum::http::HeaderValue); 1],
    Json<IssuedKey>,
)> {
    let principal = caller.require(Action::ManageTenant)?;
    let new = new.parse()?;
    let mut errors = Errors::new();
    let name = required_text(&mut errors, "name", &new.name, 120);
    let name = errors
        .finish(|| name.unwrap_or_default())
        .map_err(crate::error::Error::Validation)?;
    let key = tenants::create_key(&app.db, &principal.tenant_id, &name, new.role).await?;
    Ok((
        StatusCode::CREATED,
        location(format!("/v1/tenants/me/keys/{}", key.key.id)),
        Json(key),
    ))
}

/// Revokes a key at once; requests with it get 401 from then on.
#[utoipa::path(delete, path = "/v1/tenants/me/keys/{id}", tag = "tenants",
    params(("id" = String, Path, description = "key id")),
    responses((status = 204), (status = 404, body = Problem)))]
async fn revoke_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let principal = caller.require(Action::ManageTenant)?;
    tenants::revoke_key(&app.db, &principal.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
