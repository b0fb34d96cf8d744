-- Full-text search over what customers wrote and said: PQR texts, call transcripts (and emails,
-- with the email channel). One row per searchable thing. `folded` is the title and body in
-- lower case with accents removed (by the service; `translate` below for older rows), indexed
-- as words without stemming, as SQLite's FTS5 does, so both stores find the same things.
CREATE TABLE search_docs (
    id            BIGSERIAL PRIMARY KEY,
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
    folded        TEXT NOT NULL,
    words         tsvector GENERATED ALWAYS AS (to_tsvector('simple', folded)) STORED,
    UNIQUE (tenant_id, kind, ref_id)
);
CREATE INDEX search_docs_at ON search_docs (tenant_id, at);
CREATE INDEX search_docs_words ON search_docs USING GIN (words);

-- PQRs and transcripts stored before search existed.
INSERT INTO search_docs (tenant_id, kind, ref_id, incident_id, customer_id, agent, at, title,
                         body, folded)
SELECT tenant_id, 'incident', id, id, customer_id, NULL, created_at, subject, description,
       translate(lower(subject || ' ' || description), 'áàâäãéèêëíìîïóòôöõúùûüñç',
                 'aaaaaeeeeiiiiooooouuuunc')
FROM incidents;
INSERT INTO search_docs (tenant_id, kind, ref_id, incident_id, customer_id, agent, at, title,
                         body, folded)
SELECT tenant_id, 'call', id, incident_id, customer_id, agent, started_at,
       CASE direction WHEN 'inbound' THEN 'Llamada entrante' ELSE 'Llamada saliente' END,
       transcript,
       translate(lower(CASE direction WHEN 'inbound' THEN 'Llamada entrante'
                                      ELSE 'Llamada saliente' END || ' ' || transcript),
                 'áàâäãéèêëíìîïóòôöõúùûüñç', 'aaaaaeeeeiiiiooooouuuunc')
FROM calls WHERE transcription = 'done' AND transcript IS NOT NULL;
