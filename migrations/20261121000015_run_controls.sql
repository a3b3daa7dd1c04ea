-- Run controls and the database-health governor (SPEC §14): a run may be paused, limited (items in
-- flight across the fleet, projects started per second) and given an error budget; the governor's
-- verdict is one row that every claim reads.

-- `paused`: no job of the run starts; it is still active (holds the platform lock, not terminal).
ALTER TABLE migration_runs DROP CONSTRAINT migration_runs_status_check;
ALTER TABLE migration_runs ADD CONSTRAINT migration_runs_status_check CHECK (status IN ('pending', 'running',
    'paused', 'cancelling', 'completed', 'completed_with_errors', 'cancelled'));
-- A paused platform run keeps the platform: still one active platform run at most.
DROP INDEX migration_runs_one_active_platform;
CREATE UNIQUE INDEX migration_runs_one_active_platform ON migration_runs ((true))
    WHERE scope = 'platform' AND status IN ('pending', 'running', 'paused') AND NOT dry_run;
-- The active runs, for the claim's check of the controls in force (a handful of rows, by index).
CREATE INDEX migration_runs_active_idx ON migration_runs (id)
    WHERE status IN ('pending', 'running', 'paused', 'cancelling');

ALTER TABLE migration_runs
    -- Why the run is paused (status `paused`), by whom, since when; `pause_kind` is `operator` or
    -- `error_budget`.
    ADD COLUMN pause_kind       text CHECK (pause_kind IN ('operator', 'error_budget')),
    ADD COLUMN paused_by        text,
    ADD COLUMN pause_reason     text,
    ADD COLUMN paused_at        timestamptz,
    -- Fleet-wide limits, enforced at claim time until `limit_until` (NULL = until cleared).
    ADD COLUMN max_inflight     integer CHECK (max_inflight > 0),
    ADD COLUMN max_rate         integer CHECK (max_rate > 0),
    ADD COLUMN limit_until      timestamptz,
    ADD COLUMN limit_set_by     text,
    ADD COLUMN limit_set_at     timestamptz,
    -- The error budget: pause when more than `max_failure_rate` % of the last `failure_window`
    -- finished items failed or were skipped. `recent_outcomes` holds those items, one bit each
    -- (1 = failed or skipped), newest last; bumped by the item commit that already updates the row.
    ADD COLUMN max_failure_rate double precision CHECK (max_failure_rate > 0 AND max_failure_rate <= 100),
    ADD COLUMN failure_window   integer CHECK (failure_window > 0),
    ADD COLUMN recent_outcomes  bit varying NOT NULL DEFAULT B'';

-- Every pause of a run, for the time spent paused per reason (and an ETA that leaves it out).
CREATE TABLE migration_run_pauses (
    run_id      uuid        NOT NULL REFERENCES migration_runs (id) ON DELETE CASCADE,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    kind        text        NOT NULL CHECK (kind IN ('operator', 'error_budget')),
    paused_by   text        NOT NULL,
    reason      text        NOT NULL,
    PRIMARY KEY (run_id, started_at)
);

-- Projects started per second by rate-limited runs (claims under `max_rate`), for the sliding
-- 10 s window; rows older than a minute are pruned by the claims themselves.
CREATE TABLE migration_run_starts (
    run_id  uuid   NOT NULL,
    second  bigint NOT NULL,
    n       integer NOT NULL,
    PRIMARY KEY (run_id, second)
);

-- The governor: one row. `leader` holds the role until `leader_until` (a lease renewed at every
-- sample); the verdict (`level`, the in-flight `cap` of a throttle, its `reasons`) is obeyed by
-- claims until `valid_until`, so a verdict nobody renews lapses instead of holding the fleet.
CREATE TABLE migration_governor (
    id           integer     PRIMARY KEY CHECK (id = 1),
    leader       text,
    leader_until timestamptz,
    level        text        NOT NULL DEFAULT 'ok' CHECK (level IN ('ok', 'throttled', 'paused')),
    cap          integer,
    reasons      jsonb       NOT NULL DEFAULT '[]',
    signals      jsonb       NOT NULL DEFAULT '{}',
    since        timestamptz NOT NULL DEFAULT now(),
    sampled_at   timestamptz,
    valid_until  timestamptz
);
INSERT INTO migration_governor (id) VALUES (1);

-- Every period the governor was not `ok`, for the time each run spent throttled per reason.
CREATE TABLE migration_governor_log (
    started_at timestamptz NOT NULL PRIMARY KEY,
    ended_at   timestamptz,
    level      text        NOT NULL,
    reasons    jsonb       NOT NULL
);

-- Whether any control is in force now: a paused run, an unexpired limit, a governor verdict other
-- than `ok`. The worker's claim takes its unrestricted path only when none is.
CREATE FUNCTION migration_controls_in_force() RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM migration_runs r
                    WHERE r.status IN ('pending', 'running', 'paused', 'cancelling')
                      AND (r.status = 'paused'
                           OR ((r.max_inflight IS NOT NULL OR r.max_rate IS NOT NULL)
                               AND (r.limit_until IS NULL OR r.limit_until > now()))))
        OR EXISTS (SELECT 1 FROM migration_governor g
                    WHERE g.id = 1 AND g.level <> 'ok' AND g.valid_until > now());
$$;

-- The queue row's run (ontofleet's own column on apalis's table; set by ontofleet's enqueue), and
-- the running jobs of a run by index: a run's jobs in flight are counted at claim time.
ALTER TABLE apalis.jobs ADD COLUMN IF NOT EXISTS run_id uuid;
CREATE INDEX IF NOT EXISTS idx_ontofleet_jobs_running_run ON apalis.jobs (run_id) WHERE status = 'Running';
