-- Portable schema: runs unchanged on SQLite and PostgreSQL.
-- Times are UTC milliseconds since the Unix epoch; JSON documents are TEXT; ids are UUIDv7 TEXT.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    -- sha256 of the whole secret key; the key itself is never stored.
    key_hash    TEXT NOT NULL UNIQUE,
    -- first characters of the key, shown in listings so people can tell keys apart.
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE customers (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    external_id          TEXT NOT NULL,
    name                 TEXT NOT NULL,
    document_id          TEXT,
    email                TEXT,
    phone                TEXT,
    customer_type        TEXT NOT NULL,
    segment              TEXT,
    importance_tier      TEXT NOT NULL,
    importance_score     DOUBLE PRECISION NOT NULL,
    contact_preferences  TEXT NOT NULL,
    region               TEXT,
    department           TEXT,
    province             TEXT,
    district             TEXT,
    attributes           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (tenant_id, external_id),
    -- lets incidents reference a customer *of the same tenant* (see incidents' foreign key).
    UNIQUE (tenant_id, id)
);
CREATE INDEX customers_tenant_phone ON customers (tenant_id, phone);
CREATE INDEX customers_tenant_document ON customers (tenant_id, document_id);

CREATE TABLE incidents (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id),
    channel                TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    subject                TEXT NOT NULL,
    description            TEXT NOT NULL,
    customer_id            TEXT,
    product                TEXT,
    region                 TEXT,
    department             TEXT,
    province               TEXT,
    district               TEXT,
    impact                 TEXT NOT NULL,
    urgency                TEXT NOT NULL,
    priority               TEXT NOT NULL,
    state                  TEXT NOT NULL,
    escalation_level       BIGINT NOT NULL,
    assignee               TEXT,
    rejected_by            TEXT,
    rejection_reason       TEXT,
    resolution             TEXT,
    external_ref           TEXT,
    first_response_due_at  BIGINT NOT NULL,
    resolution_due_at      BIGINT NOT NULL,
    first_response_at      BIGINT,
    resolved_at            BIGINT,
    closed_at              BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    -- optimistic concurrency: bumped by every change.
    version                BIGINT NOT NULL,
    -- the database itself refuses a PQR that names another tenant's customer.
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX incidents_tenant_id ON incidents (tenant_id, id);
CREATE INDEX incidents_tenant_state ON incidents (tenant_id, state, id);
CREATE INDEX incidents_tenant_customer ON incidents (tenant_id, customer_id, id);
CREATE INDEX incidents_tenant_created ON incidents (tenant_id, created_at);

-- Append-only timeline: rows are only ever inserted.
CREATE TABLE incident_events (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    incident_id  TEXT NOT NULL REFERENCES incidents(id),
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    actor_key_id TEXT,
    actor_name   TEXT NOT NULL,
    actor_role   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT,
    data         TEXT NOT NULL,
    UNIQUE (incident_id, seq)
);
CREATE INDEX incident_events_tenant_at ON incident_events (tenant_id, at);

-- Idempotency-Key of a POST: a retry with the same key returns the first result.
CREATE TABLE idempotency_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    key           TEXT NOT NULL,
    scope         TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
