-- Ledger tables (ours): runs, their items and attempts, the per-entity log, the legacy→onto
-- mappings with checksums, and the platform lock with a fencing token.

CREATE TABLE migration_runs (
    id                uuid PRIMARY KEY,
    scope             text NOT NULL CHECK (scope IN ('platform', 'user', 'projects')),
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'cancelling',
        'completed', 'completed_with_errors', 'cancelled')),
    dry_run           boolean NOT NULL DEFAULT false,
    options           jsonb NOT NULL DEFAULT '{}',
    reference_time    timestamptz NOT NULL,
    initiated_by      text NOT NULL,
    lock_token        bigint,
    total_items       integer NOT NULL DEFAULT 0,
    succeeded_items   integer NOT NULL DEFAULT 0,
    partial_items     integer NOT NULL DEFAULT 0,
    failed_items      integer NOT NULL DEFAULT 0,
    skipped_items     integer NOT NULL DEFAULT 0,
    cancelled_items   integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    summary           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX migration_runs_created_at_idx ON migration_runs (created_at DESC);
-- At most one active platform run; the lock is the primary guard, this is the backstop.
CREATE UNIQUE INDEX migration_runs_one_active_platform ON migration_runs ((true))
    WHERE scope = 'platform' AND status IN ('pending', 'running', 'cancelling') AND NOT dry_run;

CREATE TABLE migration_run_items (
    run_id         uuid NOT NULL REFERENCES migration_runs (id) ON DELETE CASCADE,
    project_id     uuid NOT NULL,
    job_id         text,
    status         text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'retrying',
        'succeeded', 'partial', 'failed', 'skipped', 'cancelled')),
    attempts       integer NOT NULL DEFAULT 0,
    -- Whether the next attempt runs in fallback mode (set by a `data` failure).
    fallback_next  boolean NOT NULL DEFAULT false,
    error_category text CHECK (error_category IN ('recoverable', 'data', 'fatal')),
    last_error     text,
    counts         jsonb,
    preview        jsonb,
    worker         text,
    started_at     timestamptz,
    finished_at    timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, project_id)
);
CREATE INDEX migration_run_items_status_idx ON migration_run_items (run_id, status);
CREATE INDEX migration_run_items_project_idx ON migration_run_items (project_id);
CREATE INDEX migration_run_items_job_idx ON migration_run_items (job_id);

CREATE TABLE migration_attempts (
    id             bigserial PRIMARY KEY,
    run_id         uuid NOT NULL,
    project_id     uuid NOT NULL,
    job_id         text,
    attempt        integer NOT NULL,
    worker         text,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    outcome        text NOT NULL,
    error_category text CHECK (error_category IN ('recoverable', 'data', 'fatal')),
    error_message  text,
    fallback       boolean NOT NULL DEFAULT false,
    duration_ms    bigint
);
CREATE INDEX migration_attempts_item_idx ON migration_attempts (run_id, project_id, attempt);

CREATE TABLE migration_log (
    id             bigserial PRIMARY KEY,
    run_id         uuid NOT NULL,
    batch_id       text,
    org_id         uuid,
    entity_type    text NOT NULL,
    operation      text NOT NULL DEFAULT 'migrate'
        CHECK (operation IN ('migrate', 'resync', 'recreate', 'skip', 'rollback')),
    legacy_table   text,
    legacy_id      uuid,
    onto_table     text,
    onto_id        uuid,
    status         text NOT NULL DEFAULT 'pending',
    error_message  text,
    metadata       jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    user_id        uuid NOT NULL,
    error_category text CHECK (error_category IS NULL OR error_category IN ('recoverable', 'data', 'fatal')),
    retry_count    integer NOT NULL DEFAULT 0,
    last_retry_at  timestamptz,
    -- The original never set these; here a failed or skipped row without them cannot exist.
    CONSTRAINT chk_failure_explained CHECK (status NOT IN ('failed', 'skipped')
        OR (error_category IS NOT NULL AND error_message IS NOT NULL))
);
CREATE INDEX migration_log_run_idx ON migration_log (run_id);
CREATE INDEX migration_log_legacy_idx ON migration_log (legacy_table, legacy_id);
CREATE INDEX migration_log_onto_idx ON migration_log (onto_table, onto_id);
CREATE INDEX migration_log_user_idx ON migration_log (user_id);
CREATE INDEX migration_log_errors_idx ON migration_log (error_category, entity_type, status)
    WHERE status IN ('failed', 'skipped');

CREATE TABLE legacy_entity_mappings (
    id           bigserial PRIMARY KEY,
    legacy_table text NOT NULL,
    legacy_id    uuid NOT NULL,
    onto_table   text NOT NULL,
    onto_id      uuid NOT NULL,
    checksum     text NOT NULL,
    run_id       uuid NOT NULL,
    migrated_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    metadata     jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT legacy_entity_mappings_legacy_key UNIQUE (legacy_table, legacy_id),
    CONSTRAINT legacy_entity_mappings_onto_key UNIQUE (onto_table, onto_id)
);
CREATE INDEX legacy_entity_mappings_legacy_id_idx ON legacy_entity_mappings (legacy_id);
CREATE INDEX legacy_entity_mappings_run_idx ON legacy_entity_mappings (run_id);

CREATE TABLE migration_platform_lock (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    run_id      uuid,
    holder      text,
    -- Fencing token: +1 at every acquisition, never decreases.
    token       bigint NOT NULL DEFAULT 0,
    locked_at   timestamptz,
    renewed_at  timestamptz,
    expires_at  timestamptz,
    released_at timestamptz,
    released_by text
);
INSERT INTO migration_platform_lock (id) VALUES (1);
