//! The root `Mutation`: customer upserts by the tenant's external id, one or many (all or
//! nothing), validated by the same domain rules as REST. Invalid input is not a GraphQL error but
//! part of the answer: the payload's `errors` name every field at fault (`[3].email`), and then
//! nothing is stored.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::access::authorize;
use super::error::{Result, graphql_path};
use super::types::customer::Customer;
use super::types::enums::{ContactChannel, CustomerType, Tier};
use crate::domain::access::Action;
use crate::domain::customer::{self, CustomerData, MAX_BULK_ITEMS};
use crate::domain::incident::Location;
use crate::domain::validation::FieldError;
use crate::error::Error;
use crate::store::customers::{self as store, BulkOutcome};

#[derive(Default)]
pub struct Mutation;

#[Object]
impl Mutation {
    /// Inserts the customer, or updates the one with the same `externalId`.
    async fn upsert_customer(
        &self,
        ctx: &Context<'_>,
        input: CustomerInput,
    ) -> Result<UpsertCustomerPayload> {
        let (app, principal) = authorize(ctx, Action::WriteCustomers)?;
        let refused = |errors: Vec<FieldError>| UpsertCustomerPayload {
            customer: None,
            created: false,
            errors: errors.into_iter().map(InputError::from).collect(),
        };
        let data = match input.parse() {
            Ok(data) => data,
            Err(errors) => return Ok(refused(errors)),
        };
        let outcome = match upsert(app, &principal.tenant_id, vec![data]).await? {
            Ok(outcome) => outcome,
            Err(errors) => return Ok(refused(errors)),
        };
        let id = outcome
            .ids
            .first()
            .ok_or_else(|| Error::Internal("an upsert of one customer returned no id".into()))?;
        let customer = store::get(&app.db, &principal.tenant_id, &id.id).await?;
        Ok(UpsertCustomerPayload {
            customer: Some(customer.into()),
            created: outcome.created == 1,
            errors: Vec::new(),
        })
    }

    /// Inserts or updates many customers by `externalId` in one transaction: every one or none.
    /// Each invalid item is reported (`[index].field`) and then nothing is stored.
    async fn upsert_customers(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CustomerInput>,
    ) -> Result<UpsertCustomersPayload> {
        let (app, principal) = authorize(ctx, Action::WriteCustomers)?;
        let refused = |errors: Vec<FieldError>| UpsertCustomersPayload {
            created: 0,
            updated: 0,
            ids: Vec::new(),
            errors: errors.into_iter().map(InputError::from).collect(),
        };
        if inputs.is_empty() || inputs.len() > MAX_BULK_ITEMS {
            return Ok(refused(vec![FieldError::new(
                "",
                format!("send between 1 and {MAX_BULK_ITEMS} customers"),
            )]));
        }
        let mut errors = Vec::new();
        let mut items = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            match input.parse() {
                Ok(data) => items.push(data),
                Err(item_errors) => {
                    let root = format!("[{index}]");
                    errors.extend(item_errors.into_iter().map(|e| e.under(&root)));
                }
            }
        }
        if !errors.is_empty() {
            return Ok(refused(errors));
        }
        let outcome = match upsert(app, &principal.tenant_id, items).await? {
            Ok(outcome) => outcome,
            Err(errors) => return Ok(refused(errors)),
        };
        Ok(UpsertCustomersPayload {
            created: outcome.created,
            updated: outcome.updated,
            ids: outcome
                .ids
                .into_iter()
                .map(|id| UpsertedId {
                    external_id: id.external_id,
                    id: id.id,
                })
                .collect(),
            errors: Vec::new(),
        })
    }
}

/// The store's upsert, with the rules it checks itself (an external id twice in one batch) as
/// field errors for the payload and anything else as a failure.
async fn upsert(
    app: &crate::App,
    tenant_id: &str,
    items: Vec<CustomerData>,
) -> Result<Result<BulkOutcome, Vec<FieldError>>> {
    match store::bulk_upsert(&app.db, tenant_id, items).await {
        Ok(outcome) => Ok(Ok(outcome)),
        Err(Error::Validation(errors)) => Ok(Err(errors)),
        Err(other) => Err(other.into()),
    }
}

/// A customer as the tenant sends it; omitted fields take REST's defaults.
#[derive(InputObject)]
pub struct CustomerInput {
    /// The tenant's own id for the customer (unique per tenant).
    pub external_id: String,
    pub name: String,
    /// National id document (DNI, RUC, cédula, RUT).
    pub document_id: Option<String>,
    pub email: Option<String>,
    /// E.164 phone number, e.g. "+51987654321".
    pub phone: Option<String>,
    /// Default `PERSON`.
    pub customer_type: Option<CustomerType>,
    /// Tenant-defined segment, e.g. "postpago", "prepago", "empresas".
    pub segment: Option<String>,
    pub importance: Option<ImportanceInput>,
    pub contact_preferences: Option<ContactPreferencesInput>,
    pub location: Option<LocationInput>,
    /// Free attributes (a JSON object of at most 16 KiB), used by scoring.
    pub attributes: Option<serde_json::Value>,
}

/// Importance band (default `STANDARD`) and 0–100 score (default 0).
#[derive(InputObject)]
pub struct ImportanceInput {
    pub tier: Option<Tier>,
    pub score: Option<f64>,
}

/// How the customer wants to be contacted; `language` defaults to "es".
#[derive(InputObject)]
pub struct ContactPreferencesInput {
    pub preferred_channel: Option<ContactChannel>,
    pub allowed_channels: Option<Vec<ContactChannel>>,
    /// BCP 47 language tag, e.g. "es-PE".
    pub language: Option<String>,
}

/// Where the customer is (ubigeo-style hierarchy).
#[derive(InputObject)]
pub struct LocationInput {
    pub region: Option<String>,
    pub department: Option<String>,
    pub province: Option<String>,
    pub district: Option<String>,
}

impl CustomerInput {
    /// Builds REST's input from the GraphQL one and validates it with the domain's rules.
    fn parse(self) -> Result<CustomerData, Vec<FieldError>> {
        let attributes = match self.attributes {
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map,
            Some(_) => {
                return Err(vec![FieldError::new("attributes", "must be a JSON object")]);
            }
        };
        let importance = self
            .importance
            .map_or_else(Default::default, |i| customer::Importance {
                tier: i.tier.map(Into::into).unwrap_or_default(),
                score: i.score.unwrap_or_default(),
            });
        let contact_preferences = self.contact_preferences.map_or_else(Default::default, |p| {
            let defaults = customer::ContactPreferences::default();
            customer::ContactPreferences {
                preferred_channel: p.preferred_channel.map(Into::into),
                allowed_channels: p
                    .allowed_channels
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                language: p.language.unwrap_or(defaults.language),
            }
        });
        let location = self.location.map_or_else(Default::default, |l| Location {
            region: l.region,
            department: l.department,
            province: l.province,
            district: l.district,
        });
        customer::CustomerInput {
            external_id: self.external_id,
            name: self.name,
            document_id: self.document_id,
            email: self.email,
            phone: self.phone,
            customer_type: self.customer_type.map(Into::into).unwrap_or_default(),
            segment: self.segment,
            importance,
            contact_preferences,
            location,
            attributes,
        }
        .parse()
    }
}

/// A field at fault, named by its path in the mutation's input (`[3].email`,
/// `contactPreferences.language`).
#[derive(SimpleObject)]
#[graphql(name = "FieldError")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl From<FieldError> for InputError {
    fn from(error: FieldError) -> Self {
        InputError {
            field: graphql_path(&error.field),
            message: error.message,
        }
    }
}

/// What `upsertCustomer` did, or why it did nothing.
#[derive(SimpleObject)]
pub struct UpsertCustomerPayload {
    /// The customer as stored; null when the input was refused.
    pub customer: Option<Customer>,
    /// True when the customer was new, false when one with the same external id was updated.
    pub created: bool,
    /// Every field at fault; empty on success. When there is any, nothing was stored.
    pub errors: Vec<InputError>,
}

/// What `upsertCustomers` did, or why it did nothing.
#[derive(SimpleObject)]
pub struct UpsertCustomersPayload {
    /// Customers that were new.
    pub created: usize,
    /// Customers that existed (by external id) and were replaced.
    pub updated: usize,
    /// Our id for each external id, in request order; empty when the input was refused.
    pub ids: Vec<UpsertedId>,
    /// Every field at fault, under `[index]`; empty on success. When there is any, nothing was
    /// stored.
    pub errors: Vec<InputError>,
}

/// Our id for one of the tenant's external ids.
#[derive(SimpleObject)]
pub struct UpsertedId {
    pub external_id: String,
    pub id: String,
}
