-- Answers of a remote classifier (SPEC §5.1), shared by every worker: one row per legacy task and
-- classifier fingerprint (model, prompt version, template catalogue), with the checksum of the
-- task row it was made for. A changed task gets a new answer in place of the old one, so the
-- table holds at most one row per task and fingerprint. Read and written by primary key only.
CREATE TABLE classification_cache (
    task_id     uuid        NOT NULL,
    fingerprint text        NOT NULL,
    checksum    text        NOT NULL,
    result      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, fingerprint)
);
