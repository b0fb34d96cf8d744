//! Black-box tests: each starts the real server on 127.0.0.1:0 over a fresh database and runs on
//! both SQLite and PostgreSQL (see `helpers::both_backends!`).

mod helpers;

mod billing;
mod calls;
mod customers;
mod demo;
mod errors;
mod graphql;
mod imports;
mod incidents;
mod isolation;
mod kb;
mod kpis;
mod live;
mod models;
mod ops;
mod rollups;
mod search;
mod surveys;
mod tenants;
mod transcripts;
