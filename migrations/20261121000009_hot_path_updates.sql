-- Updates on the per-job hot path write fewer index entries.
--
-- Every item is updated twice (queued → running → terminal). With `status` in an index each
-- update was a non-HOT update writing a new entry into all four of the item's indexes; without it
-- no indexed column changes, and the free space left on each page (fillfactor 50) lets PostgreSQL
-- keep the new versions on the same page (HOT) and write no index entry. The per-run queries that
-- filtered by status (`run status`, `jobs list --status`, cancel) read the run's items through the
-- primary key (run_id, project_id) instead.
DROP INDEX migration_run_items_status_idx;
ALTER TABLE migration_run_items SET (fillfactor = 50);

-- Each job's queue row is updated three times (fetch, lock, ack), every update a non-HOT one that
-- writes into every index of `apalis.jobs`. Two of its six indexes duplicate others (apalis 1.0's
-- older migrations created them; notes/apalis-1.0.md §1): `unique_job_id` is the primary key's
-- twin and `lidx` is `idx_apalis_jobs_lock_by`'s. IF EXISTS: a later apalis migration may drop
-- them itself.
DROP INDEX IF EXISTS apalis.unique_job_id;
DROP INDEX IF EXISTS apalis.lidx;
