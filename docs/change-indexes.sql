-- The indexes catch-up passes select changed legacy rows with (SPEC §15; `ontofleet run start
-- --changed-since`, `sync status`, `cutover check`). `ontofleet db migrate` builds them itself when
-- its role owns the legacy tables; in the least-privilege setup (docs/roles.sql) the tables'
-- owner runs this file once, outside a transaction (psql -f; CONCURRENTLY does not block the
-- application's writes). Without them, catch-up passes still work but read whole tables.
-- Kept identical to ontofleet_db::change_index::CHANGE_INDEXES (a unit test compares them).
CREATE INDEX CONCURRENTLY IF NOT EXISTS ontofleet_projects_changed_idx ON public.projects ((greatest(created_at, updated_at)));
CREATE INDEX CONCURRENTLY IF NOT EXISTS ontofleet_phases_changed_idx ON public.phases ((greatest(created_at, updated_at)));
CREATE INDEX CONCURRENTLY IF NOT EXISTS ontofleet_tasks_changed_idx ON public.tasks ((greatest(created_at, updated_at, deleted_at)));
CREATE INDEX CONCURRENTLY IF NOT EXISTS ontofleet_phase_tasks_changed_idx ON public.phase_tasks ((created_at));
CREATE INDEX CONCURRENTLY IF NOT EXISTS ontofleet_task_calendar_events_changed_idx ON public.task_calendar_events ((greatest(created_at, updated_at)));
