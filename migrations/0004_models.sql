-- Tenant training data and the models trained from it. Dataset and model files live under
-- ABCALL_DATA_DIR (written once, fsync'd, renamed into place); these rows say what they are.

CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    format      TEXT NOT NULL,
    -- sha256 of the stored (decompressed) file; a model records the one it was trained on.
    sha256      TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    rows        BIGINT NOT NULL,
    -- the inferred schema (JSON), as shown to the uploader.
    schema      TEXT NOT NULL,
    path        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX datasets_tenant ON datasets (tenant_id, id);

CREATE TABLE models (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id),
    -- what the model predicts: risk, category, sentiment, churn, or any target name.
    name            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    dataset_id      TEXT NOT NULL,
    dataset_sha256  TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    -- 1 for the one version of `name` the tenant's scoring uses.
    active          BIGINT NOT NULL DEFAULT 0,
    metrics         TEXT NOT NULL,
    path            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    activated_at    BIGINT,
    UNIQUE (tenant_id, name, version)
);
CREATE INDEX models_tenant ON models (tenant_id, name, version);
