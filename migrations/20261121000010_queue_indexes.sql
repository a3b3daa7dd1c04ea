-- ontofleet claims, completes and rescues jobs itself (ontofleet-queue's backend), and every
-- state change of a queue row is an update that cannot be HOT (`status` is in the fetch index's
-- predicate), so each writes a new entry into every index whose predicate the new version
-- satisfies. Two of apalis's indexes took an entry for every version of every row although only
-- a few rows are ever looked up through them:
--
-- * `idx_apalis_jobs_lock_by`: only claimed rows (`Queued`, `Running`) are looked up by their
--   holder (orphan rescue); done rows no longer keep an entry, so the index stays the size of the
--   work in flight instead of growing with every job ever run.
-- * `idx_jobs_idempotency_key`: ontofleet sets no idempotency key. Unique indexes treat NULLs as
--   distinct, so the partial index enforces exactly what the full one did.
--
-- Same names, so apalis's `CREATE INDEX IF NOT EXISTS` of them stays a no-op. On an apalis
-- upgrade, check that no new migration drops and recreates them (ARCHITECTURE.md).
DROP INDEX IF EXISTS apalis.idx_apalis_jobs_lock_by;
CREATE INDEX idx_apalis_jobs_lock_by ON apalis.jobs (lock_by) WHERE status IN ('Queued', 'Running');
DROP INDEX IF EXISTS apalis.idx_jobs_idempotency_key;
CREATE UNIQUE INDEX idx_jobs_idempotency_key ON apalis.jobs (job_type, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The fetch index gains `id` as its last key: rows enqueued together share (priority, run_at),
-- and with equal keys the index packs their entries into posting lists, which a claim can mark
-- dead only once every row of the list is gone — so each claim walked again over all the rows
-- claimed before it. With unique keys every claimed entry is marked dead by the scan that first
-- finds it dead, the claims read a bounded number of pages, and claiming in id order is FIFO
-- among jobs due at the same second.
DROP INDEX IF EXISTS apalis.idx_apalis_jobs_fetch_partial;
CREATE INDEX idx_apalis_jobs_fetch_partial ON apalis.jobs (job_type, priority DESC, run_at, id)
    WHERE status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts);

-- A claim sets `lock_by`, and its foreign key to `apalis.workers` ran a lookup and a row lock on
-- the worker's row for every job claimed — a fifth of a claim's time. Orphan rescue does not need
-- it: a job held by a worker that has no row, or a silent one, is re-enqueued all the same
-- (`ontofleet_queue::sql::rescue_orphans`), and `jobs purge` deletes only workers holding no job.
ALTER TABLE apalis.jobs DROP CONSTRAINT IF EXISTS fk_worker_lock_by;
