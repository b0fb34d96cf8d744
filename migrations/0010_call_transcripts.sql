-- Speech-to-text of recorded calls. The call names its transcription job (whose state says
-- whether it is queued, running, failed or cancelled), keeps the progress in thousandths and,
-- once done (`transcription = 'done'`), the language and the whole text. Segments are written
-- window by window as the job goes, so a job stopped by a restart resumes after the last window
-- it saved.
ALTER TABLE calls ADD COLUMN transcription_progress BIGINT NOT NULL DEFAULT 0;
ALTER TABLE calls ADD COLUMN transcription_job_id TEXT;
ALTER TABLE calls ADD COLUMN language TEXT;
ALTER TABLE calls ADD COLUMN transcript TEXT;

CREATE TABLE call_segments (
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    call_id       TEXT NOT NULL REFERENCES calls(id),
    -- 0 for mono; 0 and 1 for the two sides of a stereo call
    channel       BIGINT NOT NULL,
    window_index  BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    start_ms      BIGINT NOT NULL,
    end_ms        BIGINT NOT NULL,
    text          TEXT NOT NULL,
    PRIMARY KEY (call_id, channel, window_index, seq)
);
CREATE INDEX call_segments_time ON call_segments (tenant_id, call_id, start_ms);
