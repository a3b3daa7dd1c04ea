//! Repositories of the run ledger: runs, their items, and per-execution attempts.
//! Functions take any executor so callers decide the transaction boundaries.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::DbError;

/// A row of `migration_runs`.
#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    /// Run id.
    pub id: Uuid,
    /// `platform`, `user` or `projects`.
    pub scope: String,
    /// See `ontofleet_core::RunStatus`.
    pub status: String,
    /// Preview only: no ontology, mapping or log writes.
    pub dry_run: bool,
    /// Run options (`include_archived`, `include_completed_tasks`, `resync`, selection).
    pub options: Value,
    /// "Now" of the run; all time-dependent mappings use it.
    pub reference_time: DateTime<Utc>,
    /// Who started it.
    pub initiated_by: String,
    /// Fencing token held by a platform run.
    pub lock_token: Option<i64>,
    /// Number of items.
    pub total_items: i32,
    /// Items that succeeded.
    pub succeeded_items: i32,
    /// Items that finished with entity errors.
    pub partial_items: i32,
    /// Items that failed.
    pub failed_items: i32,
    /// Items skipped as fatal.
    pub skipped_items: i32,
    /// Items cancelled.
    pub cancelled_items: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When jobs were enqueued.
    pub started_at: Option<DateTime<Utc>>,
    /// When the run became terminal.
    pub finished_at: Option<DateTime<Utc>>,
    /// Final summary.
    pub summary: Value,
    /// Who paused it (while `paused`).
    pub paused_by: Option<String>,
    /// Why.
    pub pause_reason: Option<String>,
    /// Since when.
    pub paused_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// Items in a terminal state.
    pub fn done_items(&self) -> i32 {
        self.succeeded_items
            + self.partial_items
            + self.failed_items
            + self.skipped_items
            + self.cancelled_items
    }
}

const RUN_COLUMNS: &str = "id, scope, status, dry_run, options, reference_time, initiated_by, lock_token, \
    total_items, succeeded_items, partial_items, failed_items, skipped_items, cancelled_items, created_at, \
    started_at, finished_at, summary, paused_by, pause_reason, paused_at";

/// Fetch one run.
pub async fn get_run(conn: &mut PgConnection, id: Uuid) -> Result<Option<RunRow>, DbError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM migration_runs WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Fetch one run from the pool.
pub async fn get_run_pool(pool: &PgPool, id: Uuid) -> Result<Option<RunRow>, DbError> {
    let mut conn = pool.acquire().await?;
    get_run(&mut conn, id).await
}

/// The newest runs first.
pub async fn list_runs(pool: &PgPool, limit: i64) -> Result<Vec<RunRow>, DbError> {
    let sql =
        format!("SELECT {RUN_COLUMNS} FROM migration_runs ORDER BY created_at DESC, id LIMIT $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// The newest runs first, created before `(created_at, id)` of the previous page's last run
/// (keyset pagination on the `(created_at, id)` order).
pub async fn list_runs_after(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<RunRow>, DbError> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM migration_runs \
          WHERE $1::timestamptz IS NULL OR created_at < $1 OR (created_at = $1 AND id > $2) \
          ORDER BY created_at DESC, id LIMIT $3"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

/// Parameters of a new run.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Run id (chosen by the producer).
    pub id: Uuid,
    /// Scope spelling.
    pub scope: &'a str,
    /// Dry run.
    pub dry_run: bool,
    /// Options as JSON.
    pub options: Value,
    /// Who started it.
    pub initiated_by: &'a str,
    /// The platform lock's fencing token, for a platform run (taken before the run row).
    pub lock_token: Option<i64>,
    /// The error budget: percent of failed or skipped items among the last N finished.
    pub error_budget: Option<(f64, i32)>,
}

/// Insert a `pending` run; `reference_time` is the database's `now()` so that every pod agrees.
pub async fn insert_run(conn: &mut PgConnection, run: &NewRun<'_>) -> Result<RunRow, DbError> {
    let sql = format!(
        "INSERT INTO migration_runs (id, scope, status, dry_run, options, reference_time, initiated_by, lock_token, \
                max_failure_rate, failure_window) \
         VALUES ($1, $2, 'pending', $3, $4, date_trunc('milliseconds', now()), $5, $6, $7, $8) RETURNING {RUN_COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(run.id)
        .bind(run.scope)
        .bind(run.dry_run)
        .bind(&run.options)
        .bind(run.initiated_by)
        .bind(run.lock_token)
        .bind(run.error_budget.map(|b| b.0))
        .bind(run.error_budget.map(|b| b.1))
        .fetch_one(conn)
        .await?)
}

/// Insert `queued` items in one statement.
pub async fn insert_items(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_ids: &[Uuid],
    job_ids: &[String],
) -> Result<u64, DbError> {
    let done = sqlx::query(
        "INSERT INTO migration_run_items (run_id, project_id, job_id, status) \
         SELECT $1, p, j, 'queued' FROM unnest($2::uuid[], $3::text[]) AS u(p, j)",
    )
    .bind(run_id)
    .bind(project_ids)
    .bind(job_ids)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A row of `migration_run_items`.
#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    /// Run id.
    pub run_id: Uuid,
    /// Legacy project id.
    pub project_id: Uuid,
    /// Queue job id.
    pub job_id: Option<String>,
    /// See `ontofleet_core::ItemStatus`.
    pub status: String,
    /// Executions started so far.
    pub attempts: i32,
    /// Whether the next attempt runs in fallback mode.
    pub fallback_next: bool,
    /// Category of the last failure.
    pub error_category: Option<String>,
    /// Message of the last failure.
    pub last_error: Option<String>,
    /// Entity counts by action.
    pub counts: Option<Value>,
    /// Dry-run preview.
    pub preview: Option<Value>,
    /// Worker of the last attempt.
    pub worker: Option<String>,
    /// First start.
    pub started_at: Option<DateTime<Utc>>,
    /// Became terminal.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The start of an execution, as [`begin_attempt`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct AttemptStart {
    /// Executions of the item so far, this one included: the number recorded in
    /// `migration_attempts`.
    pub attempt: i32,
    /// Executions since the last operator retry, this one included: what the retry policy counts.
    pub policy_attempt: i32,
    /// Whether this execution runs in fallback mode.
    pub fallback: bool,
}

/// What [`begin_attempt`] found: the run, and the attempt it started if there is one to make.
#[derive(Debug, Clone, FromRow)]
pub struct Begun {
    /// The run as it was when the attempt started.
    #[sqlx(flatten)]
    pub run: RunRow,
    /// The worker still held the job's queue row; if not, nothing was changed and the job is
    /// no longer this execution's.
    pub holds: bool,
    /// The run is paused (or the governor says no job starts): nothing was changed, and the job
    /// goes back to the queue unstarted.
    pub held: bool,
    #[sqlx(flatten)]
    attempt: MaybeAttempt,
}

#[derive(Debug, Clone, Copy, FromRow)]
struct MaybeAttempt {
    attempt: Option<i32>,
    policy_attempt: Option<i32>,
    fallback: Option<bool>,
}

impl Begun {
    /// The started attempt; `None` when the run is being cancelled or the item is already
    /// terminal (a duplicate delivery), and nothing was changed.
    pub fn attempt(&self) -> Option<AttemptStart> {
        let a = self.attempt;
        Some(AttemptStart {
            attempt: a.attempt?,
            policy_attempt: a.policy_attempt?,
            fallback: a.fallback?,
        })
    }
}

/// Start of an attempt, with the run read in the same statement (one round trip per job
/// instead of two): the item becomes `running` unless it is already terminal, the run is
/// cancelling, the run is paused or the governor says no job starts (`held`), or `worker` no
/// longer holds the job's queue row `job_id` (re-enqueued after missed heartbeats: the item is
/// then the next holder's to count). Returns `None` when the run does not exist.
pub async fn begin_attempt(
    pool: &PgPool,
    run_id: Uuid,
    project_id: Uuid,
    worker: &str,
    job_id: &str,
) -> Result<Option<Begun>, DbError> {
    // The holder check reads the queue row by primary key (apalis-postgres's `apalis.jobs`,
    // whose `lock_by` names the claiming worker; see ontofleet-queue). Holder and status are
    // compared in the select list, not the WHERE: there, `status = 'Running'` would let the
    // planner read the partial index of running jobs whole instead of the primary key.
    let sql = format!(
        "WITH r AS (SELECT {RUN_COLUMNS} FROM migration_runs WHERE id = $1), \
              h AS (SELECT coalesce((SELECT j.lock_by = $3 AND j.status = 'Running' FROM apalis.jobs j \
                                      WHERE j.id = $4), false) AS holds), \
              p AS (SELECT (SELECT r.status = 'paused' FROM r) \
                           OR EXISTS (SELECT 1 FROM migration_governor g WHERE g.id = 1 AND g.level = 'paused' \
                                        AND g.valid_until > now()) AS held), \
              a AS (UPDATE migration_run_items SET status = 'running', attempts = attempts + 1, worker = $3, \
                           started_at = coalesce(started_at, now()), updated_at = now() \
                     WHERE run_id = $1 AND project_id = $2 AND status IN ('queued', 'running', 'retrying') \
                       AND EXISTS (SELECT 1 FROM r WHERE r.status NOT IN ('cancelling', 'cancelled')) \
                       AND (SELECT holds FROM h) AND NOT (SELECT held FROM p) \
                 RETURNING attempts AS attempt, attempts - attempt_base AS policy_attempt, fallback_next AS fallback) \
         SELECT r.*, (SELECT holds FROM h) AS holds, (SELECT held FROM p) AS held, a.* FROM r LEFT JOIN a ON true"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .bind(project_id)
        .bind(worker)
        .bind(job_id)
        .fetch_optional(pool)
        .await?)
}

/// One execution of a job, for `migration_attempts`.
#[derive(Debug, Clone)]
pub struct AttemptRecord<'a> {
    /// Run id.
    pub run_id: Uuid,
    /// Legacy project id.
    pub project_id: Uuid,
    /// Queue job id.
    pub job_id: &'a str,
    /// 1-based attempt number.
    pub attempt: i32,
    /// Worker name.
    pub worker: &'a str,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// `succeeded`, `partial`, `retry`, `failed`, `skipped`, `cancelled`, `noop`.
    pub outcome: &'a str,
    /// Category of a failure.
    pub error_category: Option<&'a str>,
    /// Message of a failure.
    pub error_message: Option<&'a str>,
    /// Ran in fallback mode.
    pub fallback: bool,
    /// Duration in milliseconds.
    pub duration_ms: i64,
}

/// The insert of one execution, parameters `$1`–`$11` bound by [`bind_attempt`]; callers may run
/// it as a CTE of a larger statement (the item commit) to save a round trip.
pub const INSERT_ATTEMPT_SQL: &str = "INSERT INTO migration_attempts (run_id, project_id, job_id, attempt, worker, started_at, \
     finished_at, outcome, error_category, error_message, fallback, duration_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, $8, $9, $10, $11)";

/// Bind the parameters of [`INSERT_ATTEMPT_SQL`] (they must come first in the statement).
pub fn bind_attempt<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    a: &AttemptRecord<'q>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(a.run_id)
        .bind(a.project_id)
        .bind(a.job_id)
        .bind(a.attempt)
        .bind(a.worker)
        .bind(a.started_at)
        .bind(a.outcome)
        .bind(a.error_category)
        .bind(a.error_message)
        .bind(a.fallback)
        .bind(a.duration_ms)
}

/// Record one execution.
pub async fn insert_attempt(conn: &mut PgConnection, a: &AttemptRecord<'_>) -> Result<(), DbError> {
    // Through `query_as` (the id is returned and dropped) so that one binder serves this
    // statement and the item commit's.
    let sql = format!("{INSERT_ATTEMPT_SQL} RETURNING id");
    let _id: (i64,) = bind_attempt(sqlx::query_as(sqlx::AssertSqlSafe(sql)), a)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Item counts of a run grouped by status and error category.
pub async fn item_breakdown(
    pool: &PgPool,
    run_id: Uuid,
) -> Result<Vec<(String, Option<String>, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT status, error_category, count(*) FROM migration_run_items WHERE run_id = $1 \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?)
}

/// The most frequent item errors of a run: `(category, message, items)`.
pub async fn top_errors(
    pool: &PgPool,
    run_id: Uuid,
    limit: i64,
) -> Result<Vec<(Option<String>, String, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT error_category, last_error, count(*) FROM migration_run_items \
          WHERE run_id = $1 AND last_error IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT $2",
    )
    .bind(run_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Median and 95th percentile of a run's attempt durations (ms), over at most 10,000 of its
/// attempts (read through the attempts' run index: bounded whatever the run's size).
pub async fn attempt_percentiles(
    pool: &PgPool,
    run_id: Uuid,
) -> Result<(Option<f64>, Option<f64>), DbError> {
    Ok(sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) \
           FROM (SELECT duration_ms FROM migration_attempts \
                  WHERE run_id = $1 AND duration_ms IS NOT NULL LIMIT 10000) a",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?)
}

/// A run's failed, skipped and retrying items grouped by category and normalised message (ids and
/// numbers replaced by `#`): `(category, message, items, a sample job id)`, largest groups first.
pub async fn failure_groups(
    pool: &PgPool,
    run_id: Uuid,
    limit: i64,
) -> Result<Vec<(Option<String>, String, i64, Option<String>)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT error_category, msg, count(*), min(job_id) FROM ( \
            SELECT error_category, job_id, \
                   regexp_replace(regexp_replace(last_error, \
                     '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '#', 'g'), \
                     '[0-9]+', '#', 'g') AS msg \
              FROM migration_run_items \
             WHERE run_id = $1 AND status IN ('failed', 'skipped', 'retrying') AND last_error IS NOT NULL) f \
          GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT $2",
    )
    .bind(run_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Entity-level problems logged by a run: `(entity_type, status, category, rows)`.
pub async fn entity_problems(
    pool: &PgPool,
    run_id: Uuid,
) -> Result<Vec<(String, String, Option<String>, i64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT entity_type, status, error_category, count(*) FROM migration_log \
          WHERE run_id = $1 AND status IN ('failed', 'skipped') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?)
}

/// Entity counts of a run summed over its items: `{entity: {action: n}}`.
pub async fn entity_totals(pool: &PgPool, run_id: Uuid) -> Result<Value, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(jsonb_object_agg(entity, actions), '{}'::jsonb) FROM ( \
             SELECT entity, jsonb_object_agg(action, total) AS actions FROM ( \
                 SELECT e.key AS entity, a.key AS action, sum((a.value)::numeric) AS total \
                   FROM migration_run_items i \
                  CROSS JOIN LATERAL jsonb_each(i.counts) e \
                  CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.value) = 'object' THEN e.value \
                                                     ELSE '{}'::jsonb END) a \
                  WHERE i.run_id = $1 AND jsonb_typeof(i.counts) = 'object' AND jsonb_typeof(a.value) = 'number' \
                  GROUP BY 1, 2) s GROUP BY entity) t",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?)
}

/// One item of a run.
pub async fn get_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
) -> Result<Option<ItemRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT run_id, project_id, job_id, status, attempts, fallback_next, error_category, last_error, counts, \
                preview, worker, started_at, finished_at, updated_at \
           FROM migration_run_items WHERE run_id = $1 AND project_id = $2",
    )
    .bind(run_id)
    .bind(project_id)
    .fetch_optional(conn)
    .await?)
}

/// A row of `migration_attempts`.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    /// 1-based execution number of the item.
    pub attempt: i32,
    /// Queue job that carried it.
    pub job_id: Option<String>,
    /// Worker name.
    pub worker: Option<String>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// `succeeded`, `partial`, `retry`, `failed`, `skipped`, …
    pub outcome: String,
    /// Category of a failure.
    pub error_category: Option<String>,
    /// Message of a failure.
    pub error_message: Option<String>,
    /// Ran in fallback mode.
    pub fallback: bool,
    /// Duration in milliseconds.
    pub duration_ms: Option<i64>,
}

/// Every recorded execution of an item, in order.
pub async fn attempts_of(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
) -> Result<Vec<AttemptRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT attempt, job_id, worker, started_at, finished_at, outcome, error_category, error_message, fallback, \
                duration_ms FROM migration_attempts WHERE run_id = $1 AND project_id = $2 ORDER BY attempt, id",
    )
    .bind(run_id)
    .bind(project_id)
    .fetch_all(conn)
    .await?)
}
