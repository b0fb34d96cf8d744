//! Pure business rules: no I/O, no HTTP, no SQL. Everything here is unit-testable on its own and
//! is the single place where a rule (a transition, a priority, an SLA) is decided.

pub mod access;
pub mod attachment;
pub mod billing;
pub mod byte_range;
pub mod calendar;
pub mod call;
pub mod call_quality;
pub mod customer;
pub mod dataset;
pub mod incident;
pub mod kb;
pub mod kpi;
pub mod money;
pub mod priority;
pub mod recordings;
pub mod retention;
pub mod rollup;
pub mod search;
pub mod survey;
pub mod tenant;
pub mod upload;
pub mod validation;

/// A new opaque, time-ordered identifier (UUIDv7), so ids sort by creation time for cursors.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
