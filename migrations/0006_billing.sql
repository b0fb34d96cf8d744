-- Billing: ABCall charges each tenant a fixed monthly plan fee plus a fee per registered PQR that
-- depends on the channel and the tenant's negotiated, effective-dated price list. Money is integer
-- minor units with an ISO currency, never floats.

-- Back-office keys (ABCall staff): manage plans, price lists and invoices of every tenant.
CREATE TABLE operator_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- The fixed fee is the same for every client on a plan.
CREATE TABLE plans (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    currency           TEXT NOT NULL,
    monthly_fee_minor  BIGINT NOT NULL,
    created_at         BIGINT NOT NULL
);
INSERT INTO plans (id, name, currency, monthly_fee_minor, created_at) VALUES
    ('estandar-pen', 'Plan Estándar (PEN)', 'PEN', 150000, 0),
    ('estandar-cop', 'Plan Estándar (COP)', 'COP', 160000000, 0),
    ('estandar-clp', 'Plan Estándar (CLP)', 'CLP', 380000, 0);

-- One per tenant: its plan, tax and the ABCall entity that issues its invoices.
CREATE TABLE billing_accounts (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants(id),
    plan_id      TEXT NOT NULL REFERENCES plans(id),
    currency     TEXT NOT NULL,
    tax_name     TEXT NOT NULL,
    -- basis points: 1800 = 18%
    tax_rate_bp  BIGINT NOT NULL,
    issuer       TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Negotiated fee per PQR by channel, from `effective_from` until the next entry of that channel.
CREATE TABLE channel_prices (
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    channel           TEXT NOT NULL,
    effective_from    BIGINT NOT NULL,
    unit_price_minor  BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, channel, effective_from)
);

-- Tenants that existed before billing: the standard plan and the default price list from their
-- creation on (the defaults every new tenant also gets).
INSERT INTO billing_accounts (tenant_id, plan_id, currency, tax_name, tax_rate_bp, issuer, updated_at)
    SELECT id, 'estandar-pen', 'PEN', 'IGV', 1800, 'ABCALL-PE', created_at FROM tenants;
INSERT INTO channel_prices (tenant_id, channel, effective_from, unit_price_minor, currency, created_at)
    SELECT t.id, p.channel, t.created_at, p.unit_price_minor, 'PEN', t.created_at
    FROM tenants t CROSS JOIN (
        SELECT 'phone' AS channel, 350 AS unit_price_minor
        UNION ALL SELECT 'email', 120
        UNION ALL SELECT 'chat', 150
        UNION ALL SELECT 'chatbot', 40
        UNION ALL SELECT 'app', 80
        UNION ALL SELECT 'web', 80
    ) p;

-- Exactly one per registered PQR (the primary key), priced when the PQR was registered.
CREATE TABLE billing_events (
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    incident_id       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    -- billing month in the tenant's time zone, 'YYYY-MM'
    period            TEXT NOT NULL,
    unit_price_minor  BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    occurred_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, incident_id)
);
-- Covers the invoice aggregation (count by channel and price within a month) without the table.
CREATE INDEX billing_events_period ON billing_events (tenant_id, period, channel, unit_price_minor, currency);

-- Invoices and credit notes. A draft is recomputed freely; once issued, the row and its lines
-- are frozen (only payments and voiding touch the status columns).
CREATE TABLE invoices (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    -- 'invoice' or 'credit_note'
    kind                TEXT NOT NULL,
    period              TEXT NOT NULL,
    -- draft, issued, paid, void
    status              TEXT NOT NULL,
    issuer              TEXT NOT NULL,
    number              TEXT,
    currency            TEXT NOT NULL,
    plan_id             TEXT NOT NULL,
    plan_name           TEXT NOT NULL,
    plan_fee_minor      BIGINT NOT NULL,
    incidents           BIGINT NOT NULL,
    subtotal_minor      BIGINT NOT NULL,
    tax_name            TEXT NOT NULL,
    tax_rate_bp         BIGINT NOT NULL,
    tax_minor           BIGINT NOT NULL,
    total_minor         BIGINT NOT NULL,
    paid_minor          BIGINT NOT NULL DEFAULT 0,
    -- JSON array of lines: one per channel and unit price
    lines               TEXT NOT NULL,
    -- for a credit note: the invoice it cancels; for a void invoice: the reason
    credits_invoice_id  TEXT,
    void_reason         TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    issued_at           BIGINT,
    paid_at             BIGINT,
    voided_at           BIGINT
);
CREATE INDEX invoices_tenant ON invoices (tenant_id, id);
-- One live invoice per tenant and month; a void one may be replaced.
CREATE UNIQUE INDEX invoices_one_per_period ON invoices (tenant_id, period)
    WHERE kind = 'invoice' AND status <> 'void';
CREATE UNIQUE INDEX invoices_number ON invoices (issuer, number);

-- Gapless numbering per issuer and document kind, advanced in the issuing transaction.
CREATE TABLE invoice_sequences (
    issuer       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (issuer, kind)
);

-- Bank transfers received against an issued invoice.
CREATE TABLE payments (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    invoice_id    TEXT NOT NULL REFERENCES invoices(id),
    amount_minor  BIGINT NOT NULL,
    reference     TEXT NOT NULL,
    received_on   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (invoice_id, reference)
);
