//! Operator changes that put project jobs back on the queue or take them off: `jobs retry`,
//! `jobs kill` and `enqueue`. Each is one transaction over the ledger items, the run and the
//! queue rows, so an operator never sees an item `queued` without a live job or the reverse.

use std::collections::BTreeMap;

use ontofleet_control::{OperatorError, ReopenOptions};
use ontofleet_core::{ErrorCategory, ProjectJob, RetryPolicies, RunStatus};
use ontofleet_db::admin::AuditEntry;
use ontofleet_queue::JobView;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{ProducerError, Selection, queue_max_attempts};

/// Which jobs `jobs retry` puts back to work.
#[derive(Debug, Clone)]
pub enum RetryTarget {
    /// These jobs (their items must be finished: failed, skipped, partial or cancelled).
    Jobs(Vec<String>),
    /// The failed and skipped items of a run, optionally only those of one category.
    Run {
        /// The run.
        run_id: Uuid,
        /// Only items whose failure has this category.
        category: Option<ErrorCategory>,
    },
}

/// Item statuses a job id given to `jobs retry` may have.
pub const RETRYABLE_BY_ID: [&str; 4] = ["failed", "skipped", "partial", "cancelled"];
/// Item statuses `jobs retry --run` picks up: what went wrong, not what an operator cancelled.
pub const RETRYABLE_BY_RUN: [&str; 2] = ["failed", "skipped"];

/// One job put back to work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequeuedJob {
    /// The job now carrying the item (a new one when the old queue row had been purged).
    pub job_id: String,
    /// The job id before, when it changed.
    pub replaced: Option<String>,
    /// Run of the item.
    pub run_id: Uuid,
    /// Legacy project.
    pub project_id: Uuid,
    /// Item status before.
    pub previous_status: String,
    /// Category of the failure that ended it, if any.
    pub category: Option<String>,
}

/// What happened to a run touched by an operator change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunChange {
    /// The run.
    pub run_id: Uuid,
    /// Status before.
    pub previous_status: String,
    /// Status after the transaction.
    pub status: String,
    /// It was finished and is running again.
    pub reopened: bool,
    /// A platform run whose expired lease this run took back (now cancelled).
    pub superseded: Option<Uuid>,
}

/// The outcome of `jobs retry` or `enqueue`.
#[derive(Debug, Clone, Default)]
pub struct Requeued {
    /// Jobs put back to work.
    pub jobs: Vec<RequeuedJob>,
    /// Runs touched.
    pub runs: Vec<RunChange>,
}

/// Settings of operator changes.
#[derive(Debug, Clone)]
pub struct OperatorSettings {
    /// Retry policy (sizes the queue rows' `max_attempts`).
    pub policies: RetryPolicies,
    /// Lease when a finished platform run re-takes the lock.
    pub lease: std::time::Duration,
    /// Who is acting (lock holder, log).
    pub initiated_by: String,
    /// Work on scoped runs while a platform run holds the lock.
    pub force: bool,
}

impl OperatorSettings {
    fn reopen(&self, run_id: Uuid) -> ReopenOptions {
        ReopenOptions {
            force: self.force,
            lease: self.lease,
            holder: format!("{} (run {run_id}, reopened)", self.initiated_by),
        }
    }
}

/// A check of the locked selection before `jobs retry` changes it (the retry preview's token):
/// `false` refuses with [`ProducerError::SelectionChanged`].
pub type SelectionCheck<'a> = &'a (dyn Fn(&[JobView]) -> bool + Send + Sync);

/// The jobs `jobs retry` would put back to work, their items locked (`FOR UPDATE`) until the
/// caller's transaction ends; `None` when a run has nothing to retry.
pub async fn retry_selection(
    conn: &mut PgConnection,
    target: &RetryTarget,
) -> Result<Option<Vec<JobView>>, ProducerError> {
    let views = match target {
        RetryTarget::Jobs(ids) => {
            let views = locked_jobs(&mut *conn, ids).await?;
            if let Some(v) = views
                .iter()
                .find(|v| !RETRYABLE_BY_ID.contains(&v.item_status.as_str()))
            {
                return Err(ProducerError::NotRetryable {
                    job_id: v.job_id.clone(),
                    reason: match v.item_status.as_str() {
                        "succeeded" => "its project succeeded; reprocess it with `ontofleet enqueue --project PROJECT --run RUN`".to_owned(),
                        other => format!("its item is {other} and will run on its own; watch it with `ontofleet jobs show JOB`"),
                    },
                });
            }
            views
        }
        RetryTarget::Run { run_id, category } => {
            let views = ontofleet_queue::jobs_of_run_for_update(
                &mut *conn,
                *run_id,
                &RETRYABLE_BY_RUN,
                category.map(ErrorCategory::as_str),
            )
            .await?;
            if views.is_empty() {
                // Nothing to retry is not an error, but an unknown run is.
                if ontofleet_db::ledger::get_run(&mut *conn, *run_id)
                    .await?
                    .is_none()
                {
                    return Err(OperatorError::UnknownRun(*run_id).into());
                }
                return Ok(None);
            }
            views
        }
    };
    Ok(Some(views))
}

/// `jobs retry`: move finished items back to `queued`, reset their retry count, requeue their
/// jobs (a new job where the queue row was purged), reopen finished runs.
pub async fn retry_jobs(
    pool: &PgPool,
    target: &RetryTarget,
    settings: &OperatorSettings,
    audit: Option<&AuditEntry>,
    expect: Option<SelectionCheck<'_>>,
) -> Result<Requeued, ProducerError> {
    let mut tx = pool.begin().await?;
    let views = retry_selection(&mut tx, target).await?;
    if let Some(expect) = expect
        && !expect(views.as_deref().unwrap_or_default())
    {
        return Err(ProducerError::SelectionChanged);
    }
    let Some(views) = views else {
        return Ok(Requeued::default());
    };
    let mut report = Requeued::default();
    for (run_id, items) in by_run(&views) {
        let change = put_back(&mut tx, run_id, &items, settings, &mut report.jobs).await?;
        report.runs.push(change);
    }
    if let Some(entry) = audit {
        ontofleet_db::admin::record_audit(&mut tx, entry, Some(report.jobs.len() as i64)).await?;
    }
    tx.commit().await?;
    tracing::info!(
        jobs = report.jobs.len(),
        runs = report.runs.len(),
        "jobs retried by an operator"
    );
    Ok(report)
}

/// Items locked in [`ontofleet_queue::jobs_by_id_for_update`], or the first unknown id.
async fn locked_jobs(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<JobView>, ProducerError> {
    let views = ontofleet_queue::jobs_by_id_for_update(conn, ids).await?;
    if let Some(unknown) = ids
        .iter()
        .find(|id| !views.iter().any(|v| &v.job_id == *id))
    {
        return Err(ProducerError::UnknownJob(unknown.clone()));
    }
    Ok(views)
}

fn by_run(views: &[JobView]) -> BTreeMap<Uuid, Vec<&JobView>> {
    let mut runs: BTreeMap<Uuid, Vec<&JobView>> = BTreeMap::new();
    for v in views {
        runs.entry(v.run_id).or_default().push(v);
    }
    runs
}

/// Reopen the run if needed, requeue the items and their jobs.
async fn put_back(
    conn: &mut PgConnection,
    run_id: Uuid,
    items: &[&JobView],
    settings: &OperatorSettings,
    jobs: &mut Vec<RequeuedJob>,
) -> Result<RunChange, ProducerError> {
    let change = prepare(&mut *conn, run_id, settings).await?;
    let projects: Vec<Uuid> = items.iter().map(|v| v.project_id).collect();
    ontofleet_control::requeue_items(&mut *conn, run_id, &projects).await?;
    let ids: Vec<String> = items.iter().map(|v| v.job_id.clone()).collect();
    let requeued = ontofleet_queue::requeue(&mut *conn, &ids).await?;
    let purged: Vec<&&JobView> = items
        .iter()
        .filter(|v| !requeued.contains(&v.job_id))
        .collect();
    let replacements = if purged.is_empty() {
        Vec::new()
    } else {
        let payloads: Vec<ProjectJob> = purged
            .iter()
            .map(|v| ProjectJob::new(run_id, v.project_id))
            .collect();
        let new_ids = ontofleet_queue::enqueue_projects(
            &mut *conn,
            &payloads,
            queue_max_attempts(&settings.policies),
        )
        .await?;
        for (v, id) in purged.iter().zip(&new_ids) {
            ontofleet_control::set_item_job(&mut *conn, run_id, v.project_id, id).await?;
        }
        purged
            .iter()
            .map(|v| v.job_id.clone())
            .zip(new_ids)
            .collect()
    };
    for v in items {
        let replaced = replacements.iter().find(|(old, _)| *old == v.job_id);
        jobs.push(RequeuedJob {
            job_id: replaced.map_or_else(|| v.job_id.clone(), |(_, new)| new.clone()),
            replaced: replaced.map(|(old, _)| old.clone()),
            run_id,
            project_id: v.project_id,
            previous_status: v.item_status.clone(),
            category: v.error_category.clone(),
        });
    }
    Ok(change)
}

/// [`ontofleet_control::prepare_run`], then kill the queued jobs of a platform run whose expired
/// lease the reopened run took over (as a new platform run would).
async fn prepare(
    conn: &mut PgConnection,
    run_id: Uuid,
    settings: &OperatorSettings,
) -> Result<RunChange, ProducerError> {
    let prepared =
        ontofleet_control::prepare_run(&mut *conn, run_id, &settings.reopen(run_id)).await?;
    if let Some(old) = prepared.superseded {
        ontofleet_queue::kill_jobs_of_run(&mut *conn, old).await?;
    }
    let status = if prepared.reopened {
        RunStatus::Running.as_str().to_owned()
    } else {
        prepared.previous_status.clone()
    };
    Ok(RunChange {
        run_id,
        previous_status: prepared.previous_status,
        status,
        reopened: prepared.reopened,
        superseded: prepared.superseded,
    })
}

/// One job killed by `jobs kill`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KilledJob {
    /// The job.
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Legacy project.
    pub project_id: Uuid,
}

/// The outcome of `jobs kill`.
#[derive(Debug, Clone, Default)]
pub struct Killed {
    /// Jobs killed (their items are `cancelled`).
    pub jobs: Vec<KilledJob>,
    /// Runs this completed, with their final status.
    pub completed_runs: Vec<(Uuid, RunStatus)>,
}

/// `jobs kill`: jobs whose items are waiting (`queued` or `retrying`) are killed and their items
/// cancelled; a run left with nothing to do completes. A job whose item is running, or finished,
/// is refused: nothing is changed.
pub async fn kill_jobs(
    pool: &PgPool,
    ids: &[String],
    audit: Option<&AuditEntry>,
) -> Result<Killed, ProducerError> {
    let mut tx = pool.begin().await?;
    let views = locked_jobs(&mut tx, ids).await?;
    if let Some(v) = views
        .iter()
        .find(|v| !matches!(v.item_status.as_str(), "queued" | "retrying"))
    {
        return Err(ProducerError::NotKillable {
            job_id: v.job_id.clone(),
            reason: match v.item_status.as_str() {
                "running" => format!(
                    "it is running on {}; it finishes on its own, or cancel its run with `ontofleet run cancel {}`",
                    v.worker.as_deref().unwrap_or("a worker"),
                    v.run_id
                ),
                other => format!("its item is already {other}"),
            },
        });
    }
    let mut report = Killed::default();
    for (run_id, items) in by_run(&views) {
        let job_ids: Vec<String> = items.iter().map(|v| v.job_id.clone()).collect();
        ontofleet_queue::kill_jobs(&mut tx, &job_ids).await?;
        let projects: Vec<Uuid> = items.iter().map(|v| v.project_id).collect();
        let (_, done) = ontofleet_control::cancel_items(&mut tx, run_id, &projects).await?;
        if let Some(status) = done {
            report.completed_runs.push((run_id, status));
        }
        report.jobs.extend(items.iter().map(|v| KilledJob {
            job_id: v.job_id.clone(),
            run_id,
            project_id: v.project_id,
        }));
    }
    if let Some(entry) = audit {
        ontofleet_db::admin::record_audit(&mut tx, entry, Some(report.jobs.len() as i64)).await?;
    }
    tx.commit().await?;
    tracing::info!(jobs = report.jobs.len(), "jobs killed by an operator");
    Ok(report)
}

/// `enqueue --project P --run R`: add the project to an existing run, or, if it is already an
/// item there and finished, put it back to work. The worker goes through the ledger, so
/// entities that did not change are not rewritten. A project still waiting or running in the
/// run is refused.
pub async fn enqueue_into_run(
    pool: &PgPool,
    run_id: Uuid,
    project_id: Uuid,
    settings: &OperatorSettings,
    audit: Option<&AuditEntry>,
) -> Result<Requeued, ProducerError> {
    let mut tx = pool.begin().await?;
    crate::check_selection(&mut tx, &Selection::Projects(vec![project_id])).await?;
    let existing: Option<(Option<String>, String)> = sqlx::query_as(
        "SELECT job_id, status FROM migration_run_items WHERE run_id = $1 AND project_id = $2 FOR UPDATE",
    )
    .bind(run_id)
    .bind(project_id)
    .fetch_optional(&mut *tx)
    .await?;
    let mut report = Requeued::default();
    match existing {
        Some((_, status))
            if !RETRYABLE_BY_ID.contains(&status.as_str()) && status != "succeeded" =>
        {
            return Err(ProducerError::AlreadyQueued {
                project_id,
                run_id,
                status,
            });
        }
        Some((Some(job_id), _)) => {
            let views = locked_jobs(&mut tx, &[job_id]).await?;
            let items: Vec<&JobView> = views.iter().collect();
            let change = put_back(&mut tx, run_id, &items, settings, &mut report.jobs).await?;
            report.runs.push(change);
        }
        Some((None, _)) | None => {
            let change = prepare(&mut tx, run_id, settings).await?;
            let ids = ontofleet_queue::enqueue_projects(
                &mut tx,
                &[ProjectJob::new(run_id, project_id)],
                queue_max_attempts(&settings.policies),
            )
            .await?;
            let job_id = ids.into_iter().next().unwrap_or_default();
            if existing.is_some() {
                ontofleet_control::requeue_items(&mut tx, run_id, &[project_id]).await?;
                ontofleet_control::set_item_job(&mut tx, run_id, project_id, &job_id).await?;
            } else {
                ontofleet_control::add_item(&mut tx, run_id, project_id, &job_id).await?;
            }
            report.jobs.push(RequeuedJob {
                job_id,
                replaced: None,
                run_id,
                project_id,
                previous_status: existing.map_or_else(|| "new".to_owned(), |(_, s)| s),
                category: None,
            });
            report.runs.push(change);
        }
    }
    if let Some(entry) = audit {
        ontofleet_db::admin::record_audit(&mut tx, entry, Some(1)).await?;
    }
    tx.commit().await?;
    tracing::info!(%run_id, %project_id, "project enqueued by an operator");
    Ok(report)
}
