//! An invoice as a CSV sheet (for the client's accounting) and as a printable HTML page (in
//! Spanish, the language of the invoices ABCall issues).

use crate::domain::billing::{DocumentKind, InvoiceStatus};
use crate::error::{Error, Result};
use crate::store::billing::Invoice;

/// One row per line, then the plan fee, subtotal, tax and total; amounts in major units.
pub fn csv(invoice: &Invoice) -> Result<String> {
    let money = |minor: i64| invoice.currency.format(minor).replace(',', "");
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut row = |fields: [&str; 6]| {
        out.write_record(fields)
            .map_err(|e| Error::Internal(format!("writing CSV: {e}")))
    };
    row([
        "concept",
        "channel",
        "quantity",
        "unit_price",
        "amount",
        "currency",
    ])?;
    let currency = invoice.currency.as_str();
    row([
        &format!("Cargo fijo {}", invoice.plan_name),
        "",
        "1",
        &money(invoice.amounts.plan_fee_minor),
        &money(invoice.amounts.plan_fee_minor),
        currency,
    ])?;
    for line in &invoice.amounts.lines {
        row([
            &line.description,
            line.channel.as_str(),
            &line.quantity.to_string(),
            &money(line.unit_price_minor),
            &money(line.amount_minor),
            currency,
        ])?;
    }
    let subtotal = money(invoice.amounts.subtotal_minor);
    row(["Subtotal", "", "", "", &subtotal, currency])?;
    let tax_label = format!(
        "{} {}%",
        invoice.tax_name,
        rate_percent(invoice.tax_rate_bp)
    );
    row([
        &tax_label,
        "",
        "",
        "",
        &money(invoice.amounts.tax_minor),
        currency,
    ])?;
    row([
        "Total",
        "",
        "",
        "",
        &money(invoice.amounts.total_minor),
        currency,
    ])?;
    let bytes = out
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {e}")))
}

/// `1800` → `18`, `1050` → `10.5`.
fn rate_percent(bp: i64) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => whole.to_string(),
        frac if frac % 10 == 0 => format!("{whole}.{}", frac / 10),
        frac => format!("{whole}.{frac:02}"),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn status_label(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Draft => "BORRADOR — sin valor tributario",
        InvoiceStatus::Issued => "Emitida",
        InvoiceStatus::Paid => "Pagada",
        InvoiceStatus::Void => "ANULADA",
    }
}

/// A self-contained page (inline styles, no external resources) that prints on A4.
pub fn html(invoice: &Invoice, tenant_name: &str) -> String {
    let money = |minor: i64| {
        format!(
            "{} {}",
            invoice.currency.as_str(),
            invoice.currency.format(minor)
        )
    };
    let title = match invoice.kind {
        DocumentKind::Invoice => "Factura",
        DocumentKind::CreditNote => "Nota de crédito",
    };
    let number = invoice.number.as_deref().unwrap_or("(sin número)");
    let mut rows = format!(
        "<tr><td>Cargo fijo — {}</td><td class=n>1</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
        escape(&invoice.plan_name),
        money(invoice.amounts.plan_fee_minor),
        money(invoice.amounts.plan_fee_minor)
    );
    for line in &invoice.amounts.lines {
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>\n",
            escape(&line.description),
            line.quantity,
            money(line.unit_price_minor),
            money(line.amount_minor)
        ));
    }
    let credits = invoice
        .credits_invoice_id
        .as_deref()
        .map(|id| format!("<p>Anula la factura {}</p>", escape(id)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>{title} {number}</title>
<style>
body{{font-family:sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;width:100%}}
td,th{{border-bottom:1px solid #ccc;padding:.4em;text-align:left}} .n{{text-align:right}}
tfoot td{{font-weight:bold}} @page{{size:A4;margin:15mm}}
</style></head><body>
<h1>{title} {number}</h1>
<p><strong>Emisor:</strong> {issuer} · <strong>Cliente:</strong> {client} · <strong>Periodo:</strong> {period} · <strong>Estado:</strong> {status}</p>
{credits}
<table><thead><tr><th>Concepto</th><th class=n>Cantidad</th><th class=n>Precio unitario</th><th class=n>Importe</th></tr></thead>
<tbody>
{rows}</tbody>
<tfoot>
<tr><td colspan=3>Subtotal ({incidents} PQR)</td><td class=n>{subtotal}</td></tr>
<tr><td colspan=3>{tax_name} {rate}%</td><td class=n>{tax}</td></tr>
<tr><td colspan=3>Total</td><td class=n>{total}</td></tr>
</tfoot></table>
</body></html>
"#,
        issuer = escape(&invoice.issuer),
        client = escape(tenant_name),
        period = invoice.period,
        status = status_label(invoice.status),
        incidents = invoice.amounts.incidents,
        subtotal = money(invoice.amounts.subtotal_minor),
        tax_name = escape(&invoice.tax_name),
        rate = rate_percent(invoice.tax_rate_bp),
        tax = money(invoice.amounts.tax_minor),
        total = money(invoice.amounts.total_minor),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_print_without_trailing_zeros() {
        assert_eq!(rate_percent(1_800), "18");
        assert_eq!(rate_percent(1_950), "19.5");
        assert_eq!(rate_percent(1_905), "19.05");
        assert_eq!(rate_percent(0), "0");
    }

    #[test]
    fn html_escapes_what_clients_typed() {
        assert_eq!(
            escape("<b>A&B</b> \"x\""),
            "&lt;b&gt;A&amp;B&lt;/b&gt; &quot;x&quot;"
        );
    }
}
