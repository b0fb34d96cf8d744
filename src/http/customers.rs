//! Customer data pushed by the tenant's data team, and the agent's 360 view.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller, JsonBody};
use super::location;
use crate::App;
use crate::domain::access::Action;
use crate::domain::customer::{CustomerInput, MAX_BULK_ITEMS, parse_batch};
use crate::error::{Error, Problem, Result};
use crate::store::customers::{self, BulkOutcome, Customer, Customer360, CustomerFilter};
use crate::store::incidents::Page;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, replace_customer))
        .routes(routes!(bulk_upsert))
        .routes(routes!(customer_360))
}

/// Registers a customer under the tenant's own external id.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerInput,
    responses((status = 201, body = Customer), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_customer(
    State(app): State<Arc<App>>,
    caller: Caller,
    input: JsonBody<CustomerInput>,
) -> Result<(StatusCode, [(HeaderName, HeaderValue); 1], Json<Customer>)> {
    let principal = caller.require(Action::WriteCustomers)?;
    let data = input.parse()?.parse().map_err(Error::Validation)?;
    let customer = customers::create(&app.db, &principal.tenant_id, data).await?;
    Ok((
        StatusCode::CREATED,
        location(format!("/v1/customers/{}", customer.id)),
        Json(customer),
    ))
}

/// Lists customers, newest first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(CustomerFilter),
    responses((status = 200, body = inline(Page<Customer>))))]
async fn list_customers(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<CustomerFilter>,
) -> Result<Json<Page<Customer>>> {
    let principal = caller.require(Action::ReadCustomers)?;
    Ok(Json(
        customers::list(&app.db, &principal.tenant_id, filter).await?,
    ))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path)),
    responses((status = 200, body = Customer), (status = 404, body = Problem)))]
async fn get_customer(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Customer>> {
    let principal = caller.require(Action::ReadCustomers)?;
    Ok(Json(
        customers::get(&app.db, &principal.tenant_id, &id).await?,
    ))
}

/// Replaces every field of a customer.
#[utoipa::path(put, path = "/v1/customers/{id}", tag = "customers", request_body = CustomerInput,
    params(("id" = String, Path)),
    responses((status = 200, body = Customer), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn replace_customer(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    input: JsonBody<CustomerInput>,
) -> Result<Json<Customer>> {
    let principal = caller.require(Action::WriteCustomers)?;
    let data = input.parse()?.parse().map_err(Error::Validation)?;
    Ok(Json(
        customers::replace(&app.db, &principal.tenant_id, &id, data).await?,
    ))
}

/// Inserts or updates many customers by external id, all or nothing. Every invalid item is
/// reported (`[index].field`) and then nothing is stored.
#[utoipa::path(post, path = "/v1/customers/bulk", tag = "customers", request_body = [CustomerInput],
    responses((status = 200, body = BulkOutcome), (status = 422, body = Problem)))]
async fn bulk_upsert(
    State(app): State<Arc<App>>,
    caller: Caller,
    items: JsonBody<Vec<Box<serde_json::value::RawValue>>>,
) -> Result<Json<BulkOutcome>> {
    let principal = caller.require(Action::WriteCustomers)?;
    let items = items.parse()?;
    if items.is_empty() || items.len() > MAX_BULK_ITEMS {
        return Err(Error::validation(
            "",
            format!("send between 1 and {MAX_BULK_ITEMS} customers"),
        ));
    }
    let parsed = parse_batch(&items).map_err(Error::Validation)?;
    Ok(Json(
        customers::bulk_upsert(&app.db, &principal.tenant_id, parsed).await?,
    ))
}

/// Everything an agent needs when the customer calls: profile, importance, open and recent PQRs,
/// last interactions, and risk/churn insights.
#[utoipa::path(get, path = "/v1/customers/{id}/360", tag = "customers",
    params(("id" = String, Path)),
    responses((status = 200, body = Customer360), (status = 404, body = Problem)))]
async fn customer_360(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Customer360>> {
    let principal = caller.require(Action::ReadCustomers)?;
    let mut view = customers::view_360(&app.db, &principal.tenant_id, &id).await?;
    if app
        .registry
        .tenant_has_models(&app.db, &principal.tenant_id)
        .await?
    {
        view.insights =
            crate::ml::insights::for_customer(&app, &principal.tenant_id, &view).await?;
    }
    Ok(Json(view))
}
