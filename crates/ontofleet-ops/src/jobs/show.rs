//! `jobs show`: a job's payload, queue row, item and every recorded execution.

use chrono::{DateTime, Utc};
use ontofleet_db::ledger::{AttemptRow, ItemRow};
use ontofleet_queue::JobView;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;

/// The queue row of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueRow {
    /// apalis status.
    pub status: String,
    /// Attempts.
    pub attempts: Option<i32>,
    /// Limit.
    pub max_attempts: Option<i32>,
    /// Due.
    pub run_at: Option<DateTime<Utc>>,
    /// Holder.
    pub lock_by: Option<String>,
    /// Finished.
    pub done_at: Option<DateTime<Utc>>,
    /// apalis's last result.
    pub last_result: Option<Value>,
}

/// The ledger item of a job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    /// Item status.
    pub status: String,
    /// Executions.
    pub attempts: i32,
    /// Executions since the last retry.
    pub attempts_since_retry: i32,
    /// The next attempt runs in fallback mode.
    pub fallback_next: bool,
    /// Category of the last failure.
    pub category: Option<String>,
    /// Its message.
    pub last_error: Option<String>,
    /// Entity counts of the committed attempt.
    pub counts: Option<Value>,
    /// Worker of the last execution.
    pub worker: Option<String>,
    /// First start.
    pub started_at: Option<DateTime<Utc>>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// One recorded execution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1-based execution number.
    pub attempt: i32,
    /// Queue job that carried it.
    pub job_id: Option<String>,
    /// Worker.
    pub worker: Option<String>,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// `succeeded`, `partial`, `retry`, `failed`, `skipped`.
    pub outcome: String,
    /// Error category.
    pub category: Option<String>,
    /// Error message.
    pub message: Option<String>,
    /// Ran in fallback mode.
    pub fallback: bool,
}

/// The response of `jobs show`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDetail {
    /// Queue job id.
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// The job's payload, `None` once purged.
    pub payload: Option<Value>,
    /// The queue row, `None` once purged.
    pub job: Option<QueueRow>,
    /// The ledger item.
    pub item: Option<ItemView>,
    /// Every recorded execution.
    pub attempts: Vec<AttemptView>,
    /// The rows behind them (for printers; not serialised).
    #[serde(skip)]
    pub view: JobView,
    /// The item row (for printers).
    #[serde(skip)]
    pub item_row: Option<ItemRow>,
    /// The attempt rows (for printers).
    #[serde(skip)]
    pub attempt_rows: Vec<AttemptRow>,
}

/// `jobs show`.
pub async fn show(pool: &PgPool, id: &str) -> Result<JobDetail, OpsError> {
    let mut conn = pool.acquire().await?;
    let views = ontofleet_queue::jobs_by_id(&mut conn, &[id.to_owned()]).await?;
    let Some(v) = views.into_iter().next() else {
        return Err(OpsError::NotFound(format!(
            "job {id} does not exist; list jobs with `ontofleet jobs list`"
        )));
    };
    let payload = ontofleet_queue::job_payload(&mut conn, id).await?;
    let item = ontofleet_db::ledger::get_item(&mut conn, v.run_id, v.project_id).await?;
    let attempts = ontofleet_db::ledger::attempts_of(&mut conn, v.run_id, v.project_id).await?;
    Ok(JobDetail {
        job_id: v.job_id.clone(),
        run_id: v.run_id,
        project_id: v.project_id,
        payload,
        job: v.job_status.as_ref().map(|s| QueueRow {
            status: s.clone(),
            attempts: v.queue_attempts,
            max_attempts: v.max_attempts,
            run_at: v.run_at,
            lock_by: v.lock_by.clone(),
            done_at: v.done_at,
            last_result: v.last_result.clone(),
        }),
        item: item.as_ref().map(|i| ItemView {
            status: i.status.clone(),
            attempts: i.attempts,
            attempts_since_retry: v.attempts - v.attempt_base,
            fallback_next: i.fallback_next,
            category: i.error_category.clone(),
            last_error: i.last_error.clone(),
            counts: i.counts.clone(),
            worker: i.worker.clone(),
            started_at: i.started_at,
            finished_at: i.finished_at,
            updated_at: i.updated_at,
        }),
        attempts: attempts
            .iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                job_id: a.job_id.clone(),
                worker: a.worker.clone(),
                started_at: a.started_at,
                finished_at: a.finished_at,
                duration_ms: a.duration_ms,
                outcome: a.outcome.clone(),
                category: a.error_category.clone(),
                message: a.error_message.clone(),
                fallback: a.fallback,
            })
            .collect(),
        view: v,
        item_row: item,
        attempt_rows: attempts,
    })
}
