//! `jobs list` and `jobs show`: queue jobs joined with their ledger items.

use chrono::{DateTime, Utc};
use ontofleet_db::ledger::{AttemptRow, ItemRow};
use ontofleet_queue::{JobFilter, JobView};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;

/// A job as `jobs list` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// What `GET /jobs` is asked for: the filters of `jobs list` and a page cursor.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only this run.
    pub run: Option<Uuid>,
    /// Only items in this status (`queued`, `running`, `retrying`, `succeeded`, `partial`,
    /// `failed`, `skipped`, `cancelled`).
    pub status: Option<String>,
    /// Only items whose last failure has this category (`recoverable`, `data`, `fatal`).
    pub category: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// The cursor of the next page (from the previous page's `Link` header).
    pub after: Option<String>,
}

/// A page of `GET /jobs`, and the cursor of the next page when there is one.
pub async fn list_page(
    pool: &PgPool,
    query: &JobQuery,
) -> Result<(JobList, Option<String>), OpsError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(OpsError::Invalid(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let status = query
        .status
        .as_deref()
        .map(|s| {
            s.parse::<ontofleet_core::ItemStatus>()
                .map(|s| s.as_str().to_owned())
                .map_err(|_| OpsError::Invalid(format!("unknown status `{s}`")))
        })
        .transpose()?;
    let category = query
        .category
        .as_deref()
        .map(|c| {
            c.parse::<ontofleet_core::ErrorCategory>()
                .map(|c| c.as_str().to_owned())
                .map_err(|_| {
                    OpsError::Invalid(format!(
                        "unknown category `{c}` (expected recoverable, data or fatal)"
                    ))
                })
        })
        .transpose()?;
    let after = query
        .after
        .as_deref()
        .map(|raw| {
            let mut parts = raw.splitn(3, '_');
            let parsed = (|| {
                Some((
                    DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?,
                    parts.next()?.parse().ok()?,
                    parts.next()?.parse().ok()?,
                ))
            })();
            parsed.ok_or_else(|| OpsError::Invalid(format!("`{raw}` is not a page cursor")))
        })
        .transpose()?;
    let filter = JobFilter {
        run_id: query.run,
        item_status: status,
        category,
        limit: limit + 1,
        after,
    };
    let mut list = list(pool, &filter).await?;
    let next = if list.jobs.len() as i64 > limit {
        list.jobs.truncate(limit as usize);
        list.views.truncate(limit as usize);
        list.jobs.last().map(|j| {
            format!(
                "{}_{}_{}",
                j.updated_at.timestamp_micros(),
                j.project_id,
                j.run_id
            )
        })
    } else {
        None
    };
    Ok((list, next))
}

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

/// A job put back to work by `jobs retry`.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    actor: &Actor,
) -> Result<Retried, OpsError> {
    let entry = actor.entry("jobs.retry", target_json(target));
    let r = ontofleet_producer::operator::retry_jobs(pool, target, settings, Some(&entry), None)
        .await?;
    Ok(retried(r))
}

fn retried(r: ontofleet_producer::operator::Requeued) -> Retried {
    Retried {
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
    }
}

/// A job `jobs kill` killed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KilledJob {
    /// The job.
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
}

/// A run `jobs kill` completed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletedRun {
    /// The run.
    pub run_id: Uuid,
    /// Its final status.
    pub status: String,
}

/// The response of `jobs kill`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Killed {
    /// Jobs killed.
    pub killed: usize,
    /// Them.
    pub jobs: Vec<KilledJob>,
    /// Runs left with nothing to do, now complete.
    pub completed_runs: Vec<CompletedRun>,
}

/// `jobs kill`: kill waiting jobs and cancel their items; refused for any running or finished one.
pub async fn kill(pool: &PgPool, ids: &[String], actor: &Actor) -> Result<Killed, OpsError> {
    let entry = actor.entry("jobs.kill", json!({"job_ids": ids}));
    let r = ontofleet_producer::operator::kill_jobs(pool, ids, Some(&entry)).await?;
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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Purged {
    /// The age given.
    pub older_than_secs: u64,
    /// Finished queue rows deleted.
    pub jobs_deleted: u64,
    /// Worker registrations deleted.
    pub workers_deleted: u64,
}

/// `jobs purge`: delete queue rows finished more than `age` ago, and workers gone as long.
pub async fn purge(
    pool: &PgPool,
    age: std::time::Duration,
    actor: &Actor,
) -> Result<Purged, OpsError> {
    let mut tx = pool.begin().await?;
    let purged = ontofleet_queue::purge(&mut tx, age)
        .await
        .map_err(|e| OpsError::Unavailable(format!("purge failed: {e}; nothing was deleted")))?;
    let entry = actor.entry("jobs.purge", json!({"older_than_secs": age.as_secs()}));
    let affected = (purged.jobs + purged.workers) as i64;
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(affected)).await?;
    tx.commit().await?;
    Ok(Purged {
        older_than_secs: age.as_secs(),
        jobs_deleted: purged.jobs,
        workers_deleted: purged.workers,
    })
}

/// The response of `enqueue`.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    actor: &Actor,
) -> Result<Enqueued, OpsError> {
    let entry = actor.entry(
        "project.enqueue",
        json!({"project_id": project, "run_id": run}),
    );
    match run {
        Some(run) => {
            let report = ontofleet_producer::operator::enqueue_into_run(
                pool,
                run,
                project,
                operator,
                Some(&entry),
            )
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
            let started =
                ontofleet_producer::start_run(pool, &request, producer, Some(&entry)).await?;
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

fn target_json(target: &ontofleet_producer::operator::RetryTarget) -> Value {
    use ontofleet_producer::operator::RetryTarget;
    match target {
        RetryTarget::Jobs(ids) => json!({"job_ids": ids}),
        RetryTarget::Run { run_id, category } => {
            json!({"run_id": run_id, "category": category.map(|c| c.as_str())})
        }
    }
}

/// How long a retry preview's selection token stays valid.
pub const SELECTION_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// The first step of a retry from the API: what would be retried, and the token that executes
/// exactly that.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetryPreview {
    /// Jobs the filter selects now.
    pub count: usize,
    /// The first of them (by run and project).
    pub sample: Vec<JobSummary>,
    /// Pass back as `selection_token` to retry exactly these jobs.
    pub selection_token: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// The token of a selection: expiry, count and a SHA-256 over the filter, the expiry and the
/// selected jobs with their item status and last change. Anything that changes the selection or
/// one of its items changes the hash.
fn selection_token(
    target: &ontofleet_producer::operator::RetryTarget,
    views: &[JobView],
    expires: i64,
) -> String {
    use sha2::{Digest, Sha256};
    let mut rows: Vec<String> = views
        .iter()
        .map(|v| {
            format!(
                "{}|{}|{}",
                v.job_id,
                v.item_status,
                v.updated_at.timestamp_micros()
            )
        })
        .collect();
    rows.sort();
    let mut h = Sha256::new();
    h.update(target_json(target).to_string());
    h.update(expires.to_be_bytes());
    for r in &rows {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    format!("v1.{expires}.{}.{}", views.len(), hex::encode(h.finalize()))
}

/// `POST /jobs/retry` without a token: count, sample and selection token; changes nothing.
pub async fn retry_preview(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
) -> Result<RetryPreview, OpsError> {
    let mut tx = pool.begin().await?;
    let views = ontofleet_producer::operator::retry_selection(&mut tx, target)
        .await?
        .unwrap_or_default();
    // The selection was read under the retry's own row locks; nothing is written.
    tx.rollback().await?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(SELECTION_TOKEN_TTL).unwrap_or(chrono::Duration::minutes(10));
    Ok(RetryPreview {
        count: views.len(),
        sample: views.iter().take(10).map(JobSummary::from).collect(),
        selection_token: selection_token(target, &views, expires_at.timestamp()),
        expires_at,
    })
}

/// `POST /jobs/retry` with the preview's token: retries exactly the previewed jobs, or refuses
/// (409) when the filter now selects anything else, or when the token has expired.
pub async fn retry_with_token(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
    token: &str,
    settings: &ontofleet_producer::operator::OperatorSettings,
    actor: &Actor,
) -> Result<Retried, OpsError> {
    let expires: i64 = token
        .split('.')
        .nth(1)
        .and_then(|e| e.parse().ok())
        .filter(|_| token.starts_with("v1."))
        .ok_or_else(|| {
            OpsError::Invalid("selection_token is not a token a retry preview returned".to_owned())
        })?;
    if expires < Utc::now().timestamp() {
        return Err(OpsError::Conflict(
            "the selection token has expired; preview the retry again".to_owned(),
        ));
    }
    let expected = token.to_owned();
    let check = move |views: &[JobView]| -> bool {
        use subtle::ConstantTimeEq;
        bool::from(
            selection_token(target, views, expires)
                .as_bytes()
                .ct_eq(expected.as_bytes()),
        )
    };
    let mut filter = target_json(target);
    filter["selection_token"] = json!(token.split('.').take(3).collect::<Vec<_>>().join("."));
    let entry = actor.entry("jobs.retry", filter);
    let r = ontofleet_producer::operator::retry_jobs(
        pool,
        target,
        settings,
        Some(&entry),
        Some(&check),
    )
    .await?;
    Ok(retried(r))
}
