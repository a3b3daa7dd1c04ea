-- A cancelling platform run has lost (or given up) the platform lock: its running items can only
-- end as cancelled. It must not block the run that took the lock over, so the backstop index
-- covers pending and running platform runs only.
DROP INDEX migration_runs_one_active_platform;
CREATE UNIQUE INDEX migration_runs_one_active_platform ON migration_runs ((true))
    WHERE scope = 'platform' AND status IN ('pending', 'running') AND NOT dry_run;
