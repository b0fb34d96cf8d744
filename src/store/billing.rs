//! Billing rows: plans, each tenant's account and price lists, one billing event per registered
//! PQR, invoices with their gapless numbering, payments, and the back office's keys.
//!
//! Rules (what may change when) live in `domain::billing` and the `billing` service; this module
//! only reads and writes, always scoped by tenant.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Sql, from_millis, is_unique_violation, to_millis};
use crate::domain::billing::{
    AccountTerms, ChannelPrices, DocumentKind, InvoiceAmounts, InvoiceLine, InvoiceStatus, Period,
    Plan, Usage,
};
use crate::domain::incident::Channel;
use crate::domain::money::Currency;
use crate::domain::new_id;
use crate::error::{Error, Result};

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

fn stored<T>(value: &str, what: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(value).ok_or_else(|| Error::Internal(format!("unknown {what} {value:?} stored")))
}

// ---------------------------------------------------------------------------------------------
// Back-office keys

/// A back-office key's metadata; the secret is shown once, at creation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperatorKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: Timestamp,
}

/// Creates a back-office key (`abo_…`) and returns it with its secret.
pub async fn create_operator_key(db: &Db, name: &str) -> Result<(OperatorKey, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(Error::validation("name", "must be 1 to 120 characters"));
    }
    let secret = super::tenants::generate_secret("abo_")?;
    let key = OperatorKey {
        id: new_id(),
        name: name.to_owned(),
        prefix: secret[..12].to_owned(),
        created_at: Timestamp::now(),
    };
    sqlx::query(
        "INSERT INTO operator_keys (id, name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(super::tenants::hash_key(&secret))
    .bind(&key.prefix)
    .bind(to_millis(key.created_at))
    .execute(&db.writer)
    .await?;
    Ok((key, secret))
}

/// Resolves a presented secret to a live back-office key.
pub async fn authenticate_operator(db: &Db, secret: &str) -> Result<Option<OperatorKey>> {
    let row = sqlx::query(
        "SELECT id, name, prefix, created_at FROM operator_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(super::tenants::hash_key(secret))
    .fetch_optional(&db.reader)
    .await?;
    row.map(|row| {
        Ok(OperatorKey {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            prefix: row.try_get("prefix")?,
            created_at: from_millis(row.try_get("created_at")?),
        })
    })
    .transpose()
}

// ---------------------------------------------------------------------------------------------
// Plans

fn plan_from_row(row: &AnyRow) -> Result<Plan> {
    let currency: String = row.try_get("currency")?;
    Ok(Plan {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        currency: stored(&currency, "currency", Currency::parse)?,
        monthly_fee_minor: row.try_get("monthly_fee_minor")?,
    })
}

pub async fn list_plans(db: &Db) -> Result<Vec<Plan>> {
    sqlx::query("SELECT id, name, currency, monthly_fee_minor FROM plans ORDER BY id")
        .fetch_all(&db.reader)
        .await?
        .iter()
        .map(plan_from_row)
        .collect()
}

pub async fn get_plan(db: &Db, id: &str) -> Result<Option<Plan>> {
    let row = sqlx::query("SELECT id, name, currency, monthly_fee_minor FROM plans WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.reader)
        .await?;
    row.as_ref().map(plan_from_row).transpose()
}

/// Adds a plan; an existing id is a conflict (a plan's fee is shared, so it is never edited
/// behind its clients' backs: create a new plan and move them).
pub async fn create_plan(db: &Db, plan: &Plan) -> Result<Plan> {
    let inserted = sqlx::query(
        "INSERT INTO plans (id, name, currency, monthly_fee_minor, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&plan.id)
    .bind(&plan.name)
    .bind(plan.currency.as_str())
    .bind(plan.monthly_fee_minor)
    .bind(to_millis(Timestamp::now()))
    .execute(&db.writer)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(Error::Conflict(format!(
            "a plan with id {:?} already exists",
            plan.id
        ))),
        other => other.map(|_| plan.clone()).map_err(Error::from),
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts and price lists

/// A tenant's billing account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub plan: Plan,
    pub currency: Currency,
    pub tax_name: String,
    pub tax_rate_bp: i64,
    pub issuer: String,
    pub updated_at: Timestamp,
}

/// The standard plan and the default price list, from `now` on: every tenant can be billed from
/// its first PQR.
pub async fn open_account(tx: &mut Tx<'_>, tenant_id: &str, now: Timestamp) -> Result<()> {
    sqlx::query(
        "INSERT INTO billing_accounts (tenant_id, plan_id, currency, tax_name, tax_rate_bp, issuer, \
         updated_at) VALUES ($1, 'estandar-pen', 'PEN', 'IGV', 1800, 'ABCALL-PE', $2)",
    )
    .bind(tenant_id)
    .bind(to_millis(now))
    .execute(&mut **tx)
    .await?;
    insert_prices(
        tx,
        tenant_id,
        now,
        &ChannelPrices::default(),
        Currency::PEN,
        now,
    )
    .await
}

pub async fn account(db: &Db, tenant_id: &str) -> Result<Account> {
    let row = sqlx::query(
        "SELECT a.currency AS account_currency, a.tax_name, a.tax_rate_bp, a.issuer, a.updated_at, \
         p.id, p.name, p.currency, p.monthly_fee_minor \
         FROM billing_accounts a JOIN plans p ON p.id = a.plan_id WHERE a.tenant_id = $1",
    )
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("billing account"))?;
    let currency: String = row.try_get("account_currency")?;
    Ok(Account {
        plan: plan_from_row(&row)?,
        currency: stored(&currency, "currency", Currency::parse)?,
        tax_name: row.try_get("tax_name")?,
        tax_rate_bp: row.try_get("tax_rate_bp")?,
        issuer: row.try_get("issuer")?,
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

/// Whether any PQR of the tenant has been billed.
pub async fn has_events(db: &Db, tenant_id: &str) -> Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM billing_events WHERE tenant_id = $1 LIMIT 1")
            .bind(tenant_id)
            .fetch_optional(&db.reader)
            .await?;
    Ok(found.is_some())
}

/// Sets the account's terms; with `prices`, also a price list from `now` in the plan's currency.
/// A change of currency drops the earlier (unused) price lists.
pub async fn set_terms(
    db: &Db,
    tenant_id: &str,
    terms: &AccountTerms,
    currency: Currency,
    prices: Option<&ChannelPrices>,
    now: Timestamp,
) -> Result<()> {
    let mut tx = db.writer.begin().await?;
    let previous: Option<String> =
        sqlx::query_scalar("SELECT currency FROM billing_accounts WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
    let previous = previous.ok_or(Error::NotFound("billing account"))?;
    sqlx::query(
        "UPDATE billing_accounts SET plan_id = $1, currency = $2, tax_name = $3, tax_rate_bp = $4, \
         issuer = $5, updated_at = $6 WHERE tenant_id = $7",
    )
    .bind(&terms.plan_id)
    .bind(currency.as_str())
    .bind(&terms.tax_name)
    .bind(terms.tax_rate_bp)
    .bind(&terms.issuer)
    .bind(to_millis(now))
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?;
    if previous != currency.as_str() {
        sqlx::query("DELETE FROM channel_prices WHERE tenant_id = $1")
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(prices) = prices {
        insert_prices(&mut tx, tenant_id, now, prices, currency, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_prices(
    tx: &mut Tx<'_>,
    tenant_id: &str,
    from: Timestamp,
    prices: &ChannelPrices,
    currency: Currency,
    now: Timestamp,
) -> Result<()> {
    let mut sql = Sql::new(
        "INSERT INTO channel_prices (tenant_id, channel, effective_from, unit_price_minor, \
         currency, created_at) VALUES ",
    );
    for (i, (channel, price)) in prices.entries().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .bind(tenant_id.to_owned())
            .push(", ")
            .bind(channel.as_str())
            .push(", ")
            .bind(to_millis(from))
            .push(", ")
            .bind(price)
            .push(", ")
            .bind(currency.as_str())
            .push(", ")
            .bind(to_millis(now))
            .push(")");
    }
    // Entering the same start twice replaces that list (only possible for a future start).
    sql.push(
        " ON CONFLICT (tenant_id, channel, effective_from) DO UPDATE SET \
         unit_price_minor = excluded.unit_price_minor, currency = excluded.currency, \
         created_at = excluded.created_at",
    );
    sql.execute(&mut **tx).await?;
    Ok(())
}

/// Adds a price list starting at `from`.
pub async fn add_price_list(
    db: &Db,
    tenant_id: &str,
    from: Timestamp,
    prices: &ChannelPrices,
    currency: Currency,
) -> Result<()> {
    let mut tx = db.writer.begin().await?;
    insert_prices(&mut tx, tenant_id, from, prices, currency, Timestamp::now()).await?;
    tx.commit().await?;
    Ok(())
}

/// A price list as entered: prices per channel from an instant on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PriceList {
    pub effective_from: Timestamp,
    pub currency: Currency,
    pub prices: ChannelPrices,
}

/// Every price list of the tenant, oldest first.
pub async fn price_lists(db: &Db, tenant_id: &str) -> Result<Vec<PriceList>> {
    let rows = sqlx::query(
        "SELECT channel, effective_from, unit_price_minor, currency FROM channel_prices \
         WHERE tenant_id = $1 ORDER BY effective_from, channel",
    )
    .bind(tenant_id)
    .fetch_all(&db.reader)
    .await?;
    let mut lists: Vec<PriceList> = Vec::new();
    for row in rows {
        let from = from_millis(row.try_get("effective_from")?);
        let channel: String = row.try_get("channel")?;
        let currency: String = row.try_get("currency")?;
        let price: i64 = row.try_get("unit_price_minor")?;
        if lists.last().is_none_or(|l| l.effective_from != from) {
            lists.push(PriceList {
                effective_from: from,
                currency: stored(&currency, "currency", Currency::parse)?,
                prices: ChannelPrices::default(),
            });
        }
        let list = lists.last_mut().expect("pushed above");
        let slot = match stored(&channel, "channel", Channel::parse)? {
            Channel::Phone => &mut list.prices.phone,
            Channel::Email => &mut list.prices.email,
            Channel::Chat => &mut list.prices.chat,
            Channel::Chatbot => &mut list.prices.chatbot,
            Channel::App => &mut list.prices.app,
            Channel::Web => &mut list.prices.web,
        };
        *slot = price;
    }
    Ok(lists)
}

// ---------------------------------------------------------------------------------------------
// Billing events and usage

/// Bills a PQR in the transaction that registers it, at the price of its channel in force at
/// `at`. The primary key makes a second attempt for the same PQR a no-op.
pub async fn record_event(
    tx: &mut Tx<'_>,
    tenant_id: &str,
    incident_id: &str,
    channel: Channel,
    period: Period,
    at: Timestamp,
) -> Result<()> {
    let billed = sqlx::query(
        "INSERT INTO billing_events (tenant_id, incident_id, channel, period, unit_price_minor, \
         currency, occurred_at) \
         SELECT $1, $2, $3, $4, unit_price_minor, currency, $5 FROM channel_prices \
         WHERE tenant_id = $1 AND channel = $3 AND effective_from <= $5 \
         ORDER BY effective_from DESC LIMIT 1 \
         ON CONFLICT (tenant_id, incident_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(incident_id)
    .bind(channel.as_str())
    .bind(period.to_string())
    .bind(to_millis(at))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if billed == 0 {
        tracing::warn!(tenant_id, incident_id, "no price in force: PQR not billed");
    }
    Ok(())
}

/// The month's billed PQRs by channel and unit price, with their currency.
pub async fn usage(db: &Db, tenant_id: &str, period: Period) -> Result<Vec<(Usage, Currency)>> {
    let rows = sqlx::query(
        "SELECT channel, unit_price_minor, currency, COUNT(*) AS n FROM billing_events \
         WHERE tenant_id = $1 AND period = $2 GROUP BY channel, unit_price_minor, currency",
    )
    .bind(tenant_id)
    .bind(period.to_string())
    .fetch_all(&db.reader)
    .await?;
    rows.iter()
        .map(|row| {
            let channel: String = row.try_get("channel")?;
            let currency: String = row.try_get("currency")?;
            Ok((
                Usage {
                    channel: stored(&channel, "channel", Channel::parse)?,
                    unit_price_minor: row.try_get("unit_price_minor")?,
                    count: row.try_get("n")?,
                },
                stored(&currency, "currency", Currency::parse)?,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Invoices

/// An invoice or credit note as the tenant and the back office see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    pub id: String,
    pub kind: DocumentKind,
    pub period: Period,
    pub status: InvoiceStatus,
    /// The ABCall entity that issues it.
    pub issuer: String,
    /// Sequential per issuer and kind; null while a draft.
    pub number: Option<String>,
    pub currency: Currency,
    pub plan_id: String,
    pub plan_name: String,
    #[serde(flatten)]
    pub amounts: InvoiceAmounts,
    pub tax_name: String,
    pub tax_rate_bp: i64,
    pub paid_minor: i64,
    /// For a credit note: the invoice it cancels.
    pub credits_invoice_id: Option<String>,
    pub void_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub issued_at: Option<Timestamp>,
    pub paid_at: Option<Timestamp>,
    pub voided_at: Option<Timestamp>,
}

const INVOICE_COLUMNS: &str = "id, kind, period, status, issuer, number, currency, plan_id, \
    plan_name, plan_fee_minor, incidents, subtotal_minor, tax_name, tax_rate_bp, tax_minor, \
    total_minor, paid_minor, lines, credits_invoice_id, void_reason, created_at, updated_at, \
    issued_at, paid_at, voided_at";

fn invoice_from_row(row: &AnyRow) -> Result<Invoice> {
    let text = |column: &str| -> Result<String> { Ok(row.try_get::<String, _>(column)?) };
    let millis = |column: &str| -> Result<Option<Timestamp>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(from_millis))
    };
    let lines: Vec<InvoiceLine> = serde_json::from_str(&text("lines")?)
        .map_err(|e| Error::Internal(format!("unreadable stored invoice lines: {e}")))?;
    Ok(Invoice {
        id: text("id")?,
        kind: stored(&text("kind")?, "document kind", DocumentKind::parse)?,
        period: stored(&text("period")?, "period", Period::parse)?,
        status: stored(&text("status")?, "invoice status", InvoiceStatus::parse)?,
        issuer: text("issuer")?,
        number: row.try_get("number")?,
        currency: stored(&text("currency")?, "currency", Currency::parse)?,
        plan_id: text("plan_id")?,
        plan_name: text("plan_name")?,
        amounts: InvoiceAmounts {
            plan_fee_minor: row.try_get("plan_fee_minor")?,
            lines,
            incidents: row.try_get("incidents")?,
            subtotal_minor: row.try_get("subtotal_minor")?,
            tax_minor: row.try_get("tax_minor")?,
            total_minor: row.try_get("total_minor")?,
        },
        tax_name: text("tax_name")?,
        tax_rate_bp: row.try_get("tax_rate_bp")?,
        paid_minor: row.try_get("paid_minor")?,
        credits_invoice_id: row.try_get("credits_invoice_id")?,
        void_reason: row.try_get("void_reason")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        issued_at: millis("issued_at")?,
        paid_at: millis("paid_at")?,
        voided_at: millis("voided_at")?,
    })
}

pub async fn get_invoice(db: &Db, tenant_id: &str, id: &str) -> Result<Invoice> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1 AND tenant_id = $2"
    )))
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&db.reader)
    .await?
    .ok_or(Error::NotFound("invoice"))?;
    invoice_from_row(&row)
}

/// Which invoices to list.
#[derive(Debug, Default)]
pub struct InvoiceFilter {
    pub period: Option<Period>,
    pub status: Option<InvoiceStatus>,
    pub kind: Option<DocumentKind>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The tenant's invoices and credit notes, newest first.
pub async fn list_invoices(
    db: &Db,
    tenant_id: &str,
    filter: InvoiceFilter,
) -> Result<super::incidents::Page<Invoice>> {
    let (limit, cursor) = super::incidents::page_bounds(filter.limit, filter.cursor.as_deref())?;
    let mut sql = Sql::new(&format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant_id = "
    ));
    sql.bind(tenant_id.to_owned());
    if let Some(period) = filter.period {
        sql.push(" AND period = ").bind(period.to_string());
    }
    if let Some(status) = filter.status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    if let Some(kind) = filter.kind {
        sql.push(" AND kind = ").bind(kind.as_str());
    }
    if let Some(cursor) = cursor {
        sql.push(" AND id < ").bind(cursor);
    }
    sql.push(" ORDER BY id DESC LIMIT ")
        .bind(i64::from(limit) + 1);
    let rows = sql.fetch_all(&db.reader).await?;
    super::incidents::paginate(&rows, limit, invoice_from_row, |i| i.id.clone())
}

/// The live (not void) invoice of a month, if any.
pub async fn invoice_for_period(
    db: &Db,
    tenant_id: &str,
    period: Period,
) -> Result<Option<Invoice>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND period = $2 \
         AND kind = 'invoice' AND status <> 'void'"
    )))
    .bind(tenant_id)
    .bind(period.to_string())
    .fetch_optional(&db.writer)
    .await?;
    row.as_ref().map(invoice_from_row).transpose()
}

/// What a draft holds: the account's terms at drafting time and the computed amounts.
pub struct Draft<'a> {
    pub period: Period,
    pub account: &'a Account,
    pub amounts: &'a InvoiceAmounts,
}

fn lines_json(amounts: &InvoiceAmounts) -> Result<String> {
    serde_json::to_string(&amounts.lines)
        .map_err(|e| Error::Internal(format!("invoice lines do not serialise: {e}")))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds `$1`–`$13` of a draft: the account's terms, the amounts, and the update time.
fn bind_draft<'q>(query: AnyQuery<'q>, draft: &Draft<'_>, now: i64) -> Result<AnyQuery<'q>> {
    let (a, amounts) = (draft.account, draft.amounts);
    Ok(query
        .bind(a.issuer.clone())
        .bind(a.currency.as_str())
        .bind(a.plan.id.clone())
        .bind(a.plan.name.clone())
        .bind(amounts.plan_fee_minor)
        .bind(amounts.incidents)
        .bind(amounts.subtotal_minor)
        .bind(a.tax_name.clone())
        .bind(a.tax_rate_bp)
        .bind(amounts.tax_minor)
        .bind(amounts.total_minor)
        .bind(lines_json(amounts)?)
        .bind(now))
}

/// Creates the month's draft, or recomputes it in place; `Conflict` once it is issued. Says
/// whether this call created it.
pub async fn save_draft(db: &Db, tenant_id: &str, draft: Draft<'_>) -> Result<(Invoice, bool)> {
    let now = to_millis(Timestamp::now());
    let update = sqlx::query(
        "UPDATE invoices SET issuer = $1, currency = $2, plan_id = $3, plan_name = $4, \
         plan_fee_minor = $5, incidents = $6, subtotal_minor = $7, tax_name = $8, tax_rate_bp = $9, \
         tax_minor = $10, total_minor = $11, lines = $12, updated_at = $13 \
         WHERE tenant_id = $14 AND period = $15 AND kind = 'invoice' AND status = 'draft'",
    );
    let updated = bind_draft(update, &draft, now)?
        .bind(tenant_id.to_owned())
        .bind(draft.period.to_string())
        .execute(&db.writer)
        .await?
        .rows_affected();
    let mut created = false;
    if updated == 0 {
        let insert = sqlx::query(
            "INSERT INTO invoices (issuer, currency, plan_id, plan_name, plan_fee_minor, incidents, \
             subtotal_minor, tax_name, tax_rate_bp, tax_minor, total_minor, lines, updated_at, \
             created_at, id, tenant_id, period, kind, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, \
             'invoice', 'draft')",
        );
        let inserted = bind_draft(insert, &draft, now)?
            .bind(new_id())
            .bind(tenant_id.to_owned())
            .bind(draft.period.to_string())
            .execute(&db.writer)
            .await;
        match inserted {
            // Another request created the month's invoice meanwhile: a draft is as good as
            // ours (it was computed from the same events); anything else is a conflict.
            Err(e) if is_unique_violation(&e) => {
                let existing = invoice_for_period(db, tenant_id, draft.period).await?;
                if let Some(existing) = existing.filter(|i| i.status != InvoiceStatus::Draft) {
                    return Err(Error::Conflict(format!(
                        "the invoice of {} is already {}; void it to bill the month again",
                        draft.period,
                        existing.status.as_str()
                    )));
                }
            }
            other => {
                other?;
                created = true;
            }
        }
    }
    let invoice = invoice_for_period(db, tenant_id, draft.period)
        .await?
        .ok_or_else(|| Error::Internal("the saved draft vanished".into()))?;
    Ok((invoice, created))
}

/// The next number of the issuer's series for `kind`, inside the issuing transaction, so a
/// rolled-back issue leaves no gap.
async fn next_number(tx: &mut Tx<'_>, issuer: &str, kind: DocumentKind) -> Result<String> {
    let n: i64 = sqlx::query_scalar(
        "INSERT INTO invoice_sequences (issuer, kind, last_number) VALUES ($1, $2, 1) \
         ON CONFLICT (issuer, kind) DO UPDATE SET last_number = invoice_sequences.last_number + 1 \
         RETURNING last_number",
    )
    .bind(issuer)
    .bind(kind.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(kind.number(n))
}

/// Issues a draft: numbers it and freezes it. `Conflict` when it is not a draft any more.
pub async fn issue(db: &Db, tenant_id: &str, id: &str, now: Timestamp) -> Result<Invoice> {
    let invoice = get_invoice(db, tenant_id, id).await?;
    let mut tx = db.writer.begin().await?;
    let number = next_number(&mut tx, &invoice.issuer, invoice.kind).await?;
    let changed = sqlx::query(
        "UPDATE invoices SET status = 'issued', number = $1, issued_at = $2, updated_at = $2 \
         WHERE id = $3 AND tenant_id = $4 AND status = 'draft'",
    )
    .bind(&number)
    .bind(to_millis(now))
    .bind(id)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        tx.rollback().await?;
        return Err(Error::Conflict(format!(
            "only a draft can be issued; this invoice is {}",
            invoice.status.as_str()
        )));
    }
    tx.commit().await?;
    get_invoice(db, tenant_id, id).await
}

/// A payment as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub id: String,
    pub invoice_id: String,
    pub amount_minor: i64,
    pub reference: String,
    pub received_on: jiff::civil::Date,
    pub created_at: Timestamp,
}

/// Records a payment against an issued invoice; the invoice becomes paid when nothing is owed.
/// The caller has checked the amount against what was owed when it read the invoice; the
/// conditional update re-checks it, so two payments racing cannot overpay.
pub async fn record_payment(
    db: &Db,
    tenant_id: &str,
    invoice: &Invoice,
    payment: &crate::domain::billing::NewPayment,
    now: Timestamp,
) -> Result<Payment> {
    let record = Payment {
        id: new_id(),
        invoice_id: invoice.id.clone(),
        amount_minor: payment.amount_minor,
        reference: payment.reference.clone(),
        received_on: payment.received_on,
        created_at: now,
    };
    let mut tx = db.writer.begin().await?;
    let changed = sqlx::query(
        "UPDATE invoices SET paid_minor = paid_minor + $1, updated_at = $2, \
         status = CASE WHEN paid_minor + $1 = total_minor THEN 'paid' ELSE status END, \
         paid_at = CASE WHEN paid_minor + $1 = total_minor THEN $2 ELSE paid_at END \
         WHERE id = $3 AND tenant_id = $4 AND status = 'issued' AND paid_minor + $1 <= total_minor",
    )
    .bind(payment.amount_minor)
    .bind(to_millis(now))
    .bind(&invoice.id)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        tx.rollback().await?;
        return Err(Error::Conflict(
            "the invoice is not open for payment (not issued, already paid, or the amount exceeds \
             what is owed)"
                .into(),
        ));
    }
    let inserted = sqlx::query(
        "INSERT INTO payments (id, tenant_id, invoice_id, amount_minor, reference, received_on, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&record.id)
    .bind(tenant_id)
    .bind(&record.invoice_id)
    .bind(record.amount_minor)
    .bind(&record.reference)
    .bind(record.received_on.to_string())
    .bind(to_millis(now))
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        tx.rollback().await?;
        return Err(if is_unique_violation(&e) {
            Error::Conflict(format!(
                "a payment with reference {:?} is already recorded on this invoice",
                record.reference
            ))
        } else {
            e.into()
        });
    }
    tx.commit().await?;
    Ok(record)
}

/// Payments of an invoice, in the order they were recorded.
pub async fn payments(db: &Db, tenant_id: &str, invoice_id: &str) -> Result<Vec<Payment>> {
    let rows = sqlx::query(
        "SELECT id, invoice_id, amount_minor, reference, received_on, created_at FROM payments \
         WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY id",
    )
    .bind(tenant_id)
    .bind(invoice_id)
    .fetch_all(&db.reader)
    .await?;
    rows.iter()
        .map(|row| {
            let received: String = row.try_get("received_on")?;
            Ok(Payment {
                id: row.try_get("id")?,
                invoice_id: row.try_get("invoice_id")?,
                amount_minor: row.try_get("amount_minor")?,
                reference: row.try_get("reference")?,
                received_on: received
                    .parse()
                    .map_err(|e| Error::Internal(format!("stored date {received:?}: {e}")))?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        })
        .collect()
}

/// Voids an issued, unpaid invoice and issues the credit note that cancels it, in one
/// transaction. Returns the credit note.
pub async fn void(
    db: &Db,
    tenant_id: &str,
    invoice: &Invoice,
    credit: &InvoiceAmounts,
    reason: &str,
    now: Timestamp,
) -> Result<Invoice> {
    let at = to_millis(now);
    let mut tx = db.writer.begin().await?;
    let changed = sqlx::query(
        "UPDATE invoices SET status = 'void', void_reason = $1, voided_at = $2, updated_at = $2 \
         WHERE id = $3 AND tenant_id = $4 AND status = 'issued' AND paid_minor = 0",
    )
    .bind(reason)
    .bind(at)
    .bind(&invoice.id)
    .bind(tenant_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        tx.rollback().await?;
        return Err(Error::Conflict(
            "only an issued invoice without payments can be voided".into(),
        ));
    }
    let number = next_number(&mut tx, &invoice.issuer, DocumentKind::CreditNote).await?;
    let id = new_id();
    sqlx::query(
        "INSERT INTO invoices (id, tenant_id, kind, period, status, issuer, number, currency, \
         plan_id, plan_name, plan_fee_minor, incidents, subtotal_minor, tax_name, tax_rate_bp, \
         tax_minor, total_minor, lines, credits_invoice_id, void_reason, created_at, updated_at, \
         issued_at) \
         VALUES ($1, $2, 'credit_note', $3, 'issued', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $19, $19)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(invoice.period.to_string())
    .bind(&invoice.issuer)
    .bind(number)
    .bind(invoice.currency.as_str())
    .bind(&invoice.plan_id)
    .bind(&invoice.plan_name)
    .bind(credit.plan_fee_minor)
    .bind(credit.incidents)
    .bind(credit.subtotal_minor)
    .bind(&invoice.tax_name)
    .bind(invoice.tax_rate_bp)
    .bind(credit.tax_minor)
    .bind(credit.total_minor)
    .bind(lines_json(credit)?)
    .bind(&invoice.id)
    .bind(reason)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get_invoice(db, tenant_id, &id).await
}
