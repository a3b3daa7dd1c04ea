//! Committing an item's outcome and completing the run exactly once.
//!
//! Every item commit increments the run's counters in one `UPDATE … RETURNING` on the run row;
//! the row lock serialises concurrent commits, so exactly one of them observes
//! `done = total` and performs the completion transition.

use std::time::Duration;

use ontofleet_core::{ErrorCategory, ItemStatus, RunStatus};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use ontofleet_db::ledger::{AttemptRecord, INSERT_ATTEMPT_SQL, bind_attempt};

use crate::{ControlError, lock};

/// The channel of the NOTIFY sent by a run's completion; the payload is the run id.
pub const RUN_COMPLETED_CHANNEL: &str = "ontofleet_run_completed";

/// The final outcome of an item, written in the item's transaction.
#[derive(Debug, Clone)]
pub struct ItemResult<'a> {
    /// Terminal item status.
    pub status: ItemStatus,
    /// Entity counts by action.
    pub counts: Option<&'a Value>,
    /// Dry-run preview.
    pub preview: Option<&'a Value>,
    /// Category of the failure, for failed/skipped items.
    pub category: Option<ErrorCategory>,
    /// Failure message.
    pub error: Option<&'a str>,
    /// The execution to record in `migration_attempts`, written by the same statement as the item.
    pub attempt: Option<&'a AttemptRecord<'a>>,
}

/// The run's identity as needed for fencing.
#[derive(Debug, Clone, Copy)]
pub struct RunFence {
    /// Run id.
    pub run_id: Uuid,
    /// Fencing token, for platform runs.
    pub lock_token: Option<i64>,
    /// Lease to renew to.
    pub lease: Duration,
}

/// Write the item's terminal state and bump the run counters; completes the run when this was
/// the last item. Returns the run's new terminal status if this commit completed it, and
/// `Ok(None)` when the item was already terminal (a duplicate execution) or the run continues.
pub async fn complete_item(
    conn: &mut PgConnection,
    fence: RunFence,
    project_id: Uuid,
    result: &ItemResult<'_>,
) -> Result<Option<RunStatus>, ControlError> {
    // The item row is per project (no contention); the run row is shared by every item of the
    // run, so it is locked last, by the same statement that writes the item (the counter bump
    // waits for the item update through `EXISTS (SELECT 1 FROM i)`), and held only until the
    // commit: every round trip made while holding it is one every other item commit waits for.
    // Lock order is always item row, run row, then lock row, so item commits cannot deadlock.
    // With an attempt to record, its insert is one more CTE; the item's parameters then follow
    // the attempt's eleven.
    let (prefix, first) = match result.attempt {
        Some(_) => (format!("WITH a AS ({INSERT_ATTEMPT_SQL}), "), 12),
        None => ("WITH ".to_owned(), 1),
    };
    let p = |i: usize| format!("${}", first + i);
    let column = counter_column(result.status);
    let increment = i32::from(result.status.is_terminal());
    // `column` is one of the fixed names of `counter_column`.
    let sql = format!(
        "{prefix}i AS (UPDATE migration_run_items SET status = {status}, counts = coalesce({counts}, counts), \
                preview = {preview}, error_category = {category}, last_error = {error}, fallback_next = false, \
                finished_at = clock_timestamp(), updated_at = now() \
          WHERE run_id = {run} AND project_id = {project} \
            AND status NOT IN ('succeeded', 'partial', 'failed', 'skipped', 'cancelled') RETURNING 1) \
         UPDATE migration_runs SET {column} = {column} + {increment}, \
                recent_outcomes = CASE WHEN max_failure_rate IS NULL \
                                         OR {status} NOT IN ('succeeded', 'partial', 'failed', 'skipped') THEN recent_outcomes \
                                       ELSE substring(recent_outcomes || CASE WHEN {status} IN ('failed', 'skipped') THEN B'1' ELSE B'0' END \
                                                      FROM greatest(1, length(recent_outcomes) + 2 - failure_window)) END \
          WHERE id = {run} AND EXISTS (SELECT 1 FROM i) \
         RETURNING {COUNTER_COLUMNS}, \
           (max_failure_rate IS NOT NULL AND status = 'running' AND length(recent_outcomes) >= failure_window \
              AND length(replace(recent_outcomes::text, '0', '')) * 100 > max_failure_rate * failure_window) AS budget_spent, \
           length(replace(recent_outcomes::text, '0', ''))::bigint AS recent_failures, max_failure_rate, failure_window, \
           coalesce((SELECT l.run_id = {run} AND l.token = {token} FROM migration_platform_lock l WHERE l.id = 1), false) \
             AS holds_lock, \
           coalesce((SELECT l.renewed_at < clock_timestamp() - make_interval(secs => {lease} / 4) \
                       FROM migration_platform_lock l WHERE l.id = 1), false) AS renew_due",
        status = p(2),
        counts = p(3),
        preview = p(4),
        category = p(5),
        error = p(6),
        run = p(0),
        project = p(1),
        increment = p(7),
        token = p(8),
        lease = p(9),
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    if let Some(a) = result.attempt {
        query = bind_attempt(query, a);
    }
    let counters: Option<Counters> = query
        .bind(fence.run_id)
        .bind(project_id)
        .bind(result.status.as_str())
        .bind(result.counts)
        .bind(result.preview)
        .bind(result.category.map(ErrorCategory::as_str))
        .bind(result.error)
        .bind(increment)
        .bind(fence.lock_token.unwrap_or(-1))
        .bind(fence.lease.as_secs_f64())
        .fetch_optional(&mut *conn)
        .await?;
    // No row: the item was already terminal (a duplicate execution), or the run is gone.
    let Some(counters) = counters else {
        return Ok(None);
    };
    if let Some(token) = fence.lock_token {
        if !counters.holds_lock {
            return Err(ControlError::Fenced {
                run_id: fence.run_id,
                token,
            });
        }
        if counters.renew_due {
            lock::renew_unless_busy(&mut *conn, fence.run_id, token, fence.lease).await?;
        }
    }
    if counters.is_done() {
        return finish_run(conn, fence.run_id, &counters).await.map(Some);
    }
    if counters.budget_spent {
        crate::controls::spend_error_budget(
            conn,
            fence.run_id,
            counters.max_failure_rate.unwrap_or(0.0),
            counters.failure_window.unwrap_or(1),
            counters.recent_failures,
        )
        .await?;
    }
    Ok(None)
}

/// A failed attempt that will be retried: the item waits as `retrying` with the failure's
/// category and message, its next attempt in fallback mode or not. An item already terminal (a
/// duplicate execution) is left alone.
pub async fn retry_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
    fallback: bool,
    category: ErrorCategory,
    message: &str,
) -> Result<(), ControlError> {
    sqlx::query(
        "UPDATE migration_run_items SET status = 'retrying', fallback_next = $3, error_category = $4, \
                last_error = $5, updated_at = now() \
          WHERE run_id = $1 AND project_id = $2 AND status IN ('running', 'queued', 'retrying')",
    )
    .bind(run_id)
    .bind(project_id)
    .bind(fallback)
    .bind(category.as_str())
    .bind(message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What ended an item for good without migrating it ([`fail_item`]).
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// `failed` (waits for an operator) or `skipped` (`fatal`).
    pub status: ItemStatus,
    /// The failure's category.
    pub category: ErrorCategory,
    /// Its message.
    pub message: &'a str,
    /// The execution that ended it (for the log row's metadata).
    pub attempt: i32,
    /// Its queue job.
    pub job_id: &'a str,
}

/// A failed attempt that ends the item (`failed` or `skipped`): the project's `skip` row in
/// `migration_log` (unless the run is a dry run, or the project is gone and leaves no user to
/// name — the item row then carries the category and message), and the item's terminal state
/// with the run counters, as [`complete_item`] writes it. Returns the run's new terminal status
/// if this completed it.
pub async fn fail_item(
    conn: &mut PgConnection,
    fence: RunFence,
    dry_run: bool,
    project_id: Uuid,
    failure: &Failure<'_>,
) -> Result<Option<RunStatus>, ControlError> {
    if !dry_run {
        // The project's recorded shape goes too: what the failed pass did not write must be
        // read again by the next catch-up pass, whatever its timestamps (SPEC §15).
        sqlx::query(
            "WITH forget AS (DELETE FROM migration_project_sync WHERE project_id = $2) \
             INSERT INTO migration_log (run_id, user_id, entity_type, operation, legacy_table, legacy_id, \
                    status, error_category, error_message, metadata) \
             SELECT $1, p.user_id, 'project', 'skip', 'projects', $2, $3, $4, $5, $6 \
               FROM projects p WHERE p.id = $2",
        )
        .bind(fence.run_id)
        .bind(project_id)
        .bind(failure.status.as_str())
        .bind(failure.category.as_str())
        .bind(failure.message)
        .bind(serde_json::json!({"attempt": failure.attempt, "job_id": failure.job_id}))
        .execute(&mut *conn)
        .await?;
    }
    let result = ItemResult {
        status: failure.status,
        counts: None,
        preview: None,
        category: Some(failure.category),
        error: Some(failure.message),
        attempt: None,
    };
    complete_item(conn, fence, project_id, &result).await
}

/// End an item as `cancelled` (its run is being cancelled, or lost the lock): no fencing, so a
/// run that lost the lock still reaches a terminal state. Returns the run's new terminal status
/// if this completed it.
pub async fn cancel_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
) -> Result<Option<RunStatus>, ControlError> {
    let fence = RunFence {
        run_id,
        lock_token: None,
        lease: Duration::ZERO,
    };
    let result = ItemResult {
        status: ItemStatus::Cancelled,
        counts: None,
        preview: None,
        category: None,
        error: None,
        attempt: None,
    };
    complete_item(conn, fence, project_id, &result).await
}

/// The run counter an item status counts in (`total_items` for the non-terminal ones, which
/// are bumped by zero).
fn counter_column(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::Succeeded => "succeeded_items",
        ItemStatus::Partial => "partial_items",
        ItemStatus::Failed => "failed_items",
        ItemStatus::Skipped => "skipped_items",
        ItemStatus::Cancelled => "cancelled_items",
        ItemStatus::Queued | ItemStatus::Running | ItemStatus::Retrying => "total_items",
    }
}

const COUNTER_COLUMNS: &str = "status, total_items AS total, succeeded_items AS ok, partial_items AS partial, \
    failed_items AS failed, skipped_items AS skipped, cancelled_items AS cancelled, lock_token AS token";

#[derive(sqlx::FromRow)]
struct Counters {
    status: String,
    total: i32,
    ok: i32,
    partial: i32,
    failed: i32,
    skipped: i32,
    cancelled: i32,
    token: Option<i64>,
    #[sqlx(default)]
    holds_lock: bool,
    #[sqlx(default)]
    renew_due: bool,
    /// The error budget is spent: more than `max_failure_rate` % of the last `failure_window`
    /// finished items failed or were skipped.
    #[sqlx(default)]
    budget_spent: bool,
    #[sqlx(default)]
    recent_failures: i64,
    #[sqlx(default)]
    max_failure_rate: Option<f64>,
    #[sqlx(default)]
    failure_window: Option<i32>,
}

impl Counters {
    /// Every item is terminal and the run is still active.
    fn is_done(&self) -> bool {
        matches!(self.status.as_str(), "running" | "paused" | "cancelling")
            && self.ok + self.partial + self.failed + self.skipped + self.cancelled >= self.total
    }
}

/// If every item of the run is terminal and the run is still active, perform the completion
/// transition: final status, summary, lock release, NOTIFY. Must run in the transaction that
/// made the last item terminal (it locks the run row).
pub async fn finish_run_if_done(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<Option<RunStatus>, ControlError> {
    let sql = format!("SELECT {COUNTER_COLUMNS} FROM migration_runs WHERE id = $1 FOR UPDATE");
    let counters: Option<Counters> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?;
    match counters {
        Some(c) if c.is_done() => finish_run(conn, run_id, &c).await.map(Some),
        _ => Ok(None),
    }
}

async fn finish_run(
    conn: &mut PgConnection,
    run_id: Uuid,
    c: &Counters,
) -> Result<RunStatus, ControlError> {
    // Workers commit asynchronously (`ontofleet_db::connect_worker`): a crash may take their
    // last commits, which their jobs then redo. Not this one: its NOTIFY ends `run start
    // --watch`, live streams and scripts, and its lock release lets the next run start, so it
    // is durable before anyone hears of it. The flush also makes every earlier commit durable.
    sqlx::query("SET LOCAL synchronous_commit = on")
        .execute(&mut *conn)
        .await?;
    let final_status = if c.status == "cancelling" {
        RunStatus::Cancelled
    } else if c.partial + c.failed + c.skipped + c.cancelled > 0 {
        RunStatus::CompletedWithErrors
    } else {
        RunStatus::Completed
    };
    sqlx::query(
        "UPDATE migration_runs SET status = $2, finished_at = clock_timestamp(), summary = summary || jsonb_build_object( \
             'items', jsonb_build_object('total', total_items, 'succeeded', succeeded_items, \
                 'partial', partial_items, 'failed', failed_items, 'skipped', skipped_items, \
                 'cancelled', cancelled_items), \
             'errors_by_category', coalesce((SELECT jsonb_object_agg(c, n) FROM ( \
                 SELECT error_category AS c, count(*) AS n FROM migration_run_items \
                  WHERE run_id = $1 AND error_category IS NOT NULL GROUP BY 1) s), '{}'::jsonb), \
             'duration_ms', (extract(epoch FROM clock_timestamp() - coalesce(started_at, created_at)) * 1000)::bigint) \
         WHERE id = $1",
    )
    .bind(run_id)
    .bind(final_status.as_str())
    .execute(&mut *conn)
    .await?;
    if let Some(token) = c.token {
        lock::release(&mut *conn, run_id, token, "run-completion").await?;
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(RUN_COMPLETED_CHANNEL)
        .bind(run_id.to_string())
        .execute(&mut *conn)
        .await?;
    tracing::info!(%run_id, status = %final_status, "run completed");
    Ok(final_status)
}

/// Refresh the per-user stats view without blocking readers.
pub async fn refresh_stats(pool: &PgPool) -> Result<Duration, ControlError> {
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    refresh_stats_in(&mut tx).await?;
    tx.commit().await?;
    Ok(started.elapsed())
}

/// [`refresh_stats`] inside the caller's transaction (an audited refresh commits with its
/// audit row).
pub async fn refresh_stats_in(tx: &mut PgConnection) -> Result<(), ControlError> {
    // A whole-table aggregate: scans are its right plan, also on a worker's pool, whose sessions
    // turn them off (`ontofleet_db::connect_worker`).
    sqlx::query("SET LOCAL enable_seqscan = on")
        .execute(&mut *tx)
        .await?;
    // Through the owner's function: the caller may be a worker that owns nothing (docs/roles.sql).
    sqlx::query("SELECT refresh_user_migration_stats()")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Move an active run to `cancelling`, cancel its items that are not running, and complete it
/// as `cancelled` if nothing is running any more. The caller kills the queued jobs in the same
/// transaction. Returns the number of items cancelled, or `None` if the run was not active.
pub async fn cancel_run(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<Option<u64>, ControlError> {
    let active: Option<String> = sqlx::query_scalar(
        "UPDATE migration_runs SET status = 'cancelling' WHERE id = $1 AND status IN ('pending', 'running', 'paused', 'cancelling') \
         RETURNING status",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    if active.is_none() {
        return Ok(None);
    }
    crate::controls::end_pause(&mut *conn, run_id).await?;
    let cancelled = cancel_waiting(&mut *conn, run_id, None).await?;
    // Pending runs have no items yet; they are cancelled outright.
    sqlx::query("UPDATE migration_runs SET status = 'cancelled', finished_at = now() WHERE id = $1 AND total_items = 0")
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    finish_run_if_done(conn, run_id).await?;
    Ok(Some(cancelled))
}

/// Cancel the waiting (`queued` or `retrying`) items of a run — all of them, or those of
/// `projects` — and count them in the run's `cancelled_items`. Returns how many.
pub(crate) async fn cancel_waiting(
    conn: &mut PgConnection,
    run_id: Uuid,
    projects: Option<&[Uuid]>,
) -> Result<u64, ControlError> {
    let cancelled = sqlx::query(
        "UPDATE migration_run_items SET status = 'cancelled', finished_at = now(), updated_at = now() \
          WHERE run_id = $1 AND ($2::uuid[] IS NULL OR project_id = ANY($2)) AND status IN ('queued', 'retrying')",
    )
    .bind(run_id)
    .bind(projects)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if cancelled > 0 {
        sqlx::query(
            "UPDATE migration_runs SET cancelled_items = cancelled_items + $2 WHERE id = $1",
        )
        .bind(run_id)
        .bind(cancelled as i32)
        .execute(&mut *conn)
        .await?;
    }
    Ok(cancelled)
}
