//! `invoice(id)` and `invoices(filter, first, after)`: `GET /v1/invoices/{id}` (as JSON) and
//! `GET /v1/invoices`.

use async_graphql::{Context, InputObject, Object};

use super::{found, page_args, page_error};
use crate::domain::access::Action;
use crate::domain::billing::Period;
use crate::error::Error;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits::list_cost;
use crate::graphql::types::enums::{DocumentKind, InvoiceStatus};
use crate::graphql::types::invoice::Invoice;
use crate::graphql::types::page::Page;
use crate::store::billing::{self as store, InvoiceFilter as StoreFilter};

#[derive(Default)]
pub struct BillingQuery;

/// Which invoices to list; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct InvoiceFilter {
    /// Month, `YYYY-MM`.
    pub period: Option<String>,
    pub status: Option<InvoiceStatus>,
    pub kind: Option<DocumentKind>,
}

#[Object]
impl BillingQuery {
    /// An invoice or credit note of the caller's tenant; null if there is none with this id.
    async fn invoice(&self, ctx: &Context<'_>, id: String) -> Result<Option<Invoice>> {
        let (app, principal) = authorize(ctx, Action::ReadBilling)?;
        Ok(found(store::get_invoice(&app.db, &principal.tenant_id, &id).await)?.map(Invoice::from))
    }

    /// The tenant's invoices and credit notes, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which invoices; all when omitted.")] filter: Option<InvoiceFilter>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Page<Invoice>>> {
        let (app, principal) = authorize(ctx, Action::ReadBilling)?;
        let (limit, cursor) = page_args(first, after)?;
        let filter = filter.unwrap_or_default();
        let period = filter
            .period
            .map(|p| {
                Period::parse(&p).ok_or_else(|| {
                    Error::validation("filter.period", "expected a month as YYYY-MM, e.g. 2026-11")
                })
            })
            .transpose()?;
        let filter = StoreFilter {
            period,
            status: filter.status.map(Into::into),
            kind: filter.kind.map(Into::into),
            limit,
            cursor,
        };
        let page = store::list_invoices(&app.db, &principal.tenant_id, filter)
            .await
            .map_err(page_error)?;
        Ok(Some(page.into()))
    }
}
