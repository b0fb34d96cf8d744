//! `Invoice` (or credit note) as GraphQL shows it: the fields of `GET /v1/invoices/{id}` as JSON,
//! with the payments received nested.

use async_graphql::{Context, Object, SimpleObject};
use jiff::Timestamp;
use jiff::civil::Date;

use super::enums::{Channel, Currency, DocumentKind, InvoiceStatus};
use crate::domain::access::Action;
use crate::domain::billing;
use crate::graphql::access::authorize;
use crate::graphql::error::Result;
use crate::store::billing as store;

/// An invoice or credit note. Amounts are integers in the currency's minor units (céntimos).
pub struct Invoice(pub store::Invoice);

impl From<store::Invoice> for Invoice {
    fn from(invoice: store::Invoice) -> Self {
        Invoice(invoice)
    }
}

/// An invoice or credit note; amounts are integers in the currency's minor units.
#[Object]
impl Invoice {
    async fn id(&self) -> &str {
        &self.0.id
    }

    async fn kind(&self) -> DocumentKind {
        self.0.kind.into()
    }

    /// The billing month, `YYYY-MM`.
    async fn period(&self) -> String {
        self.0.period.to_string()
    }

    async fn status(&self) -> InvoiceStatus {
        self.0.status.into()
    }

    /// The ABCall entity that issues it.
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// Sequential per issuer and kind; null while a draft.
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }

    async fn currency(&self) -> Currency {
        self.0.currency.into()
    }

    async fn plan_id(&self) -> &str {
        &self.0.plan_id
    }

    async fn plan_name(&self) -> &str {
        &self.0.plan_name
    }

    async fn plan_fee_minor(&self) -> i64 {
        self.0.amounts.plan_fee_minor
    }

    async fn lines(&self) -> Vec<InvoiceLine> {
        self.0
            .amounts
            .lines
            .iter()
            .cloned()
            .map(InvoiceLine::from)
            .collect()
    }

    /// PQRs billed (the sum of the lines' quantities).
    async fn incidents(&self) -> i64 {
        self.0.amounts.incidents
    }

    async fn subtotal_minor(&self) -> i64 {
        self.0.amounts.subtotal_minor
    }

    async fn tax_minor(&self) -> i64 {
        self.0.amounts.tax_minor
    }

    async fn total_minor(&self) -> i64 {
        self.0.amounts.total_minor
    }

    async fn tax_name(&self) -> &str {
        &self.0.tax_name
    }

    /// Tax rate in basis points (1800 = 18%).
    async fn tax_rate_bp(&self) -> i64 {
        self.0.tax_rate_bp
    }

    async fn paid_minor(&self) -> i64 {
        self.0.paid_minor
    }

    /// For a credit note: the invoice it cancels.
    async fn credits_invoice_id(&self) -> Option<&str> {
        self.0.credits_invoice_id.as_deref()
    }

    async fn void_reason(&self) -> Option<&str> {
        self.0.void_reason.as_deref()
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }

    async fn issued_at(&self) -> Option<Timestamp> {
        self.0.issued_at
    }

    async fn paid_at(&self) -> Option<Timestamp> {
        self.0.paid_at
    }

    async fn voided_at(&self) -> Option<Timestamp> {
        self.0.voided_at
    }

    /// Payments received against the invoice, in the order they were recorded.
    async fn payments(&self, ctx: &Context<'_>) -> Result<Option<Vec<Payment>>> {
        let (app, principal) = authorize(ctx, Action::ReadBilling)?;
        let payments = store::payments(&app.db, &principal.tenant_id, &self.0.id).await?;
        Ok(Some(payments.into_iter().map(Payment::from).collect()))
    }
}

/// One invoice line: a channel's PQRs at one unit price.
#[derive(SimpleObject)]
pub struct InvoiceLine {
    pub channel: Channel,
    /// In Spanish, as printed on the invoice.
    pub description: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
}

impl From<billing::InvoiceLine> for InvoiceLine {
    fn from(line: billing::InvoiceLine) -> Self {
        let billing::InvoiceLine {
            channel,
            description,
            quantity,
            unit_price_minor,
            amount_minor,
        } = line;
        InvoiceLine {
            channel: channel.into(),
            description,
            quantity,
            unit_price_minor,
            amount_minor,
        }
    }
}

/// A payment received against an invoice.
#[derive(SimpleObject)]
pub struct Payment {
    pub id: String,
    pub invoice_id: String,
    pub amount_minor: i64,
    pub reference: String,
    pub received_on: Date,
    pub created_at: Timestamp,
}

impl From<store::Payment> for Payment {
    fn from(payment: store::Payment) -> Self {
        let store::Payment {
            id,
            invoice_id,
            amount_minor,
            reference,
            received_on,
            created_at,
        } = payment;
        Payment {
            id,
            invoice_id,
            amount_minor,
            reference,
            received_on,
            created_at,
        }
    }
}
