//! The statements of ontofleet's own fetch/complete/heartbeat cycle on apalis-postgres's schema
//! (`apalis.jobs`, `apalis.workers`), used in place of apalis-postgres's `Persisted` state
//! machine (see ARCHITECTURE.md, "The queue layer", for why and what to re-check on an apalis
//! upgrade). Every statement reaches its rows by primary key or by one of the partial indexes
//! of migration `…000010`, so its cost does not grow with the jobs the queue has finished.

use std::time::Duration;

use sqlx::PgConnection;

use crate::{JobOutcome, QUEUE, QueueError};

/// A job claimed by a worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// Job id (ULID text).
    pub id: String,
    /// The payload (JSON bytes).
    pub job: Vec<u8>,
    /// Executions counted by the queue, this one included.
    pub attempts: i32,
}

/// What one claim took: the jobs, and whether run controls were in force (a paused or limited
/// run, a governor verdict other than `ok`), in which case the claim went through
/// [`claim_controlled`] and the fetcher should not claim ahead of its free slots.
#[derive(Debug, Default)]
pub struct Batch {
    /// The claimed jobs, oldest due first.
    pub jobs: Vec<Claimed>,
    /// Controls were in force.
    pub controlled: bool,
}

/// A row of the claim statement: a claimed job, or the marker saying controls are in force.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Option<String>,
    job: Option<Vec<u8>>,
    attempts: Option<i32>,
    controlled: bool,
}

/// Claim up to `limit` due jobs for `worker`, oldest due first: `Running`, locked by the worker,
/// the attempt counted. Rows other workers are claiming at the same moment are skipped, not
/// waited for. While no run control is in force this is one autocommit statement; otherwise
/// that statement claims nothing and says so, and the claim goes through [`claim_controlled`].
pub async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    limit: usize,
) -> Result<Batch, QueueError> {
    // The due rows are picked and locked in a sub-select through the partial fetch index, and
    // updated by primary key from that id list: no join, so even a generic plan chosen while
    // the queue was empty (or analysed empty) reaches only the rows it claims, and the
    // statement can stay prepared on the connection. Whether controls are in force is one
    // init-plan (the active runs by index, the governor's row): the fast path costs that only.
    let rows: Vec<ClaimRow> = sqlx::query_as(
        "WITH ctl AS (SELECT migration_controls_in_force() AS on_), \
              claimed AS ( \
           UPDATE apalis.jobs j SET status = 'Running', lock_by = $1, lock_at = now(), attempts = j.attempts + 1 \
            WHERE j.id = ANY(ARRAY( \
                    SELECT id FROM apalis.jobs \
                     WHERE job_type = $2 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
                       AND run_at <= now() AND NOT (SELECT on_ FROM ctl) \
                     ORDER BY priority DESC, run_at ASC, id ASC \
                     LIMIT $3 FOR UPDATE SKIP LOCKED)) \
           RETURNING j.id, j.job, j.attempts, j.priority, j.run_at) \
         SELECT id, job, attempts, false AS controlled, priority, run_at FROM claimed \
         UNION ALL SELECT NULL, NULL, NULL, true, NULL, NULL FROM ctl WHERE on_ \
         ORDER BY controlled, priority DESC, run_at ASC, id ASC",
    )
    .bind(worker)
    .bind(QUEUE)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    if rows.iter().any(|r| r.controlled) {
        return Ok(Batch {
            jobs: claim_controlled(conn, worker, limit).await?,
            controlled: true,
        });
    }
    Ok(Batch {
        jobs: rows
            .into_iter()
            .filter_map(|r| {
                Some(Claimed {
                    id: r.id?,
                    job: r.job?,
                    attempts: r.attempts?,
                })
            })
            .collect(),
        controlled: false,
    })
}

/// The advisory lock that serialises claims while controls are in force (an arbitrary constant
/// of ontofleet's, apart from the projects' keys, which are hashes of project ids).
const CONTROLLED_CLAIM_LOCK: i64 = 0x6f6e_746f_636c_6169;

/// The claim under run controls, in a transaction that first takes [`CONTROLLED_CLAIM_LOCK`]:
/// the claim statement's snapshot is taken after the lock, so it sees every earlier controlled
/// claim and no two can both fill the same quota — the limits hold whatever the number of
/// worker processes. Per active run: a paused run (or a governor `paused` verdict) gets nothing;
/// a run capped in flight (its unexpired `max_inflight`, the governor's throttle cap, the lower
/// of the two) gets at most the cap minus its `Running` jobs; a rate-limited run at most
/// `max_rate` claims in the current second and `10 × max_rate` in the last 10 s
/// (`migration_run_starts`, one row per second), so no burst spends a window's allowance at once. Jobs of no run, and of runs without controls, are claimed as usual.
pub async fn claim_controlled(
    conn: &mut PgConnection,
    worker: &str,
    limit: usize,
) -> Result<Vec<Claimed>, QueueError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CONTROLLED_CLAIM_LOCK)
        .execute(&mut *tx)
        .await?;
    let claimed: Vec<Claimed> = sqlx::query_as(
        "WITH gov AS (SELECT level, cap FROM migration_governor WHERE id = 1 AND valid_until > now() AND level <> 'ok'), \
              runs AS ( \
           SELECT r.id, \
                  (r.status = 'paused' OR EXISTS (SELECT 1 FROM gov WHERE level = 'paused')) AS stopped, \
                  nullif(least(coalesce(CASE WHEN r.limit_until IS NULL OR r.limit_until > now() THEN r.max_inflight END, 2147483647), \
                               coalesce((SELECT cap FROM gov WHERE level = 'throttled'), 2147483647)), 2147483647) AS cap, \
                  CASE WHEN r.limit_until IS NULL OR r.limit_until > now() THEN r.max_rate END AS rate \
             FROM migration_runs r WHERE r.status IN ('pending', 'running', 'paused', 'cancelling')), \
              running AS ( \
           SELECT j.run_id, count(*) AS n FROM apalis.jobs j \
            WHERE j.status = 'Running' AND j.run_id = ANY(ARRAY(SELECT id FROM runs WHERE cap IS NOT NULL)) \
            GROUP BY j.run_id), \
              started AS ( \
           SELECT s.run_id, sum(s.n) AS n10, \
                  coalesce(sum(s.n) FILTER (WHERE s.second = extract(epoch FROM now())::bigint), 0) AS n1 \
             FROM migration_run_starts s \
            WHERE s.run_id = ANY(ARRAY(SELECT id FROM runs WHERE rate IS NOT NULL)) \
              AND s.second > extract(epoch FROM now())::bigint - 10 \
            GROUP BY s.run_id), \
              quota AS ( \
           SELECT r.id, r.rate, \
                  CASE WHEN r.stopped THEN 0 \
                       ELSE least(coalesce(r.cap - coalesce(u.n, 0), 2147483647), \
                                  coalesce(r.rate * 10 - coalesce(t.n10, 0), 2147483647), \
                                  coalesce(r.rate - coalesce(t.n1, 0), 2147483647)) END AS q \
             FROM runs r LEFT JOIN running u ON u.run_id = r.id LEFT JOIN started t ON t.run_id = r.id \
            WHERE r.stopped OR r.cap IS NOT NULL OR r.rate IS NOT NULL), \
              cand AS ( \
           SELECT j.id, j.run_id, j.priority, j.run_at FROM apalis.jobs j \
            WHERE j.job_type = $2 AND (j.status = 'Pending' OR (j.status = 'Failed' AND j.attempts < j.max_attempts)) \
              AND j.run_at <= now() \
              AND NOT coalesce(j.run_id = ANY(ARRAY(SELECT id FROM quota WHERE q <= 0)), false) \
            ORDER BY j.priority DESC, j.run_at ASC, j.id ASC \
            LIMIT $3 FOR UPDATE SKIP LOCKED), \
              picked AS ( \
           SELECT c.id FROM (SELECT c.*, row_number() OVER (PARTITION BY c.run_id ORDER BY c.priority DESC, c.run_at, c.id) AS k \
                               FROM cand c) c \
             LEFT JOIN quota q ON q.id = c.run_id \
            WHERE q.id IS NULL OR c.k <= q.q), \
              claimed AS ( \
           UPDATE apalis.jobs j SET status = 'Running', lock_by = $1, lock_at = now(), attempts = j.attempts + 1 \
            WHERE j.id = ANY(ARRAY(SELECT id FROM picked)) \
           RETURNING j.id, j.job, j.attempts, j.priority, j.run_at, j.run_id), \
              counted AS ( \
           INSERT INTO migration_run_starts (run_id, second, n) \
           SELECT c.run_id, extract(epoch FROM now())::bigint, count(*) FROM claimed c \
            WHERE c.run_id = ANY(ARRAY(SELECT id FROM quota WHERE rate IS NOT NULL)) GROUP BY c.run_id \
           ON CONFLICT (run_id, second) DO UPDATE SET n = migration_run_starts.n + EXCLUDED.n), \
              pruned AS ( \
           DELETE FROM migration_run_starts WHERE second < extract(epoch FROM now())::bigint - 60) \
         SELECT id, job, attempts FROM claimed ORDER BY priority DESC, run_at ASC, id ASC",
    )
    .bind(worker)
    .bind(QUEUE)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .persistent(false)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The queue row a [`JobOutcome`] leaves, as `[status, last_result, delay before the next
/// fetch in seconds]` (a retry's persisted backoff).
fn columns(outcome: &JobOutcome) -> serde_json::Value {
    match outcome {
        JobOutcome::Done => serde_json::json!(["Done", {"Ok": null}, 0.0]),
        JobOutcome::RetryAfter { delay, reason } => {
            serde_json::json!(["Failed", {"Err": reason}, delay.as_secs_f64()])
        }
        JobOutcome::Abort(reason) => serde_json::json!(["Killed", {"Err": reason}, 0.0]),
        // Acknowledged by `release`, never by the completion statement (kept total for safety:
        // a due `Failed` row is claimed again).
        JobOutcome::Release => serde_json::json!(["Failed", {"Err": "released"}, 0.0]),
    }
}

/// The completion statement: `$1` the ids, `$2` a JSON object from id to
/// `[status, last_result, delay]`, `$3` the worker. There is no join: each row finds its
/// outcome by key in `$2` (a binary search), so the cost is linear in the batch whatever plan
/// is chosen; a join against `unnest` of the outcomes was planned as a nested loop on a
/// never-analysed table (batch x batch comparisons: 0.2 s for 650 rows). The rows are reached
/// by primary key only. Holder and status are compared with `IS NOT DISTINCT FROM`, which
/// neither an index nor the partial lock index's predicate can use: through the lock index the
/// statement would read every row version its worker ever claimed (dead entries stay until
/// vacuum), 8 s for a batch of 650 in the same never-analysed case. A retry's delay counts from
/// the statement's own clock, not the transaction's start: a failure recorded in a transaction
/// that began earlier (a loaded server) must still wait the whole delay, e.g. a `Retry-After`.
pub const COMPLETE_SQL: &str = "UPDATE apalis.jobs j SET status = $2 -> j.id ->> 0, last_result = $2 -> j.id -> 1, \
        done_at = now(), lock_by = NULL, \
        run_at = CASE WHEN $2 -> j.id ->> 0 = 'Failed' THEN clock_timestamp() + make_interval(secs => ($2 -> j.id ->> 2)::float8) ELSE j.run_at END \
  WHERE j.id = ANY($1) AND j.lock_by IS NOT DISTINCT FROM $3 AND j.status IS NOT DISTINCT FROM 'Running'";

/// `$1` and `$2` of [`COMPLETE_SQL`]: the ids, and the object from id to its outcome's row.
pub(crate) fn complete_binds(done: &[(String, JobOutcome)]) -> (Vec<&str>, serde_json::Value) {
    let ids = done.iter().map(|(id, _)| id.as_str()).collect();
    let outcomes = done
        .iter()
        .map(|(id, outcome)| (id.clone(), columns(outcome)))
        .collect();
    (ids, serde_json::Value::Object(outcomes))
}

/// Record outcomes of jobs `worker` holds, in one statement by primary key. A row the worker no
/// longer holds (re-enqueued after missed heartbeats, killed by an operator) is left alone.
/// Returns how many rows changed.
pub async fn complete(
    conn: &mut PgConnection,
    worker: &str,
    done: &[(String, JobOutcome)],
) -> Result<u64, QueueError> {
    if done.is_empty() {
        return Ok(0);
    }
    let (ids, outcomes) = complete_binds(done);
    let changed = sqlx::query(COMPLETE_SQL)
        .bind(&ids)
        .bind(outcomes)
        .bind(worker)
        .execute(conn)
        .await?;
    Ok(changed.rows_affected())
}

/// Give claimed jobs that never started back to the queue, their attempt not counted. By
/// primary key only (holder and status compared as the completion does, so no partial index
/// is read whole).
pub async fn release(
    conn: &mut PgConnection,
    worker: &str,
    ids: &[String],
) -> Result<u64, QueueError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let released = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, attempts = greatest(attempts - 1, 0) \
          WHERE id = ANY($1) AND lock_by IS NOT DISTINCT FROM $2 AND status IS NOT DISTINCT FROM 'Running'",
    )
    .bind(ids)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(released.rows_affected())
}

/// Register a worker incarnation, or beat: the worker is alive. An upsert, so a worker whose
/// row was removed as dead (it stalled past its missed heartbeats) comes back.
pub async fn register(conn: &mut PgConnection, worker: &str) -> Result<(), QueueError> {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen, started_at) \
         VALUES ($1, $2, 'ontofleet', '', now(), now()) \
         ON CONFLICT (id) DO UPDATE SET last_seen = now()",
    )
    .bind(worker)
    .bind(QUEUE)
    .execute(conn)
    .await?;
    Ok(())
}

/// Put back the jobs held by workers silent for longer than `dead_after` (SIGKILLed, lost their
/// network): `Pending`, unlocked; then remove the rows of those workers that hold nothing any
/// more, so each dead worker's claims are looked at once, not at every beat of every live
/// worker. Rows being changed at this moment are skipped (the next beat sees them). Returns the
/// ids re-enqueued.
pub async fn rescue_orphans(
    conn: &mut PgConnection,
    dead_after: Duration,
) -> Result<Vec<String>, QueueError> {
    Ok(sqlx::query_scalar(
        "WITH dead AS (SELECT id FROM apalis.workers \
                        WHERE worker_type = $1 AND last_seen < now() - make_interval(secs => $2)), \
              stale AS (SELECT j.id, j.lock_by FROM apalis.jobs j \
                         WHERE j.lock_by IN (SELECT id FROM dead) AND j.status IN ('Queued', 'Running') \
                           FOR UPDATE OF j SKIP LOCKED), \
              moved AS (UPDATE apalis.jobs j SET status = 'Pending', lock_by = NULL, lock_at = NULL, \
                               last_result = jsonb_build_object('Err', 'worker ' || stale.lock_by || ' missed its heartbeats; job re-enqueued') \
                          FROM stale WHERE j.id = stale.id RETURNING j.id), \
              gone AS (DELETE FROM apalis.workers w WHERE w.id IN (SELECT id FROM dead) \
                          AND NOT EXISTS (SELECT 1 FROM apalis.jobs j \
                                           WHERE j.lock_by = w.id AND j.status IN ('Queued', 'Running') \
                                             AND j.id NOT IN (SELECT id FROM moved))) \
         SELECT id FROM moved",
    )
    // Planned at each beat (every few seconds, so planning costs nothing) for the queue's
    // current size: the dead-worker set and the rows they hold vary too much for one plan.
    .persistent(false)
    .bind(QUEUE)
    .bind(dead_after.as_secs_f64())
    .fetch_all(conn)
    .await?)
}

/// The channel apalis-postgres's insert trigger notifies (payload: JSON with `job_type`).
pub const INSERT_CHANNEL: &str = "apalis::job::insert";
