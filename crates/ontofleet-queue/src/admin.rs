//! Raw-SQL operations on `apalis.jobs` that apalis-postgres 1.0 does not offer: the operator's
//! list/show/requeue/kill/purge, and the wake-up after a requeue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{QUEUE, QueueError};

/// Kill the not-yet-running jobs of a run (cancel, lock takeover). Running jobs finish; their
/// commit then finds the run cancelled. Returns how many rows were killed.
pub async fn kill_jobs_of_run(conn: &mut PgConnection, run_id: Uuid) -> Result<u64, QueueError> {
    let done = sqlx::query(
        "UPDATE apalis.jobs j SET status = 'Killed', done_at = now(), lock_by = NULL, \
             last_result = '{\"Err\":\"killed: run cancelled\"}'::jsonb \
           FROM migration_run_items i \
          WHERE i.run_id = $1 AND j.id = i.job_id AND j.job_type = $2 \
            AND (j.status = 'Pending' OR (j.status = 'Failed' AND j.attempts < j.max_attempts))",
    )
    .bind(run_id)
    .bind(QUEUE)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A project job as operators see it: its ledger item joined with its queue row. The queue
/// columns are `None` once `jobs purge` deleted the row; the item keeps the history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobView {
    /// Queue job id (ULID).
    pub job_id: String,
    /// Run of the item.
    pub run_id: Uuid,
    /// Legacy project.
    pub project_id: Uuid,
    /// `Pending`, `Queued`, `Running`, `Done`, `Failed`, `Killed`; `None` = purged.
    pub job_status: Option<String>,
    /// Executions as counted by the queue since the last requeue.
    pub queue_attempts: Option<i32>,
    /// The queue's cap.
    pub max_attempts: Option<i32>,
    /// Not fetched before this time (the persisted backoff).
    pub run_at: Option<DateTime<Utc>>,
    /// Worker holding the row.
    pub lock_by: Option<String>,
    /// When the queue row became terminal.
    pub done_at: Option<DateTime<Utc>>,
    /// apalis' `last_result` (`{"Ok": …}` or `{"Err": "…"}`).
    pub last_result: Option<Value>,
    /// Item status (`ontofleet_core::ItemStatus`).
    pub item_status: String,
    /// Executions of the item, all time.
    pub attempts: i32,
    /// Executions before the last operator retry.
    pub attempt_base: i32,
    /// Category of the item's last failure.
    pub error_category: Option<String>,
    /// Message of the item's last failure.
    pub last_error: Option<String>,
    /// Worker of the last execution.
    pub worker: Option<String>,
    /// Last change of the item.
    pub updated_at: DateTime<Utc>,
}

const JOB_VIEW_SELECT: &str = "SELECT i.job_id, i.run_id, i.project_id, j.status AS job_status, \
        j.attempts AS queue_attempts, j.max_attempts, j.run_at, j.lock_by, j.done_at, j.last_result, \
        i.status AS item_status, i.attempts, i.attempt_base, i.error_category, i.last_error, i.worker, i.updated_at \
   FROM migration_run_items i LEFT JOIN apalis.jobs j ON j.id = i.job_id AND j.job_type = $1 \
  WHERE i.job_id IS NOT NULL";

/// Which jobs `jobs list` shows.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this run.
    pub run_id: Option<Uuid>,
    /// Only items in this status.
    pub item_status: Option<String>,
    /// Only items whose last failure has this category.
    pub category: Option<String>,
    /// At most this many, most recently changed first.
    pub limit: i64,
    /// Keyset pagination: only items after this `(updated_at, project_id, run_id)` in the
    /// list's order (the previous page's last row).
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid, Uuid)>,
}

/// Jobs with their items, most recently changed first.
pub async fn list_jobs(
    conn: &mut PgConnection,
    filter: &JobFilter,
) -> Result<Vec<JobView>, QueueError> {
    let sql = format!(
        "{JOB_VIEW_SELECT} AND ($2::uuid IS NULL OR i.run_id = $2) AND ($3::text IS NULL OR i.status = $3) \
            AND ($4::text IS NULL OR i.error_category = $4) \
            AND ($6::timestamptz IS NULL OR i.updated_at < $6 \
                 OR (i.updated_at = $6 AND (i.project_id, i.run_id) > ($7, $8))) \
          ORDER BY i.updated_at DESC, i.project_id, i.run_id LIMIT $5"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(QUEUE)
        .bind(filter.run_id)
        .bind(filter.item_status.as_deref())
        .bind(filter.category.as_deref())
        .bind(filter.limit)
        .bind(filter.after.map(|a| a.0))
        .bind(filter.after.map(|a| a.1))
        .bind(filter.after.map(|a| a.2))
        .fetch_all(conn)
        .await?)
}

/// Jobs by id (unknown ids are absent from the result).
pub async fn jobs_by_id(
    conn: &mut PgConnection,
    job_ids: &[String],
) -> Result<Vec<JobView>, QueueError> {
    select_by_id(conn, job_ids, "").await
}

/// Jobs by id, locking their items (`FOR UPDATE OF i`, in project order so that two operators
/// cannot deadlock) so that no worker changes them until the caller commits. Unknown ids are
/// absent from the result.
pub async fn jobs_by_id_for_update(
    conn: &mut PgConnection,
    job_ids: &[String],
) -> Result<Vec<JobView>, QueueError> {
    select_by_id(conn, job_ids, " FOR UPDATE OF i").await
}

async fn select_by_id(
    conn: &mut PgConnection,
    job_ids: &[String],
    locking: &str,
) -> Result<Vec<JobView>, QueueError> {
    let sql = format!(
        "{JOB_VIEW_SELECT} AND i.job_id = ANY($2) ORDER BY i.run_id, i.project_id{locking}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(QUEUE)
        .bind(job_ids)
        .fetch_all(conn)
        .await?)
}

/// The jobs of a run whose items are in one of `statuses` (and, if given, whose last failure has
/// `category`), with their items locked as in [`jobs_by_id_for_update`].
pub async fn jobs_of_run_for_update(
    conn: &mut PgConnection,
    run_id: Uuid,
    statuses: &[&str],
    category: Option<&str>,
) -> Result<Vec<JobView>, QueueError> {
    let sql = format!(
        "{JOB_VIEW_SELECT} AND i.run_id = $2 AND i.status = ANY($3) AND ($4::text IS NULL OR i.error_category = $4) \
          ORDER BY i.run_id, i.project_id FOR UPDATE OF i"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(QUEUE)
        .bind(run_id)
        .bind(statuses)
        .bind(category)
        .fetch_all(conn)
        .await?)
}

/// The decoded payload of a job, if its queue row still exists.
pub async fn job_payload(
    conn: &mut PgConnection,
    job_id: &str,
) -> Result<Option<Value>, QueueError> {
    let raw: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT job FROM apalis.jobs WHERE id = $1 AND job_type = $2")
            .bind(job_id)
            .bind(QUEUE)
            .fetch_optional(conn)
            .await?;
    Ok(raw.map(|bytes| {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }))
}

/// Put terminal or waiting jobs back to `Pending`, due now, with the queue's attempt counter
/// reset, and wake the pubsub workers (apalis notifies on INSERT only). Returns the ids that
/// were requeued; ids without a queue row (purged) are not among them.
pub async fn requeue(
    conn: &mut PgConnection,
    job_ids: &[String],
) -> Result<Vec<String>, QueueError> {
    let requeued: Vec<String> = sqlx::query_scalar(
        "UPDATE apalis.jobs SET status = 'Pending', run_at = now(), attempts = 0, lock_by = NULL, lock_at = NULL, \
                done_at = NULL, last_result = NULL \
          WHERE id = ANY($1) AND job_type = $2 RETURNING id",
    )
    .bind(job_ids)
    .bind(QUEUE)
    .fetch_all(&mut *conn)
    .await?;
    wake_workers(conn, &requeued).await?;
    Ok(requeued)
}

/// Notifications sent per wake-up: each wakes every listening worker, so a few distinct ones
/// are enough (identical payloads in one transaction are folded into one by PostgreSQL).
const MAX_WAKE_NOTIFICATIONS: usize = 32;

/// Wake pubsub workers for jobs made due by an UPDATE; delivered when the caller commits.
pub async fn wake_workers(conn: &mut PgConnection, job_ids: &[String]) -> Result<(), QueueError> {
    if job_ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = job_ids
        .iter()
        .take(MAX_WAKE_NOTIFICATIONS)
        .map(String::as_str)
        .collect();
    sqlx::query(
        "SELECT pg_notify('apalis::job::insert', json_build_object('job_type', $2::text, 'id', id, 'run_at', now())::text) \
           FROM unnest($1::text[]) AS id",
    )
    .bind(&ids)
    .bind(QUEUE)
    .execute(conn)
    .await?;
    Ok(())
}

/// Give back the jobs of a run that workers claimed but did not start (`run pause --now`):
/// `Pending` again, their attempt uncounted. A job whose item is running is left alone (it
/// finishes); a worker that later takes a given-back job from its buffer finds it no longer held
/// and leaves it. Returns how many.
pub async fn give_back_unstarted(conn: &mut PgConnection, run_id: Uuid) -> Result<u64, QueueError> {
    Ok(sqlx::query(
        "UPDATE apalis.jobs j SET status = 'Pending', lock_by = NULL, lock_at = NULL, attempts = greatest(j.attempts - 1, 0) \
          WHERE j.run_id = $1 AND j.status = 'Running' \
            AND EXISTS (SELECT 1 FROM migration_run_items i WHERE i.job_id = j.id AND i.run_id = $1 \
                          AND i.status IN ('queued', 'retrying'))",
    )
    .bind(run_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Wake waiting workers for a run that may be claimed again (resumed, its limits loosened): one
/// insert notification of this queue, sent at commit.
pub async fn wake_run(conn: &mut PgConnection, run_id: Uuid) -> Result<(), QueueError> {
    sqlx::query(
        "SELECT pg_notify('apalis::job::insert', json_build_object('job_type', $1::text, 'run_id', $2::text, 'run_at', now())::text)",
    )
    .bind(QUEUE)
    .bind(run_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Kill jobs that are not finished (`Pending`, `Failed` awaiting a retry, or claimed by a worker
/// that has not started them): they are never fetched again. A claimed job's worker loses its
/// lock on the row, so its later acknowledgement changes nothing. Returns how many were killed.
pub async fn kill_jobs(conn: &mut PgConnection, job_ids: &[String]) -> Result<u64, QueueError> {
    let done = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), lock_by = NULL, \
                last_result = '{\"Err\":\"killed by operator\"}'::jsonb \
          WHERE id = ANY($1) AND job_type = $2 AND status NOT IN ('Done', 'Killed')",
    )
    .bind(job_ids)
    .bind(QUEUE)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// What `jobs purge` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Terminal queue rows deleted.
    pub jobs: u64,
    /// Worker registrations deleted (not seen within the horizon, holding no job).
    pub workers: u64,
}

/// Delete queue rows that finished more than `older_than` ago (`Done`, `Killed`, or `Failed` with
/// no attempt left), and the registrations of workers gone as long that hold no job. The ledger
/// (items, attempts, log) is untouched: it is the history.
pub async fn purge(conn: &mut PgConnection, older_than: Duration) -> Result<Purged, QueueError> {
    let jobs = sqlx::query(
        "DELETE FROM apalis.jobs \
          WHERE job_type = $1 AND done_at < now() - make_interval(secs => $2) \
            AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
    )
    .bind(QUEUE)
    .bind(older_than.as_secs_f64())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let workers = sqlx::query(
        "DELETE FROM apalis.workers w \
          WHERE w.worker_type = $1 AND w.last_seen < now() - make_interval(secs => $2) \
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id AND j.status IN ('Queued', 'Running'))",
    )
    .bind(QUEUE)
    .bind(older_than.as_secs_f64())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Purged { jobs, workers })
}

/// Whether a worker of this process (name `prefix`-`host`-`pid`-…) is registered and beating:
/// the worker part of `/readyz`.
pub async fn process_registered(pool: &sqlx::PgPool, prefix: &str) -> Result<bool, QueueError> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let pattern = format!(
        "{}-{}-{}-%",
        like_escape(prefix),
        like_escape(&host),
        std::process::id()
    );
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM apalis.workers WHERE id LIKE $1 AND worker_type = $2 \
                         AND last_seen > now() - interval '60 seconds')",
    )
    .bind(pattern)
    .bind(QUEUE)
    .fetch_one(pool)
    .await?)
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Seconds since the job the queue would hand out next became due (the oldest ready job when
/// priorities are equal), `None` when nothing is ready: one probe of the fetch index.
pub async fn next_ready_age(pool: &sqlx::PgPool) -> Result<Option<f64>, QueueError> {
    Ok(sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - run_at)::float8 FROM apalis.jobs \
          WHERE job_type = $1 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
            AND run_at <= now() \
          ORDER BY priority DESC, run_at, id LIMIT 1",
    )
    .bind(QUEUE)
    .fetch_optional(pool)
    .await?)
}
