-- Incremental runs, deletions and cut-over (SPEC §15).

-- A migrated legacy row that was deleted (or soft-deleted) has its ontology row removed; its
-- mapping stays, marked, so that the row is recreated if it comes back (undelete) and so that a
-- pass can tell "deleted by the source" from "never migrated".
ALTER TABLE legacy_entity_mappings ADD COLUMN deleted_at timestamptz;

ALTER TABLE migration_log DROP CONSTRAINT migration_log_operation_check;
ALTER TABLE migration_log ADD CONSTRAINT migration_log_operation_check
    CHECK (operation IN ('migrate', 'resync', 'recreate', 'skip', 'rollback', 'delete'));

-- The shape of each legacy project as its last pass saw it: how many task, phase, calendar-event
-- and phase-link rows it had. Deletions leave no timestamp behind; a project whose rows today no
-- longer add up to these counts lost some, and a catch-up pass must read it again. Written in the
-- project's transaction, from the load's snapshot, only when it changed.
CREATE TABLE migration_project_sync (
    project_id uuid PRIMARY KEY,
    tasks      integer NOT NULL,
    phases     integer NOT NULL,
    events     integer NOT NULL,
    links      integer NOT NULL,
    run_id     uuid NOT NULL,
    synced_at  timestamptz NOT NULL DEFAULT now()
);

-- The last completed pass over every project: the watermark of `sync status`, `run start
-- --changed-since last` and `cutover check` (a handful of rows, by index).
CREATE INDEX migration_runs_completed_idx ON migration_runs (scope, started_at DESC)
    WHERE status IN ('completed', 'completed_with_errors') AND NOT dry_run;
