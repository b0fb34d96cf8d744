//! The domain's enums as GraphQL enums (values in GraphQL's UPPER_CASE: `IN_PROGRESS` for REST's
//! `in_progress`). Each mirrors its domain enum through `remote`, which generates the conversions
//! both ways with exhaustive matches: a variant added to the domain fails to compile here until
//! the GraphQL schema gets it too (and then the committed SDL test asks for the new SDL).

use async_graphql::Enum;

/// Where the PQR came in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::incident::Channel")]
pub enum Channel {
    Phone,
    Email,
    Chat,
    Chatbot,
    App,
    Web,
}

/// The legal kind of request: petición, queja, reclamo or sugerencia.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::incident::Kind")]
pub enum Kind {
    Peticion,
    Queja,
    Reclamo,
    Sugerencia,
}

/// Lifecycle state of a PQR.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::incident::State")]
pub enum State {
    Registered,
    Assigned,
    InProgress,
    Escalated,
    Resolved,
    Closed,
    Rejected,
    Reopened,
}

/// Who a rejection is attributed to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::incident::RejectedBy")]
pub enum RejectedBy {
    Company,
    Customer,
}

/// How many customers or how much service the PQR affects.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::priority::Impact")]
pub enum Impact {
    High,
    Medium,
    Low,
}

/// How soon the customer is hurt if nothing is done.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::priority::Urgency")]
pub enum Urgency {
    High,
    Medium,
    Low,
}

/// Impact × urgency.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::priority::Priority")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
    Planning,
}

/// Person or company.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::customer::CustomerType")]
pub enum CustomerType {
    Person,
    Business,
}

/// Coarse importance band of a customer.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::customer::Tier")]
pub enum Tier {
    Platinum,
    Gold,
    Silver,
    Standard,
}

/// A way to reach the customer.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::customer::ContactChannel")]
pub enum ContactChannel {
    Phone,
    Email,
    Sms,
    Whatsapp,
    App,
}

/// Invoice or credit note.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::billing::DocumentKind")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// Where an invoice is in its life.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::billing::InvoiceStatus")]
pub enum InvoiceStatus {
    Draft,
    Issued,
    Paid,
    Void,
}

/// ISO 4217 currency of an invoice.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::money::Currency")]
#[allow(clippy::upper_case_acronyms)]
pub enum Currency {
    PEN,
    COP,
    CLP,
    USD,
}

/// Who placed a call.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::call::Direction")]
pub enum Direction {
    Inbound,
    Outbound,
}
