-- What the tenant's models said about a PQR (risk, category, sentiment of its text; the churn
-- probability of its customer), written by the scoring job after registration.

CREATE TABLE incident_insights (
    tenant_id    TEXT NOT NULL,
    incident_id  TEXT NOT NULL,
    -- JSON: {"risk": Scored|null, "category": …, "sentiment": …, "churn": …}
    insights     TEXT NOT NULL,
    scored_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, incident_id)
);
