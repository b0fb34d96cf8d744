-- The durable job queue: long work (imports, training, transcription, scoring) runs in workers
-- inside the service. A worker claims a job by taking a lease and renews it while it works; a job
-- whose lease ran out (its worker died) is claimed again and resumed, up to `max_attempts`.

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id),
    kind              TEXT NOT NULL,
    -- queued | running | succeeded | failed | cancelled
    state             TEXT NOT NULL,
    -- JSON input, written once at enqueue time and never changed.
    payload           TEXT NOT NULL,
    -- JSON the job keeps between attempts (e.g. how far an import got), so a resumed job goes on.
    checkpoint        TEXT,
    progress_done     BIGINT NOT NULL DEFAULT 0,
    progress_total    BIGINT,
    message           TEXT,
    result            TEXT,
    error             TEXT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    max_attempts      BIGINT NOT NULL,
    cancel_requested  BIGINT NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_until       BIGINT,
    run_after         BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, run_after);
CREATE INDEX jobs_tenant ON jobs (tenant_id, id);
