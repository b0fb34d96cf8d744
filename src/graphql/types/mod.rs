//! The GraphQL types: the REST resources' data in GraphQL's shape (camelCase fields, UPPER_CASE
//! enum values), each built from the store's own structs so there is one source of truth.

pub mod call;
pub mod customer;
pub mod enums;
pub mod incident;
pub mod invoice;
pub mod kpis;
pub mod page;
