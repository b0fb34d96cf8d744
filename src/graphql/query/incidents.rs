//! `incident(id)` and `incidents(filter, first, after)`: `GET /v1/incidents/{id}` and
//! `GET /v1/incidents`.

use async_graphql::{Context, InputObject, Object};
use jiff::Timestamp;

use super::{found, page_args, page_error};
use crate::domain::access::Action;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits::list_cost;
use crate::graphql::types::enums::{Channel, Kind, Priority, State};
use crate::graphql::types::incident::Incident;
use crate::graphql::types::page::Page;
use crate::store::incidents::{self, IncidentFilter as StoreFilter};

#[derive(Default)]
pub struct IncidentQuery;

/// Filters for `incidents`; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct IncidentFilter {
    pub state: Option<State>,
    pub channel: Option<Channel>,
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    pub customer_id: Option<String>,
    pub assignee: Option<String>,
    /// Created at or after this instant.
    pub created_from: Option<Timestamp>,
    /// Created before this instant.
    pub created_to: Option<Timestamp>,
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

#[Object]
impl IncidentQuery {
    /// A PQR of the caller's tenant; null if there is none with this id.
    async fn incident(&self, ctx: &Context<'_>, id: String) -> Result<Option<Incident>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        Ok(found(incidents::get(&app.db, &principal.tenant_id, &id).await)?.map(Incident::from))
    }

    /// The tenant's PQRs, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which PQRs; all when omitted.")] filter: Option<IncidentFilter>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Page<Incident>>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        let (limit, cursor) = page_args(first, after)?;
        let filter = filter.unwrap_or_default();
        let filter = StoreFilter {
            state: filter.state.map(Into::into),
            channel: filter.channel.map(Into::into),
            priority: filter.priority.map(Into::into),
            kind: filter.kind.map(Into::into),
            customer_id: filter.customer_id,
            assignee: filter.assignee,
            created_from: filter.created_from,
            created_to: filter.created_to,
            region: filter.region,
            department: filter.department,
            province: filter.province,
            district: filter.district,
            limit,
            cursor,
        };
        let page = incidents::list(&app.db, &principal.tenant_id, filter)
            .await
            .map_err(page_error)?;
        Ok(Some(page.into()))
    }
}
