-- KPI rollups (see src/domain/rollup.rs): counts kept up to date in the same transaction as every
-- PQR registration and change, so KPIs and reports over millions of PQRs add up a few thousand
-- rows. Rows are split in shards so concurrent writers rarely wait on the same row.

-- Snapshots taken at registration, so a PQR stays in the rollup rows it was counted in.
ALTER TABLE incidents ADD COLUMN customer_type TEXT;
ALTER TABLE incidents ADD COLUMN local_day TEXT;

CREATE TABLE kpi_hourly (
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    -- UTC milliseconds since the epoch / 3,600,000.
    hour                 BIGINT NOT NULL,
    channel              TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    shard                BIGINT NOT NULL,
    n                    BIGINT NOT NULL,
    done                 BIGINT NOT NULL,
    rejected             BIGINT NOT NULL,
    reopened             BIGINT NOT NULL,
    first_contact        BIGINT NOT NULL,
    resolution_met       BIGINT NOT NULL,
    resolution_late      BIGINT NOT NULL,
    first_response_met   BIGINT NOT NULL,
    first_response_late  BIGINT NOT NULL,
    ttr_0                BIGINT NOT NULL,
    ttr_1                BIGINT NOT NULL,
    ttr_2                BIGINT NOT NULL,
    ttr_3                BIGINT NOT NULL,
    ttr_4                BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, channel, kind, shard)
);

CREATE TABLE kpi_daily (
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    -- The tenant's date at registration, YYYY-MM-DD.
    day                TEXT NOT NULL,
    channel            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    attribute          TEXT NOT NULL,
    value              TEXT NOT NULL,
    shard              BIGINT NOT NULL,
    n                  BIGINT NOT NULL,
    done               BIGINT NOT NULL,
    rejected           BIGINT NOT NULL,
    rejected_company   BIGINT NOT NULL,
    rejected_customer  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, attribute, day, channel, kind, value, shard)
);

-- Tenants whose rollups hold all their PQRs. Tenants that had PQRs before this migration are
-- missing here and get their rollups built from their PQRs at the next start.
CREATE TABLE kpi_rollup_builds (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants(id),
    built_at   BIGINT NOT NULL
);

-- Open PQRs only (few, compared with all), covering what the live counts read: backlog age and
-- open PQRs past their due times (state too, or SQLite reads the table to re-check it).
CREATE INDEX incidents_open ON incidents
    (tenant_id, created_at, channel, kind, resolution_due_at, first_response_due_at,
     first_response_at, state)
    WHERE state NOT IN ('resolved', 'closed', 'rejected');
