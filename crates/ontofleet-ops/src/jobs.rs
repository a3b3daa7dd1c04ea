//! `jobs list` and `jobs show`: queue jobs joined with their ledger items.

use chrono::{DateTime, Utc};
use ontofleet_db::ledger::{AttemptRow, ItemRow};
use ontofleet_queue::{JobFilter, JobView};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::OpsError;

/// A job as `jobs list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobSummary {
    /// Queue job id (ULID).
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its legacy project.
    pub project_id: Uuid,
    /// The item's status.
    pub status: String,
    /// The queue row's status, `purged` once `jobs purge` removed it.
    pub job_status: String,
    /// Executions of the item.
    pub attempts: i32,
    /// Executions since the last `jobs retry`.
    pub attempts_since_retry: i32,
    /// The queue row's attempts.
    pub queue_attempts: Option<i32>,
    /// The queue row's limit.
    pub max_attempts: Option<i32>,
    /// Category of the last failure.
    pub category: Option<String>,
    /// Its message.
    pub last_error: Option<String>,
    /// The worker of the last execution.
    pub worker: Option<String>,
    /// When the queue row is due.
    pub run_at: Option<DateTime<Utc>>,
    /// When the queue row finished.
    pub done_at: Option<DateTime<Utc>>,
    /// Last change of the item.
    pub updated_at: DateTime<Utc>,
}

impl From<&JobView> for JobSummary {
    fn from(v: &JobView) -> Self {
        Self {
            job_id: v.job_id.clone(),
            run_id: v.run_id,
            project_id: v.project_id,
            status: v.item_status.clone(),
            job_status: v.job_status.clone().unwrap_or_else(|| "purged".to_owned()),
            attempts: v.attempts,
            attempts_since_retry: v.attempts - v.attempt_base,
            queue_attempts: v.queue_attempts,
            max_attempts: v.max_attempts,
            category: v.error_category.clone(),
            last_error: v.last_error.clone(),
            worker: v.worker.clone(),
            run_at: v.run_at,
            done_at: v.done_at,
            updated_at: v.updated_at,
        }
    }
}

/// The response of `jobs list`.
#[derive(Debug, Clone, Serialize)]
pub struct JobList {
    /// Most recently changed first.
    pub jobs: Vec<JobSummary>,
    /// The rows behind them (for printers; not serialised).
    #[serde(skip)]
    pub views: Vec<JobView>,
}

/// `jobs list`.
pub async fn list(pool: &PgPool, filter: &JobFilter) -> Result<JobList, OpsError> {
    let mut conn = pool.acquire().await?;
    let views = ontofleet_queue::list_jobs(&mut conn, filter).await?;
    Ok(JobList {
        jobs: views.iter().map(JobSummary::from).collect(),
        views,
    })
}

/// The queue row of a job.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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

/// A job put back to work by `jobs retry`.
#[derive(Debug, Clone, Serialize)]
pub struct RetriedJob {
    /// The job now carrying the item.
    pub job_id: String,
    /// The job id before, when the queue row had been purged.
    pub replaced_job_id: Option<String>,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// Item status before.
    pub previous_status: String,
    /// Category of the failure that ended it.
    pub category: Option<String>,
}

/// A run touched by `jobs retry`.
#[derive(Debug, Clone, Serialize)]
pub struct RetriedRun {
    /// The run.
    pub run_id: Uuid,
    /// Status before.
    pub previous_status: String,
    /// Status now.
    pub status: String,
    /// A finished run was reopened.
    pub reopened: bool,
    /// The expired platform run whose lock it took over (now cancelled).
    pub superseded_run_id: Option<Uuid>,
}

/// The response of `jobs retry`.
#[derive(Debug, Clone, Serialize)]
pub struct Retried {
    /// Jobs put back to work.
    pub retried: usize,
    /// Them.
    pub jobs: Vec<RetriedJob>,
    /// The runs touched.
    pub runs: Vec<RetriedRun>,
}

/// `jobs retry`: put the target's finished jobs back to work, in one transaction.
pub async fn retry(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
    settings: &ontofleet_producer::operator::OperatorSettings,
) -> Result<Retried, OpsError> {
    let r = ontofleet_producer::operator::retry_jobs(pool, target, settings).await?;
    Ok(Retried {
        retried: r.jobs.len(),
        jobs: r
            .jobs
            .into_iter()
            .map(|j| RetriedJob {
                job_id: j.job_id,
                replaced_job_id: j.replaced,
                run_id: j.run_id,
                project_id: j.project_id,
                previous_status: j.previous_status,
                category: j.category,
            })
            .collect(),
        runs: r
            .runs
            .into_iter()
            .map(|c| RetriedRun {
                run_id: c.run_id,
                previous_status: c.previous_status,
                status: c.status,
                reopened: c.reopened,
                superseded_run_id: c.superseded,
            })
            .collect(),
    })
}

/// A job `jobs kill` killed.
#[derive(Debug, Clone, Serialize)]
pub struct KilledJob {
    /// The job.
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
}

/// A run `jobs kill` completed.
#[derive(Debug, Clone, Serialize)]
pub struct CompletedRun {
    /// The run.
    pub run_id: Uuid,
    /// Its final status.
    pub status: String,
}

/// The response of `jobs kill`.
#[derive(Debug, Clone, Serialize)]
pub struct Killed {
    /// Jobs killed.
    pub killed: usize,
    /// Them.
    pub jobs: Vec<KilledJob>,
    /// Runs left with nothing to do, now complete.
    pub completed_runs: Vec<CompletedRun>,
}

/// `jobs kill`: kill waiting jobs and cancel their items; refused for any running or finished one.
pub async fn kill(pool: &PgPool, ids: &[String]) -> Result<Killed, OpsError> {
    let r = ontofleet_producer::operator::kill_jobs(pool, ids).await?;
    Ok(Killed {
        killed: r.jobs.len(),
        jobs: r
            .jobs
            .into_iter()
            .map(|j| KilledJob {
                job_id: j.job_id,
                run_id: j.run_id,
                project_id: j.project_id,
            })
            .collect(),
        completed_runs: r
            .completed_runs
            .into_iter()
            .map(|(run_id, s)| CompletedRun {
                run_id,
                status: s.as_str().to_owned(),
            })
            .collect(),
    })
}

/// The response of `jobs purge`.
#[derive(Debug, Clone, Serialize)]
pub struct Purged {
    /// The age given.
    pub older_than_secs: u64,
    /// Finished queue rows deleted.
    pub jobs_deleted: u64,
    /// Worker registrations deleted.
    pub workers_deleted: u64,
}

/// `jobs purge`: delete queue rows finished more than `age` ago, and workers gone as long.
pub async fn purge(pool: &PgPool, age: std::time::Duration) -> Result<Purged, OpsError> {
    let mut conn = pool.acquire().await?;
    let purged = ontofleet_queue::purge(&mut conn, age)
        .await
        .map_err(|e| OpsError::Unavailable(format!("purge failed: {e}; nothing was deleted")))?;
    Ok(Purged {
        older_than_secs: age.as_secs(),
        jobs_deleted: purged.jobs,
        workers_deleted: purged.workers,
    })
}

/// The response of `enqueue`.
#[derive(Debug, Clone, Serialize)]
pub struct Enqueued {
    /// The run the project went into.
    pub run_id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// Its job.
    pub job_id: Option<String>,
    /// A new single-project run was started.
    pub new_run: bool,
    /// A finished run was reopened for it.
    pub reopened: bool,
    /// The item's status before, when it was already in the run.
    pub previous_status: Option<String>,
}

/// `enqueue --project P [--run R]`: reprocess one project through the ledger, in a new
/// single-project run (archived and already-migrated projects included) or added to run `R`.
pub async fn enqueue(
    pool: &PgPool,
    project: Uuid,
    run: Option<Uuid>,
    producer: &ontofleet_producer::ProducerSettings,
    operator: &ontofleet_producer::operator::OperatorSettings,
) -> Result<Enqueued, OpsError> {
    match run {
        Some(run) => {
            let report =
                ontofleet_producer::operator::enqueue_into_run(pool, run, project, operator)
                    .await?;
            Ok(Enqueued {
                run_id: run,
                project_id: project,
                job_id: report.jobs.first().map(|j| j.job_id.clone()),
                new_run: false,
                reopened: report.runs.first().is_some_and(|c| c.reopened),
                previous_status: report.jobs.first().map(|j| j.previous_status.clone()),
            })
        }
        None => {
            let request = ontofleet_producer::RunRequest {
                selection: ontofleet_producer::Selection::Projects(vec![project]),
                // Named explicitly: archived or already migrated, the operator wants it processed.
                include_archived: true,
                include_completed_tasks: false,
                resync: true,
                dry_run: false,
                force: operator.force,
                initiated_by: operator.initiated_by.clone(),
            };
            let started = ontofleet_producer::start_run(pool, &request, producer).await?;
            let mut conn = pool.acquire().await?;
            let item = ontofleet_db::ledger::get_item(&mut conn, started.run_id, project).await?;
            Ok(Enqueued {
                run_id: started.run_id,
                project_id: project,
                job_id: item.and_then(|i| i.job_id),
                new_run: true,
                reopened: false,
                previous_status: None,
            })
        }
    }
}
