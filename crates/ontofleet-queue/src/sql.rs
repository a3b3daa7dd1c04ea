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

/// Claim up to `limit` due jobs for `worker`, oldest due first, in one statement (no
/// transaction of its own): `Running`, locked by the worker, the attempt counted. Rows other
/// workers are claiming at the same moment are skipped, not waited for.
pub async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    limit: usize,
) -> Result<Vec<Claimed>, QueueError> {
    // The due rows are picked and locked in a sub-select through the partial fetch index, and
    // updated by primary key from that id list: no join, so even a generic plan chosen while
    // the queue was empty (or analysed empty) reaches only the rows it claims, and the
    // statement can stay prepared on the connection.
    Ok(sqlx::query_as(
        "WITH claimed AS ( \
           UPDATE apalis.jobs j SET status = 'Running', lock_by = $1, lock_at = now(), attempts = j.attempts + 1 \
            WHERE j.id = ANY(ARRAY( \
                    SELECT id FROM apalis.jobs \
                     WHERE job_type = $2 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
                       AND run_at <= now() \
                     ORDER BY priority DESC, run_at ASC, id ASC \
                     LIMIT $3 FOR UPDATE SKIP LOCKED)) \
           RETURNING j.id, j.job, j.attempts, j.priority, j.run_at) \
         SELECT id, job, attempts FROM claimed ORDER BY priority DESC, run_at ASC, id ASC",
    )
    .bind(worker)
    .bind(QUEUE)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(conn)
    .await?)
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

/// Give claimed jobs that never started back to the queue, their attempt not counted.
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
          WHERE id = ANY($1) AND lock_by = $2 AND status = 'Running'",
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
