-- Stored files (call recordings, PQR attachments) per tenant. The bytes live once in the blob
-- store under their sha256; this table says which tenant holds them and until when they must be
-- kept. Several tenants may hold the same bytes, each with its own row.
CREATE TABLE blobs (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    sha256           TEXT NOT NULL,
    size             BIGINT NOT NULL,
    media_type       TEXT NOT NULL,
    -- the file name of the first upload, if the client sent one
    original_name    TEXT,
    created_at       BIGINT NOT NULL,
    -- kept at least until then (tenant setting recordings.retention_years, default 10 years)
    retention_until  BIGINT NOT NULL,
    -- 1 while a legal hold forbids deletion whatever the retention
    legal_hold       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, sha256)
);
CREATE INDEX blobs_sha256 ON blobs (sha256);

-- Recorded calls. The audio is the blob `blob_sha256`; decoding facts and quality metrics are
-- measured at upload. `transcription` is `pending` until the speech-to-text job fills it in.
CREATE TABLE calls (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    direction        TEXT NOT NULL,
    customer_id      TEXT,
    agent            TEXT,
    incident_id      TEXT,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT NOT NULL,
    blob_sha256      TEXT NOT NULL,
    size             BIGINT NOT NULL,
    media_type       TEXT NOT NULL,
    format           TEXT NOT NULL,
    codec            TEXT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    sample_rate      BIGINT NOT NULL,
    channels         BIGINT NOT NULL,
    -- JSON CallQuality (metrics and flags)
    quality          TEXT NOT NULL,
    poor_audio       BIGINT NOT NULL,
    long_hold        BIGINT NOT NULL,
    dead_air         BIGINT NOT NULL,
    transcription    TEXT NOT NULL DEFAULT 'pending',
    created_at       BIGINT NOT NULL
);
CREATE INDEX calls_tenant ON calls (tenant_id, id);
CREATE INDEX calls_started ON calls (tenant_id, started_at);

-- Files attached to a PQR.
CREATE TABLE attachments (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    incident_id      TEXT NOT NULL,
    blob_sha256      TEXT NOT NULL,
    name             TEXT,
    media_type       TEXT NOT NULL,
    size             BIGINT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX attachments_incident ON attachments (tenant_id, incident_id, id);
