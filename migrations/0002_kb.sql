-- Knowledge base: articles are the source of truth; chunks are what gets embedded and indexed.
-- The vector index (qdrant-edge or a Qdrant server) can always be rebuilt from these rows.

CREATE TABLE kb_articles (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    external_id  TEXT,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    tags         TEXT NOT NULL,
    language     TEXT NOT NULL,
    product      TEXT,
    category     TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (tenant_id, external_id),
    UNIQUE (tenant_id, id)
);
CREATE INDEX kb_articles_tenant ON kb_articles (tenant_id, id);

CREATE TABLE kb_chunks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    text        TEXT NOT NULL,
    -- set once the chunk's vector is in the index; NULL means `abcall kb reindex` must add it.
    indexed_at  BIGINT,
    FOREIGN KEY (tenant_id, article_id) REFERENCES kb_articles (tenant_id, id),
    UNIQUE (article_id, seq)
);
CREATE INDEX kb_chunks_tenant ON kb_chunks (tenant_id, article_id);
