//! `call(id)` and `calls(filter, first, after)`: `GET /v1/calls/{id}` and `GET /v1/calls`.

use async_graphql::{Context, InputObject, Object};

use super::{found, page_args, page_error};
use crate::domain::access::Action;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits::list_cost;
use crate::graphql::types::call::Call;
use crate::graphql::types::enums::Direction;
use crate::graphql::types::page::Page;
use crate::store::calls::{self, CallFilter as StoreFilter};

#[derive(Default)]
pub struct CallQuery;

/// Filters for `calls`; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct CallFilter {
    pub direction: Option<Direction>,
    pub incident_id: Option<String>,
    pub customer_id: Option<String>,
}

#[Object]
impl CallQuery {
    /// A recorded call of the caller's tenant; null if there is none with this id.
    async fn call(&self, ctx: &Context<'_>, id: String) -> Result<Option<Call>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        Ok(found(calls::get(&app.db, &principal.tenant_id, &id).await)?.map(Call::from))
    }

    /// The tenant's recorded calls, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn calls(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which calls; all when omitted.")] filter: Option<CallFilter>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Page<Call>>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        let (limit, cursor) = page_args(first, after)?;
        let filter = filter.unwrap_or_default();
        let filter = StoreFilter {
            direction: filter.direction.map(Into::into),
            incident_id: filter.incident_id,
            customer_id: filter.customer_id,
            limit,
            cursor,
        };
        let page = calls::list(&app.db, &principal.tenant_id, filter)
            .await
            .map_err(page_error)?;
        Ok(Some(page.into()))
    }
}
