//! Who is asking. The HTTP handler authenticates the API key exactly as REST does and puts the
//! app and the caller into the request's data; every resolver then names the [`Action`] the
//! matching REST route requires, so roles mean the same on both APIs.

use std::sync::Arc;

use async_graphql::Context;

use super::error::Result;
use crate::App;
use crate::domain::access::{Action, Principal};
use crate::error::Error;
use crate::http::extract::Caller;

/// The app and the caller, if the caller's role allows `action`; `FORBIDDEN` otherwise.
pub fn authorize<'c>(ctx: &Context<'c>, action: Action) -> Result<(&'c App, &'c Principal)> {
    let missing = |what: &str| Error::Internal(format!("GraphQL request without {what}"));
    let app = ctx.data::<Arc<App>>().map_err(|_| missing("the app"))?;
    let caller = ctx.data::<Caller>().map_err(|_| missing("a caller"))?;
    let principal = caller.require(action)?;
    Ok((app.as_ref(), principal))
}
