-- Full-text search over what customers wrote and said: PQR texts, call transcripts (and emails,
-- with the email channel). One row per searchable thing. FTS5 indexes the title and body with
-- accents folded ("facturacion" finds "facturación") and the tenant as a token of its own
-- column, so a search reads only the tenant's postings.
CREATE TABLE search_docs (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    -- incident, call or email
    kind          TEXT NOT NULL,
    -- the PQR's or call's id
    ref_id        TEXT NOT NULL,
    incident_id   TEXT,
    customer_id   TEXT,
    -- the call's agent (a PQR's agent is its current assignee, read from incidents)
    agent         TEXT,
    at            BIGINT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    -- 't' and the tenant id without hyphens: one FTS5 token
    tenant_token  TEXT NOT NULL,
    UNIQUE (tenant_id, kind, ref_id)
);
CREATE INDEX search_docs_at ON search_docs (tenant_id, at);

CREATE VIRTUAL TABLE search_fts USING fts5(
    tenant_token, title, body,
    content = 'search_docs', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts (rowid, tenant_token, title, body)
    VALUES (new.id, new.tenant_token, new.title, new.body);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, tenant_token, title, body)
    VALUES ('delete', old.id, old.tenant_token, old.title, old.body);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, tenant_token, title, body)
    VALUES ('delete', old.id, old.tenant_token, old.title, old.body);
    INSERT INTO search_fts (rowid, tenant_token, title, body)
    VALUES (new.id, new.tenant_token, new.title, new.body);
END;

-- PQRs and transcripts stored before search existed.
INSERT INTO search_docs (tenant_id, kind, ref_id, incident_id, customer_id, agent, at, title,
                         body, tenant_token)
SELECT tenant_id, 'incident', id, id, customer_id, NULL, created_at, subject, description,
       't' || replace(tenant_id, '-', '')
FROM incidents;
INSERT INTO search_docs (tenant_id, kind, ref_id, incident_id, customer_id, agent, at, title,
                         body, tenant_token)
SELECT tenant_id, 'call', id, incident_id, customer_id, agent, started_at,
       CASE direction WHEN 'inbound' THEN 'Llamada entrante' ELSE 'Llamada saliente' END,
       transcript, 't' || replace(tenant_id, '-', '')
FROM calls WHERE transcription = 'done' AND transcript IS NOT NULL;
