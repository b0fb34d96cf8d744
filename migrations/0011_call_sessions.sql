-- Calls in progress, as the telephony platform reports them (`POST /v1/calls/events`): what the
-- live feed shows as active inbound and outbound calls. One row per call, keyed by the
-- platform's own id; `ended_at` is set when the call ends.
CREATE TABLE call_sessions (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    call_ref     TEXT NOT NULL,
    direction    TEXT NOT NULL,
    agent        TEXT,
    customer_id  TEXT,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    PRIMARY KEY (tenant_id, call_ref)
);
CREATE INDEX call_sessions_active ON call_sessions (tenant_id, ended_at, started_at);
