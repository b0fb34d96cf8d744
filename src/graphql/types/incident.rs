//! `Incident` (a PQR) as GraphQL shows it: the stored PQR's fields, its customer and its
//! timeline, the latter two nested so one request can follow them.

use async_graphql::{Context, Object, SimpleObject};
use jiff::Timestamp;

use super::customer::Customer;
use super::enums::{Channel, Impact, Kind, Priority, RejectedBy, State, Urgency};
use crate::domain::access::Action;
use crate::domain::incident;
use crate::error::Error;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::store::{customers, incidents};

/// A PQR (petición, queja, reclamo, sugerencia).
pub struct Incident(pub incidents::Incident);

impl From<incidents::Incident> for Incident {
    fn from(incident: incidents::Incident) -> Self {
        Incident(incident)
    }
}

/// A PQR (petición, queja, reclamo, sugerencia), with its customer and timeline.
#[Object]
impl Incident {
    async fn id(&self) -> &str {
        &self.0.id
    }

    async fn channel(&self) -> Channel {
        self.0.channel.into()
    }

    async fn kind(&self) -> Kind {
        self.0.kind.into()
    }

    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Id of the customer, if the PQR names one.
    async fn customer_id(&self) -> Option<&str> {
        self.0.customer_id.as_deref()
    }

    /// Product or service concerned.
    async fn product(&self) -> Option<&str> {
        self.0.product.as_deref()
    }

    async fn location(&self) -> Location {
        Location::from(&self.0.location)
    }

    async fn impact(&self) -> Impact {
        self.0.impact.into()
    }

    async fn urgency(&self) -> Urgency {
        self.0.urgency.into()
    }

    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }

    async fn state(&self) -> State {
        self.0.state.into()
    }

    /// 0 until escalated, then the level reached.
    async fn escalation_level(&self) -> i64 {
        self.0.escalation_level
    }

    async fn assignee(&self) -> Option<&str> {
        self.0.assignee.as_deref()
    }

    async fn rejected_by(&self) -> Option<RejectedBy> {
        self.0.rejected_by.map(Into::into)
    }

    async fn rejection_reason(&self) -> Option<&str> {
        self.0.rejection_reason.as_deref()
    }

    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }

    /// The channel's own reference (ticket id, call id, message id).
    async fn external_ref(&self) -> Option<&str> {
        self.0.external_ref.as_deref()
    }

    async fn sla(&self) -> Sla {
        let sla = &self.0.sla;
        Sla {
            first_response_due_at: sla.first_response_due_at,
            resolution_due_at: sla.resolution_due_at,
            first_response_at: sla.first_response_at,
        }
    }

    async fn resolved_at(&self) -> Option<Timestamp> {
        self.0.resolved_at
    }

    async fn closed_at(&self) -> Option<Timestamp> {
        self.0.closed_at
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }

    /// Bumped by every change.
    async fn version(&self) -> i64 {
        self.0.version
    }

    /// The customer the PQR is about (needs the `read customers` permission); null when none.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<Customer>> {
        let (app, principal) = authorize(ctx, Action::ReadCustomers)?;
        let Some(id) = &self.0.customer_id else {
            return Ok(None);
        };
        match customers::get(&app.db, &principal.tenant_id, id).await {
            Ok(customer) => Ok(Some(customer.into())),
            Err(Error::NotFound(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// The append-only timeline: who changed what, when.
    async fn events(&self, ctx: &Context<'_>) -> Result<Option<Vec<Event>>> {
        let (app, principal) = authorize(ctx, Action::ReadIncidents)?;
        let events = incidents::events(&app.db, &principal.tenant_id, &self.0.id).await?;
        Ok(Some(events.into_iter().map(Event::from).collect()))
    }
}

/// Where the PQR happened (ubigeo-style hierarchy); also a customer's location.
#[derive(SimpleObject)]
pub struct Location {
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

impl From<&incident::Location> for Location {
    fn from(location: &incident::Location) -> Self {
        let incident::Location {
            region,
            department,
            province,
            district,
        } = location.clone();
        Location {
            region,
            department,
            province,
            district,
        }
    }
}

/// Service-level targets of a PQR and whether they were met.
#[derive(SimpleObject)]
pub struct Sla {
    pub first_response_due_at: Timestamp,
    pub resolution_due_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
}

/// One entry of a PQR's timeline.
#[derive(SimpleObject)]
pub struct Event {
    pub id: String,
    /// 1 for the registration, then one per change.
    pub seq: i64,
    pub at: Timestamp,
    pub actor: Actor,
    /// `created` or `transition`.
    pub kind: String,
    pub from_state: Option<State>,
    pub to_state: Option<State>,
    /// What changed (JSON).
    pub data: serde_json::Value,
}

impl From<incidents::Event> for Event {
    fn from(event: incidents::Event) -> Self {
        let incidents::Event {
            id,
            seq,
            at,
            actor,
            kind,
            from_state,
            to_state,
            data,
        } = event;
        let incidents::Actor { key_id, name, role } = actor;
        Event {
            id,
            seq,
            at,
            actor: Actor { key_id, name, role },
            kind,
            from_state: from_state.map(Into::into),
            to_state: to_state.map(Into::into),
            data,
        }
    }
}

/// Who made a change: the API key's name and role.
#[derive(SimpleObject)]
pub struct Actor {
    pub key_id: Option<String>,
    pub name: String,
    pub role: String,
}
