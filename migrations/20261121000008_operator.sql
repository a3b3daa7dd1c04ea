-- Operator retries (`ontofleet jobs retry`, `ontofleet enqueue --run`): `attempts` keeps counting
-- every execution of the item, so attempt numbers in `migration_attempts` stay unique, while the
-- retry policy counts only the executions since the last operator retry (`attempts - attempt_base`).
ALTER TABLE migration_run_items ADD COLUMN attempt_base integer NOT NULL DEFAULT 0;

-- `run rollback` finds what a run created under each project through the run's log rows by legacy
-- id; the run index gains the legacy id (one index either way on the hot insert path).
DROP INDEX migration_log_run_idx;
CREATE INDEX migration_log_run_legacy_idx ON migration_log (run_id, legacy_id);
