//! `customer(id)` and `customers(filter, first, after)`: `GET /v1/customers/{id}` and
//! `GET /v1/customers`.

use async_graphql::{Context, InputObject, Object};

use super::{found, page_args, page_error};
use crate::domain::access::Action;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits::list_cost;
use crate::graphql::types::customer::Customer;
use crate::graphql::types::enums::{CustomerType, Tier};
use crate::graphql::types::page::Page;
use crate::store::customers::{self, CustomerFilter as StoreFilter};

#[derive(Default)]
pub struct CustomerQuery;

/// Filters for `customers`; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct CustomerFilter {
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub document_id: Option<String>,
    pub segment: Option<String>,
    pub tier: Option<Tier>,
    pub customer_type: Option<CustomerType>,
}

#[Object]
impl CustomerQuery {
    /// A customer of the caller's tenant; null if there is none with this id.
    async fn customer(&self, ctx: &Context<'_>, id: String) -> Result<Option<Customer>> {
        let (app, principal) = authorize(ctx, Action::ReadCustomers)?;
        Ok(found(customers::get(&app.db, &principal.tenant_id, &id).await)?.map(Customer::from))
    }

    /// The tenant's customers, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which customers; all when omitted.")] filter: Option<CustomerFilter>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Page<Customer>>> {
        let (app, principal) = authorize(ctx, Action::ReadCustomers)?;
        let (limit, cursor) = page_args(first, after)?;
        let filter = filter.unwrap_or_default();
        let filter = StoreFilter {
            external_id: filter.external_id,
            phone: filter.phone,
            document_id: filter.document_id,
            segment: filter.segment,
            tier: filter.tier.map(Into::into),
            customer_type: filter.customer_type.map(Into::into),
            limit,
            cursor,
        };
        let page = customers::list(&app.db, &principal.tenant_id, filter)
            .await
            .map_err(page_error)?;
        Ok(Some(page.into()))
    }
}
