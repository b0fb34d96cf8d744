//! One page of a list, as REST's `Page`: the items and the cursor of the next page (pass it as
//! `after`), null on the last page.

use async_graphql::{OutputType, SimpleObject};

use super::call::Call;
use super::customer::Customer;
use super::incident::Incident;
use super::invoice::Invoice;
use crate::store::incidents;

/// One page of a list, newest first.
#[derive(SimpleObject)]
#[graphql(concrete(name = "CallPage", params(Call)))]
#[graphql(concrete(name = "CustomerPage", params(Customer)))]
#[graphql(concrete(name = "IncidentPage", params(Incident)))]
#[graphql(concrete(name = "InvoicePage", params(Invoice)))]
pub struct Page<T: OutputType> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<S, T: OutputType + From<S>> From<incidents::Page<S>> for Page<T> {
    fn from(page: incidents::Page<S>) -> Self {
        Page {
            items: page.items.into_iter().map(T::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
