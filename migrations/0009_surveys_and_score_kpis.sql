-- Satisfaction surveys (one answer per PQR, once it is resolved) and the KPIs they and the
-- models' scores feed: CSAT in the hourly rollup, risk and churn distributions in the daily one.

CREATE TABLE incident_surveys (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    incident_id  TEXT NOT NULL REFERENCES incidents(id),
    -- 1 (very dissatisfied) to 5 (very satisfied).
    score        BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      TEXT,
    answered_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, incident_id)
);

-- What the rollups read of a PQR's scores, kept beside the JSON the scoring job writes.
ALTER TABLE incident_insights ADD COLUMN risk_label TEXT;
ALTER TABLE incident_insights ADD COLUMN churn_range TEXT;

-- Answers per score, counted by the hour the PQR was registered in.
ALTER TABLE kpi_hourly ADD COLUMN survey_1 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_hourly ADD COLUMN survey_2 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_hourly ADD COLUMN survey_3 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_hourly ADD COLUMN survey_4 BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_hourly ADD COLUMN survey_5 BIGINT NOT NULL DEFAULT 0;

-- The rollups gain counts and attributes: every tenant's are rebuilt at the next start.
DELETE FROM kpi_rollup_builds;
