//! Raw-SQL operations on `apalis.jobs` that apalis-postgres 1.0 does not offer.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{QUEUE, QueueError};

/// Move a job's `run_at` into the future. Called before the handler reports a failure, so the
/// backoff is persisted in the row and survives a worker crash (apalis keeps it in memory).
pub async fn reschedule(
    conn: &mut PgConnection,
    job_id: &str,
    delay: Duration,
) -> Result<(), QueueError> {
    sqlx::query(
        "UPDATE apalis.jobs SET run_at = now() + make_interval(secs => $2) WHERE id = $1 AND job_type = $3",
    )
    .bind(job_id)
    .bind(delay.as_secs_f64())
    .bind(QUEUE)
    .execute(conn)
    .await?;
    Ok(())
}

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
