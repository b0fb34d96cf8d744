//! `Customer` as GraphQL shows it: the stored customer's fields plus the customer's PQRs, nested
//! so that one request can fetch a customer and its incidents (bounded by the query limits).

use async_graphql::{Context, Object, SimpleObject};
use jiff::Timestamp;

use super::enums::{ContactChannel, CustomerType, State, Tier};
use super::incident::{Incident, Location};
use super::page::Page;
use crate::domain::access::Action;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::graphql::limits::list_cost;
use crate::graphql::query::page_args;
use crate::store::customers;
use crate::store::incidents::{self, IncidentFilter};

/// A customer of the tenant.
pub struct Customer(pub customers::Customer);

impl From<customers::Customer> for Customer {
    fn from(customer: customers::Customer) -> Self {
        Customer(customer)
    }
}

/// A customer of the tenant, with its PQRs.
#[Object]
impl Customer {
    /// Our id.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// The tenant's own id for the customer (unique per tenant).
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// National id document (DNI, RUC, cédula, RUT).
    async fn document_id(&self) -> Option<&str> {
        self.0.document_id.as_deref()
    }

    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// E.164 phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    async fn customer_type(&self) -> CustomerType {
        self.0.customer_type.into()
    }

    /// Tenant-defined segment, e.g. "postpago".
    async fn segment(&self) -> Option<&str> {
        self.0.segment.as_deref()
    }

    async fn importance(&self) -> Importance {
        Importance {
            tier: self.0.importance.tier.into(),
            score: self.0.importance.score,
        }
    }

    async fn contact_preferences(&self) -> ContactPreferences {
        let preferences = &self.0.contact_preferences;
        ContactPreferences {
            preferred_channel: preferences.preferred_channel.map(Into::into),
            allowed_channels: preferences
                .allowed_channels
                .iter()
                .copied()
                .map(Into::into)
                .collect(),
            language: preferences.language.clone(),
        }
    }

    async fn location(&self) -> Location {
        Location::from(&self.0.location)
    }

    /// Free attributes the tenant keeps about the customer (a JSON object).
    async fn attributes(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.attributes.clone())
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }

    /// The customer's PQRs, newest first (needs the `read incidents` permission).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only PQRs in this state.")] state: Option<State>,
        #[graphql(desc = "Page size, 1 to 200 (default 50).")] first: Option<i32>,
        #[graphql(desc = "`nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<Option<Page<Incident>>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        let (limit, cursor) = page_args(first, after)?;
        let filter = IncidentFilter {
            customer_id: Some(self.0.id.clone()),
            state: state.map(Into::into),
            limit,
            cursor,
            ..IncidentFilter::default()
        };
        let page = incidents::list(&app.db, &principal.tenant_id, filter)
            .await
            .map_err(crate::graphql::query::page_error)?;
        Ok(Some(Page::from(page)))
    }
}

/// Importance band plus a 0–100 score.
#[derive(SimpleObject)]
pub struct Importance {
    pub tier: Tier,
    pub score: f64,
}

/// How the customer wants (and allows) to be contacted.
#[derive(SimpleObject)]
pub struct ContactPreferences {
    pub preferred_channel: Option<ContactChannel>,
    /// Channels the customer consented to.
    pub allowed_channels: Vec<ContactChannel>,
    /// BCP 47 language tag, e.g. "es-PE".
    pub language: String,
}
