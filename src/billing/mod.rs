//! Billing: prices each PQR when it is registered (see `store::incidents::register`), drafts a
//! month's invoice from those events, and moves invoices through their lifecycle. Months are
//! counted in the tenant's time zone.

pub mod render;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::domain::billing::{
    self, AccountTerms, InvoiceAmounts, InvoiceStatus, NewPayment, NewPriceList, Period,
};
use crate::domain::validation::Errors;
use crate::error::{Error, Result};
use crate::store::Db;
use crate::store::billing::{self as store, Account, Invoice, Payment};

/// The tenant's time zone, from its settings.
pub async fn tenant_zone(db: &Db, tenant_id: &str) -> Result<TimeZone> {
    let tenant = crate::store::tenants::get_tenant(db, tenant_id).await?;
    let settings = tenant
        .settings
        .validate()
        .map_err(|_| Error::Internal(format!("stored settings of {tenant_id} are invalid")))?;
    Ok(settings.time_zone().clone())
}

/// What the month comes to so far, computed from its billing events with the account's current
/// plan and tax.
pub async fn amounts(
    db: &Db,
    tenant_id: &str,
    period: Period,
) -> Result<(Account, InvoiceAmounts)> {
    let account = store::account(db, tenant_id).await?;
    let usage = store::usage(db, tenant_id, period).await?;
    if let Some((_, currency)) = usage.iter().find(|(_, c)| *c != account.currency) {
        return Err(Error::Conflict(format!(
            "PQRs of {period} were priced in {} but the account bills in {}; enter a price list \
             in {} from the start of the month",
            currency.as_str(),
            account.currency.as_str(),
            account.currency.as_str()
        )));
    }
    let usage: Vec<_> = usage.into_iter().map(|(u, _)| u).collect();
    let amounts = billing::amounts(account.plan.monthly_fee_minor, &usage, account.tax_rate_bp)
        .map_err(|_| Error::Conflict(format!("the amounts of {period} overflow the ledger")))?;
    Ok((account, amounts))
}

/// Creates or refreshes the month's draft invoice; says whether it was created.
pub async fn draft(db: &Db, tenant_id: &str, period: Period) -> Result<(Invoice, bool)> {
    // Refuse before aggregating the month's events (the costly part); `save_draft` still
    // guards against an issue that lands in between.
    if let Some(existing) = store::invoice_for_period(db, tenant_id, period).await?
        && existing.status != InvoiceStatus::Draft
    {
        return Err(Error::Conflict(format!(
            "the invoice of {period} is already {}; void it to bill the month again",
            existing.status.as_str()
        )));
    }
    let (account, amounts) = amounts(db, tenant_id, period).await?;
    store::save_draft(
        db,
        tenant_id,
        store::Draft {
            period,
            account: &account,
            amounts: &amounts,
        },
    )
    .await
}

/// Issues a draft once its month is over: recomputed one last time, numbered, frozen.
pub async fn issue(db: &Db, tenant_id: &str, id: &str, now: Timestamp) -> Result<Invoice> {
    let invoice = store::get_invoice(db, tenant_id, id).await?;
    if invoice.status != InvoiceStatus::Draft {
        return Err(Error::Conflict(format!(
            "only a draft can be issued; this invoice is {}",
            invoice.status.as_str()
        )));
    }
    let zone = tenant_zone(db, tenant_id).await?;
    if !invoice.period.has_ended(now, &zone) {
        return Err(Error::Conflict(format!(
            "{} is not over yet in {}; an invoice is issued after its month ends",
            invoice.period,
            zone.iana_name().unwrap_or("the tenant's time zone")
        )));
    }
    let (fresh, _) = draft(db, tenant_id, invoice.period).await?;
    store::issue(db, tenant_id, &fresh.id, now).await
}

/// Records a bank transfer against an issued invoice.
pub async fn pay(
    db: &Db,
    tenant_id: &str,
    id: &str,
    payment: NewPayment,
    now: Timestamp,
) -> Result<(Invoice, Payment)> {
    let invoice = store::get_invoice(db, tenant_id, id).await?;
    if invoice.status != InvoiceStatus::Issued || invoice.kind != billing::DocumentKind::Invoice {
        return Err(Error::Conflict(format!(
            "payments are recorded on issued invoices; this document is {}",
            invoice.status.as_str()
        )));
    }
    let outstanding = invoice.amounts.total_minor - invoice.paid_minor;
    let payment = payment.validate(outstanding).map_err(Error::Validation)?;
    let recorded = store::record_payment(db, tenant_id, &invoice, &payment, now).await?;
    Ok((store::get_invoice(db, tenant_id, id).await?, recorded))
}

/// Voids an issued, unpaid invoice with a credit note for its full amount; the month can then be
/// drafted again. Returns the voided invoice and the credit note.
pub async fn void(
    db: &Db,
    tenant_id: &str,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<(Invoice, Invoice)> {
    let mut errors = Errors::new();
    let reason = crate::domain::validation::required_text(&mut errors, "reason", reason, 500);
    let reason = errors
        .finish(|| reason.unwrap_or_default())
        .map_err(Error::Validation)?;
    let invoice = store::get_invoice(db, tenant_id, id).await?;
    if invoice.kind != billing::DocumentKind::Invoice || invoice.status != InvoiceStatus::Issued {
        return Err(Error::Conflict(format!(
            "only an issued invoice can be voided; this document is {}",
            invoice.status.as_str()
        )));
    }
    let credit = billing::negated(&invoice.amounts);
    let note = store::void(db, tenant_id, &invoice, &credit, &reason, now).await?;
    Ok((store::get_invoice(db, tenant_id, id).await?, note))
}

/// Sets a tenant's plan, tax and issuer. A plan in another currency is accepted only before the
/// tenant's first billed PQR, together with the prices in that currency.
pub async fn set_terms(
    db: &Db,
    tenant_id: &str,
    terms: AccountTerms,
    prices: Option<billing::ChannelPrices>,
    now: Timestamp,
) -> Result<Account> {
    let mut errors = Vec::new();
    let terms = terms.validate().map_err(|e| errors.extend(e)).ok();
    if let Some(prices) = prices {
        let list = NewPriceList {
            effective_from: Some(now),
            prices,
        };
        if let Err(e) = list.validate(now) {
            errors.extend(e);
        }
    }
    let Some(terms) = terms.filter(|_| errors.is_empty()) else {
        return Err(Error::Validation(errors));
    };
    let current = store::account(db, tenant_id).await?;
    let plan = store::get_plan(db, &terms.plan_id)
        .await?
        .ok_or_else(|| Error::validation("plan_id", "no such plan; see GET /v1/operator/plans"))?;
    if plan.currency != current.currency {
        if store::has_events(db, tenant_id).await? {
            return Err(Error::Conflict(format!(
                "this tenant is already billed in {}; its currency cannot change",
                current.currency.as_str()
            )));
        }
        if prices.is_none() {
            return Err(Error::validation(
                "prices",
                format!(
                    "required when the currency changes (to {})",
                    plan.currency.as_str()
                ),
            ));
        }
    }
    store::set_terms(db, tenant_id, &terms, plan.currency, prices.as_ref(), now).await?;
    store::account(db, tenant_id).await
}

/// Adds a negotiated price list in the account's currency.
pub async fn add_price_list(
    db: &Db,
    tenant_id: &str,
    list: NewPriceList,
    now: Timestamp,
) -> Result<Vec<store::PriceList>> {
    let from = list.validate(now).map_err(Error::Validation)?;
    let account = store::account(db, tenant_id).await?;
    store::add_price_list(db, tenant_id, from, &list.prices, account.currency).await?;
    store::price_lists(db, tenant_id).await
}
