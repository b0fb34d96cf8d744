//! What a tenant sees of its billing: plan, negotiated prices, the month so far, and its invoices
//! (JSON, CSV or a printable page). Everything that changes billing is the back office's
//! (`http/operator.rs`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiQuery, Caller};
use crate::App;
use crate::billing;
use crate::domain::access::Action;
use crate::domain::billing::{DocumentKind, InvoiceAmounts, InvoiceStatus, Period};
use crate::error::{Problem, Result};
use crate::store::Db;
use crate::store::billing::{self as store, Account, Invoice, Payment, PriceList};
use crate::store::incidents::Page;

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_billing))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
}

/// A tenant's billing at a glance.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillingOverview {
    pub account: Account,
    /// The prices a PQR registered now is billed at.
    pub current_prices: Option<PriceList>,
    /// Every price list, oldest first (including ones that start in the future).
    pub price_lists: Vec<PriceList>,
    /// The current month in the tenant's time zone.
    pub period: Period,
    /// What the current month comes to so far (not an invoice).
    pub month_to_date: InvoiceAmounts,
}

/// Builds the overview of `tenant_id` as of `now`; shared with the back office's view.
pub(super) async fn overview(
    db: &Db,
    tenant_id: &str,
    now: jiff::Timestamp,
) -> Result<BillingOverview> {
    let zone = billing::tenant_zone(db, tenant_id).await?;
    let period = Period::containing(now, &zone);
    let (account, month_to_date) = billing::amounts(db, tenant_id, period).await?;
    let price_lists = store::price_lists(db, tenant_id).await?;
    let current_prices = price_lists
        .iter()
        .rev()
        .find(|l| l.effective_from <= now)
        .cloned();
    Ok(BillingOverview {
        account,
        current_prices,
        price_lists,
        period,
        month_to_date,
    })
}

/// The tenant's plan, tax, negotiated prices, and what the current month comes to so far.
#[utoipa::path(get, path = "/v1/billing", tag = "billing",
    responses((status = 200, body = BillingOverview), (status = 403, body = Problem)))]
async fn get_billing(State(app): State<Arc<App>>, caller: Caller) -> Result<Json<BillingOverview>> {
    let principal = caller.require(Action::ReadBilling)?;
    Ok(Json(
        overview(&app.db, &principal.tenant_id, app.clock.now()).await?,
    ))
}

/// Which invoices to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct InvoicesQuery {
    /// Month, `YYYY-MM`.
    period: Option<Period>,
    status: Option<InvoiceStatus>,
    kind: Option<DocumentKind>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl From<InvoicesQuery> for store::InvoiceFilter {
    fn from(q: InvoicesQuery) -> Self {
        store::InvoiceFilter {
            period: q.period,
            status: q.status,
            kind: q.kind,
            limit: q.limit,
            cursor: q.cursor,
        }
    }
}

/// The tenant's invoices and credit notes, newest first.
#[utoipa::path(get, path = "/v1/invoices", tag = "billing", params(InvoicesQuery),
    responses((status = 200, body = inline(Page<Invoice>)), (status = 400, body = Problem)))]
async fn list_invoices(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InvoicesQuery>,
) -> Result<Json<Page<Invoice>>> {
    let principal = caller.require(Action::ReadBilling)?;
    Ok(Json(
        store::list_invoices(&app.db, &principal.tenant_id, query.into()).await?,
    ))
}

/// An invoice with the payments received against it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvoiceDetail {
    #[serde(flatten)]
    pub invoice: Invoice,
    pub payments: Vec<Payment>,
}

/// How to render an invoice.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum Format {
    Json,
    Csv,
    Html,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct FormatQuery {
    /// `json` (default), `csv`, or `html` (printable); an `Accept` of `text/csv` or
    /// `text/html` also selects them.
    format: Option<Format>,
}

impl FormatQuery {
    fn resolve(&self, headers: &HeaderMap) -> Format {
        if let Some(format) = self.format {
            return format;
        }
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.contains("text/csv") {
            Format::Csv
        } else if accept.contains("text/html") {
            Format::Html
        } else {
            Format::Json
        }
    }
}

/// Renders one invoice of `tenant_id` as asked.
pub(super) async fn invoice_response(
    db: &Db,
    tenant_id: &str,
    id: &str,
    format: &FormatQuery,
    headers: &HeaderMap,
) -> Result<Response> {
    let invoice = store::get_invoice(db, tenant_id, id).await?;
    let file_name = invoice
        .number
        .clone()
        .unwrap_or_else(|| format!("borrador-{}", invoice.period));
    let text = |content_type: &'static str, body: String, extension: &str| {
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) =
            HeaderValue::from_str(&format!("inline; filename=\"{file_name}.{extension}\""))
        {
            response
                .headers_mut()
                .insert(header::CONTENT_DISPOSITION, value);
        }
        response
    };
    Ok(match format.resolve(headers) {
        Format::Json => {
            let payments = store::payments(db, tenant_id, id).await?;
            Json(InvoiceDetail { invoice, payments }).into_response()
        }
        Format::Csv => text(
            "text/csv; charset=utf-8",
            billing::render::csv(&invoice)?,
            "csv",
        ),
        Format::Html => {
            let tenant = crate::store::tenants::get_tenant(db, tenant_id).await?;
            text(
                "text/html; charset=utf-8",
                billing::render::html(&invoice, &tenant.name),
                "html",
            )
        }
    })
}

/// One invoice or credit note: JSON with its payments, CSV lines, or a printable HTML page.
#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "billing",
    params(("id" = String, Path), FormatQuery),
    responses((status = 200, description = "the invoice in the format asked for",
            content((InvoiceDetail = "application/json"), (String = "text/csv"),
                (String = "text/html"))),
        (status = 404, body = Problem)))]
async fn get_invoice(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(format): ApiQuery<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let principal = caller.require(Action::ReadBilling)?;
    invoice_response(&app.db, &principal.tenant_id, &id, &format, &headers).await
}
