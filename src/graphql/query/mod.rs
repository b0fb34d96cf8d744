//! The root `Query`: one object per resource, merged. Each field calls the same store and report
//! functions as the matching REST route, scoped to the caller's tenant; an id of another tenant
//! (or of nothing) gives `null`, as REST gives 404. Root fields are nullable so that a field the
//! caller's role may not read (null, with a `FORBIDDEN` error) does not void the others' data.

mod billing;
mod calls;
mod customers;
mod incidents;
mod reports;

use async_graphql::MergedObject;

use super::error::Result;
use crate::error::Error;

#[derive(MergedObject, Default)]
pub struct Query(
    customers::CustomerQuery,
    incidents::IncidentQuery,
    reports::ReportQuery,
    billing::BillingQuery,
    calls::CallQuery,
);

/// `first` and `after` as the store's `limit` and `cursor`, which checks them as REST does.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
) -> Result<(Option<u32>, Option<String>)> {
    let limit = first
        .map(|first| {
            u32::try_from(first).map_err(|_| {
                Error::validation(
                    "first",
                    format!(
                        "must be between 1 and {}",
                        crate::store::incidents::MAX_PAGE
                    ),
                )
            })
        })
        .transpose()?;
    Ok((limit, after))
}

/// The store's page errors name REST's `limit` and `cursor`; GraphQL's arguments are `first`
/// and `after`.
pub fn page_error(error: Error) -> Error {
    match error {
        Error::Validation(errors) => Error::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    match e.field.as_str() {
                        "limit" => e.field = "first".into(),
                        "cursor" => e.field = "after".into(),
                        _ => {}
                    }
                    e
                })
                .collect(),
        ),
        other => other,
    }
}

/// `Ok(None)` for a missing row, so another tenant's id reads as `null`.
pub fn found<T>(result: crate::error::Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other.into()),
    }
}
