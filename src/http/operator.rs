//! ABCall's back office: plans, each tenant's billing terms and negotiated price lists, and the
//! invoice lifecycle (draft, issue, payments, void with a credit note). Only operator keys reach
//! these routes; tenant keys get 401 whatever their role.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::billing::{BillingOverview, FormatQuery, InvoiceDetail, InvoicesQuery};
use super::extract::{ApiQuery, JsonBody, Operator};
use super::location;
use crate::App;
use crate::billing;
use crate::domain::billing::{AccountTerms, ChannelPrices, NewPayment, NewPriceList, Period, Plan};
use crate::error::{Problem, Result};
use crate::store::billing::{self as store, Invoice, Payment, PriceList};
use crate::store::incidents::Page;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(get_tenant_billing, put_tenant_billing))
        .routes(routes!(add_price_list))
        .routes(routes!(list_tenant_invoices, draft_invoice))
        .routes(routes!(get_tenant_invoice))
        .routes(routes!(issue_invoice))
        .routes(routes!(pay_invoice))
        .routes(routes!(void_invoice))
}

/// 404 for an unknown tenant, before anything else is looked up.
async fn known_tenant(app: &App, tenant_id: &str) -> Result<()> {
    crate::store::tenants::get_tenant(&app.db, tenant_id).await?;
    Ok(())
}

/// Every plan.
#[utoipa::path(get, path = "/v1/operator/plans", tag = "back office",
    responses((status = 200, body = [Plan]), (status = 401, body = Problem)))]
async fn list_plans(State(app): State<Arc<App>>, _operator: Operator) -> Result<Json<Vec<Plan>>> {
    Ok(Json(store::list_plans(&app.db).await?))
}

/// Adds a plan. Plans are never edited: to change a fee, create a plan and move tenants to it.
#[utoipa::path(post, path = "/v1/operator/plans", tag = "back office", request_body = Plan,
    responses((status = 201, body = Plan), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
async fn create_plan(
    State(app): State<Arc<App>>,
    _operator: Operator,
    body: JsonBody<Plan>,
) -> Result<(StatusCode, Json<Plan>)> {
    let plan = body
        .parse()?
        .validate()
        .map_err(crate::error::Error::Validation)?;
    Ok((
        StatusCode::CREATED,
        Json(store::create_plan(&app.db, &plan).await?),
    ))
}

/// A tenant's billing, as the tenant sees it at `GET /v1/billing`.
#[utoipa::path(get, path = "/v1/operator/tenants/{tenant_id}/billing", tag = "back office",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = BillingOverview), (status = 404, body = Problem)))]
async fn get_tenant_billing(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(tenant_id): Path<String>,
) -> Result<Json<BillingOverview>> {
    known_tenant(&app, &tenant_id).await?;
    Ok(Json(
        super::billing::overview(&app.db, &tenant_id, app.clock.now()).await?,
    ))
}

/// New terms for a tenant, optionally with a price list from now on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TermsRequest {
    /// e.g. `estandar-pen`; see `GET /v1/operator/plans`.
    plan_id: String,
    /// e.g. `IGV` (Peru), `IVA` (Colombia, Chile)
    tax_name: String,
    /// Tax rate in basis points: 1800 = 18%.
    tax_rate_bp: i64,
    /// The ABCall entity that issues the invoices; numbering is sequential per issuer.
    issuer: String,
    /// Prices from now on; required when the new plan is in another currency.
    #[serde(default)]
    prices: Option<ChannelPrices>,
}

/// Sets a tenant's plan, tax and issuer (and, with `prices`, a price list from now). A plan in
/// another currency is accepted only before the tenant's first billed PQR.
#[utoipa::path(put, path = "/v1/operator/tenants/{tenant_id}/billing", tag = "back office",
    params(("tenant_id" = String, Path)), request_body = TermsRequest,
    responses((status = 200, body = BillingOverview), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn put_tenant_billing(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(tenant_id): Path<String>,
    body: JsonBody<TermsRequest>,
) -> Result<Json<BillingOverview>> {
    known_tenant(&app, &tenant_id).await?;
    let request = body.parse()?;
    let now = app.clock.now();
    let terms = AccountTerms {
        plan_id: request.plan_id,
        tax_name: request.tax_name,
        tax_rate_bp: request.tax_rate_bp,
        issuer: request.issuer,
    };
    billing::set_terms(&app.db, &tenant_id, terms, request.prices, now).await?;
    Ok(Json(
        super::billing::overview(&app.db, &tenant_id, now).await?,
    ))
}

/// Enters a negotiated price list from `effective_from` (default now; never in the past).
#[utoipa::path(post, path = "/v1/operator/tenants/{tenant_id}/price-lists", tag = "back office",
    params(("tenant_id" = String, Path)), request_body = NewPriceList,
    responses((status = 201, body = [PriceList]), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
async fn add_price_list(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(tenant_id): Path<String>,
    body: JsonBody<NewPriceList>,
) -> Result<(StatusCode, Json<Vec<PriceList>>)> {
    known_tenant(&app, &tenant_id).await?;
    let list = body.parse()?;
    let lists = billing::add_price_list(&app.db, &tenant_id, list, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(lists)))
}

/// A tenant's invoices and credit notes, newest first.
#[utoipa::path(get, path = "/v1/operator/tenants/{tenant_id}/invoices", tag = "back office",
    params(("tenant_id" = String, Path), InvoicesQuery),
    responses((status = 200, body = inline(Page<Invoice>)), (status = 404, body = Problem)))]
async fn list_tenant_invoices(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(tenant_id): Path<String>,
    ApiQuery(query): ApiQuery<InvoicesQuery>,
) -> Result<Json<Page<Invoice>>> {
    known_tenant(&app, &tenant_id).await?;
    Ok(Json(
        store::list_invoices(&app.db, &tenant_id, query.into()).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DraftRequest {
    /// The month to bill, `YYYY-MM`, in the tenant's time zone.
    period: Period,
}

/// Drafts the month's invoice from its billed PQRs, or recomputes the existing draft (201 when
/// created, 200 when refreshed); 409 once the month's invoice is issued.
#[utoipa::path(post, path = "/v1/operator/tenants/{tenant_id}/invoices", tag = "back office",
    params(("tenant_id" = String, Path)), request_body = DraftRequest,
    responses((status = 201, body = Invoice), (status = 200, body = Invoice),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn draft_invoice(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path(tenant_id): Path<String>,
    body: JsonBody<DraftRequest>,
) -> Result<(
    StatusCode,
    [(axum::http::HeaderName, axum::http::HeaderValue); 1],
    Json<Invoice>,
)> {
    known_tenant(&app, &tenant_id).await?;
    let request = body.parse()?;
    let (invoice, created) = billing::draft(&app.db, &tenant_id, request.period).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        location(format!("/v1/invoices/{}", invoice.id)),
        Json(invoice),
    ))
}

/// One of the tenant's invoices (same formats as `GET /v1/invoices/{id}`).
#[utoipa::path(get, path = "/v1/operator/tenants/{tenant_id}/invoices/{id}", tag = "back office",
    params(("tenant_id" = String, Path), ("id" = String, Path), FormatQuery),
    responses((status = 200, description = "the invoice in the format asked for",
            content((InvoiceDetail = "application/json"), (String = "text/csv"),
                (String = "text/html"))),
        (status = 404, body = Problem)))]
async fn get_tenant_invoice(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path((tenant_id, id)): Path<(String, String)>,
    ApiQuery(format): ApiQuery<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    super::billing::invoice_response(&app.db, &tenant_id, &id, &format, &headers).await
}

/// Issues a draft after its month has ended: numbered (gapless per issuer) and frozen.
#[utoipa::path(post, path = "/v1/operator/tenants/{tenant_id}/invoices/{id}/issue",
    tag = "back office", params(("tenant_id" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = Invoice), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
async fn issue_invoice(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path((tenant_id, id)): Path<(String, String)>,
) -> Result<Json<Invoice>> {
    Ok(Json(
        billing::issue(&app.db, &tenant_id, &id, app.clock.now()).await?,
    ))
}

/// The invoice after a payment, and the payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Paid {
    invoice: Invoice,
    payment: Payment,
}

/// Records a bank transfer; the invoice is paid once nothing is owed.
#[utoipa::path(post, path = "/v1/operator/tenants/{tenant_id}/invoices/{id}/payments",
    tag = "back office", params(("tenant_id" = String, Path), ("id" = String, Path)),
    request_body = NewPayment,
    responses((status = 201, body = Paid), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn pay_invoice(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path((tenant_id, id)): Path<(String, String)>,
    body: JsonBody<NewPayment>,
) -> Result<(StatusCode, Json<Paid>)> {
    let payment = body.parse()?;
    let (invoice, payment) =
        billing::pay(&app.db, &tenant_id, &id, payment, app.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(Paid { invoice, payment })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VoidRequest {
    /// Why the invoice is cancelled; printed on the credit note.
    reason: String,
}

/// The voided invoice and the credit note that cancels it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Voided {
    invoice: Invoice,
    credit_note: Invoice,
}

/// Voids an issued, unpaid invoice with a credit note for its full amount; the month may then
/// be drafted again.
#[utoipa::path(post, path = "/v1/operator/tenants/{tenant_id}/invoices/{id}/void",
    tag = "back office", params(("tenant_id" = String, Path), ("id" = String, Path)),
    request_body = VoidRequest,
    responses((status = 200, body = Voided), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn void_invoice(
    State(app): State<Arc<App>>,
    _operator: Operator,
    Path((tenant_id, id)): Path<(String, String)>,
    body: JsonBody<VoidRequest>,
) -> Result<Json<Voided>> {
    let request = body.parse()?;
    let (invoice, credit_note) =
        billing::void(&app.db, &tenant_id, &id, &request.reason, app.clock.now()).await?;
    Ok(Json(Voided {
        invoice,
        credit_note,
    }))
}
