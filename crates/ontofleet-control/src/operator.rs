//! Operator changes to a run's items: put finished items back to work (retry, reprocess), add a
//! project to a run, cancel queued items. Each takes the caller's transaction, which also changes
//! the queue rows, so the ledger and the queue move together.

use std::time::Duration;

use ontofleet_core::RunStatus;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{ControlError, LockError, completion, lock};

/// Why an operator change to a run was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The run does not exist.
    #[error("run {0} does not exist; list runs with `ontofleet run list`")]
    UnknownRun(Uuid),
    /// The run was cancelled: its items are not put back to work.
    #[error(
        "run {run_id} is {status}; its items are not retried: start a new run, or reprocess one project with `ontofleet enqueue --project UUID`"
    )]
    RunClosed {
        /// The run.
        run_id: Uuid,
        /// `cancelling` or `cancelled`.
        status: String,
    },
    /// The platform lock is held by another run (or, for a platform run, cannot be re-taken).
    #[error(transparent)]
    LockHeld(LockError),
    /// Database failure.
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<sqlx::Error> for OperatorError {
    fn from(e: sqlx::Error) -> Self {
        Self::Control(ControlError::Sqlx(e))
    }
}

/// How [`prepare_run`] treats the platform lock.
#[derive(Debug, Clone)]
pub struct ReopenOptions {
    /// Work on a user- or project-scoped run even while a platform run holds the lock.
    pub force: bool,
    /// Lease taken when a finished platform run is reopened.
    pub lease: Duration,
    /// Lock holder description when a platform run re-takes the lock.
    pub holder: String,
}

/// What [`prepare_run`] did to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Status before the change.
    pub previous_status: String,
    /// The run was finished and is `running` again; its completion happens again when the
    /// items put back to work finish.
    pub reopened: bool,
    /// A platform run re-took the lock from this expired holder. It is now cancelling; the
    /// caller kills its queued jobs in the same transaction, as a new platform run would.
    pub superseded: Option<Uuid>,
}

/// Lock the run row and make the run ready to take items back: refused when it is cancelling or
/// cancelled; a finished run goes back to `running` (a platform run re-takes the platform lock
/// with a new fencing token, so its workers' commits pass the fence); a scoped run is refused
/// while a platform run holds the lock, unless `force`.
///
/// Callers lock the items they change before calling this (items, then run: the order of item
/// commits), so it cannot deadlock with a worker.
pub async fn prepare_run(
    conn: &mut PgConnection,
    run_id: Uuid,
    opts: &ReopenOptions,
) -> Result<Prepared, OperatorError> {
    let row: Option<(String, String, bool)> = sqlx::query_as(
        "SELECT status, scope, dry_run FROM migration_runs WHERE id = $1 FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((status, scope, dry_run)) = row else {
        return Err(OperatorError::UnknownRun(run_id));
    };
    let parsed: RunStatus = status.parse().map_err(|_| OperatorError::RunClosed {
        run_id,
        status: status.clone(),
    })?;
    if matches!(parsed, RunStatus::Cancelling | RunStatus::Cancelled) {
        return Err(OperatorError::RunClosed { run_id, status });
    }
    let reopened = matches!(
        parsed,
        RunStatus::Completed | RunStatus::CompletedWithErrors
    );
    let mut superseded = None;
    let platform = scope == "platform" && !dry_run;
    if platform && reopened {
        let acquired = lock::acquire_platform_lock(&mut *conn, run_id, &opts.holder, opts.lease)
            .await
            .map_err(|e| match e {
                LockError::Control(c) => OperatorError::Control(c),
                held => OperatorError::LockHeld(held),
            })?;
        sqlx::query("UPDATE migration_runs SET lock_token = $2 WHERE id = $1")
            .bind(run_id)
            .bind(acquired.token)
            .execute(&mut *conn)
            .await?;
        superseded = acquired.previous_run.filter(|old| *old != run_id);
        if let Some(old) = superseded {
            // Before this run becomes `running` again: one active platform run at a time.
            completion::cancel_run(&mut *conn, old).await?;
            tracing::warn!(%old, %run_id, "reopening took over an expired platform lock; the old run is cancelled");
        }
    } else if !platform && !dry_run && !opts.force {
        let held = lock::lock_status(&mut *conn).await?;
        if held.is_locked && held.run_id != Some(run_id) {
            return Err(OperatorError::LockHeld(held.held()));
        }
    }
    if reopened {
        sqlx::query(
            "UPDATE migration_runs SET status = 'running', finished_at = NULL, \
                    summary = summary || jsonb_build_object('reopened_at', now()) WHERE id = $1",
        )
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        tracing::info!(%run_id, previous = %status, "run reopened by an operator");
    }
    Ok(Prepared {
        previous_status: status,
        reopened,
        superseded,
    })
}

/// Put finished items of a run back to `queued`: the retry policy starts counting again
/// (`attempt_base`), fallback mode is off, the failure category is cleared (the last message
/// stays), and the run's counters no longer count them as done. Items that are not finished are
/// left alone. Call after [`prepare_run`], in the same transaction. Returns the items requeued.
pub async fn requeue_items(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_ids: &[Uuid],
) -> Result<u64, ControlError> {
    let (ok, partial, failed, skipped, cancelled): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "WITH old AS (SELECT project_id, status FROM migration_run_items \
                       WHERE run_id = $1 AND project_id = ANY($2) \
                         AND status IN ('succeeded', 'partial', 'failed', 'skipped', 'cancelled') FOR UPDATE), \
              upd AS (UPDATE migration_run_items i SET status = 'queued', attempt_base = i.attempts, \
                             fallback_next = false, error_category = NULL, finished_at = NULL, updated_at = now() \
                        FROM old WHERE i.run_id = $1 AND i.project_id = old.project_id) \
         SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'partial'), \
                count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'skipped'), \
                count(*) FILTER (WHERE status = 'cancelled') FROM old",
    )
    .bind(run_id)
    .bind(project_ids)
    .fetch_one(&mut *conn)
    .await?;
    let total = ok + partial + failed + skipped + cancelled;
    if total > 0 {
        sqlx::query(
            "UPDATE migration_runs SET succeeded_items = succeeded_items - $2, partial_items = partial_items - $3, \
                    failed_items = failed_items - $4, skipped_items = skipped_items - $5, \
                    cancelled_items = cancelled_items - $6 WHERE id = $1",
        )
        .bind(run_id)
        .bind(ok as i32)
        .bind(partial as i32)
        .bind(failed as i32)
        .bind(skipped as i32)
        .bind(cancelled as i32)
        .execute(&mut *conn)
        .await?;
    }
    Ok(total as u64)
}

/// Point an existing item at a new queue job (its old row was purged).
pub async fn set_item_job(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
    job_id: &str,
) -> Result<(), ControlError> {
    sqlx::query("UPDATE migration_run_items SET job_id = $3 WHERE run_id = $1 AND project_id = $2")
        .bind(run_id)
        .bind(project_id)
        .bind(job_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Add a project to a run as a new `queued` item of job `job_id`. Call after [`prepare_run`].
pub async fn add_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
    job_id: &str,
) -> Result<(), ControlError> {
    sqlx::query(
        "WITH i AS (INSERT INTO migration_run_items (run_id, project_id, job_id) VALUES ($1, $2, $3)) \
         UPDATE migration_runs SET total_items = total_items + 1 WHERE id = $1",
    )
    .bind(run_id)
    .bind(project_id)
    .bind(job_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancel items of a run that are waiting (`queued` or `retrying`): the caller kills their queue
/// rows in the same transaction. Completes the run if nothing else is left. Returns the items
/// cancelled and the run's terminal status if this completed it.
pub async fn cancel_items(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_ids: &[Uuid],
) -> Result<(u64, Option<RunStatus>), ControlError> {
    let cancelled = completion::cancel_waiting(&mut *conn, run_id, Some(project_ids)).await?;
    if cancelled == 0 {
        return Ok((0, None));
    }
    let done = completion::finish_run_if_done(conn, run_id).await?;
    Ok((cancelled, done))
}
