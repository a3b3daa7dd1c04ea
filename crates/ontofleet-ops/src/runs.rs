//! `run list` and `run show`: what a run did, from the ledger.

use chrono::{DateTime, Utc};
use ontofleet_core::{Pace, RunStatus};
use ontofleet_db::ledger::{self, RunRow};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;

/// Items of a run by outcome (the run counters).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ItemCounts {
    /// Items of the run.
    pub total: i32,
    /// Migrated without entity problems.
    pub succeeded: i32,
    /// Migrated with entity problems.
    pub partial: i32,
    /// Failed after their retries.
    pub failed: i32,
    /// Skipped (`fatal`).
    pub skipped: i32,
    /// Cancelled.
    pub cancelled: i32,
}

/// A run as every view shows it (`run list`, `run show`, `run start --watch`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    /// Run id.
    pub run_id: Uuid,
    /// `platform`, `user` or `projects`.
    pub scope: String,
    /// Run status.
    pub status: String,
    /// A dry run writes nothing.
    pub dry_run: bool,
    /// Options it was started with.
    pub options: Value,
    /// The run's reference time (what "now" means for its transforms).
    pub reference_time: DateTime<Utc>,
    /// Who started it.
    pub initiated_by: String,
    /// Fencing token of a platform run.
    pub lock_token: Option<i64>,
    /// Items by outcome.
    pub items: ItemCounts,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Start.
    pub started_at: Option<DateTime<Utc>>,
    /// End.
    pub finished_at: Option<DateTime<Utc>>,
    /// From start (or creation) to end (or now), in seconds, to the millisecond.
    pub duration_secs: f64,
    /// The completion summary.
    pub summary: Value,
    /// The ledger row (for printers; not serialised).
    #[serde(skip)]
    pub row: RunRow,
}

/// Seconds from the run's start (or creation) to its end (or now), to the millisecond.
pub fn duration_secs(run: &RunRow) -> f64 {
    let start = run.started_at.unwrap_or(run.created_at);
    let end = run.finished_at.unwrap_or_else(Utc::now);
    (end - start).num_milliseconds().max(0) as f64 / 1000.0
}

impl From<RunRow> for RunView {
    fn from(run: RunRow) -> Self {
        Self {
            run_id: run.id,
            scope: run.scope.clone(),
            status: run.status.clone(),
            dry_run: run.dry_run,
            options: run.options.clone(),
            reference_time: run.reference_time,
            initiated_by: run.initiated_by.clone(),
            lock_token: run.lock_token,
            items: ItemCounts {
                total: run.total_items,
                succeeded: run.succeeded_items,
                partial: run.partial_items,
                failed: run.failed_items,
                skipped: run.skipped_items,
                cancelled: run.cancelled_items,
            },
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_secs: duration_secs(&run),
            summary: run.summary.clone(),
            row: run,
        }
    }
}

/// The response of `run list`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunList {
    /// Most recent first.
    pub runs: Vec<RunView>,
}

/// `run list`: the `limit` most recent runs.
pub async fn list(pool: &PgPool, limit: i64) -> Result<RunList, OpsError> {
    if limit < 1 {
        return Err(OpsError::Invalid("--limit must be at least 1".to_owned()));
    }
    let runs = ledger::list_runs(pool, limit).await?;
    Ok(RunList {
        runs: runs.into_iter().map(RunView::from).collect(),
    })
}

/// A page of `GET /runs`: `limit` runs created before the `after` cursor (newest first), and
/// the cursor of the next page when there is one.
pub async fn list_page(
    pool: &PgPool,
    limit: i64,
    after: Option<&str>,
) -> Result<(RunList, Option<String>), OpsError> {
    if !(1..=500).contains(&limit) {
        return Err(OpsError::Invalid(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let after = after.map(parse_cursor).transpose()?;
    let mut runs = ledger::list_runs_after(pool, after, limit + 1).await?;
    let next = if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        runs.last()
            .map(|r| format!("{}_{}", r.created_at.timestamp_micros(), r.id))
    } else {
        None
    };
    Ok((
        RunList {
            runs: runs.into_iter().map(RunView::from).collect(),
        },
        next,
    ))
}

/// A keyset cursor `MICROS_ID` (what [`list_page`] returns).
fn parse_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid), OpsError> {
    raw.split_once('_')
        .and_then(|(t, id)| {
            Some((
                DateTime::from_timestamp_micros(t.parse().ok()?)?,
                id.parse().ok()?,
            ))
        })
        .ok_or_else(|| {
            OpsError::Invalid(format!(
                "`{raw}` is not a page cursor; pass the `after` of the previous page's Link header"
            ))
        })
}

/// Items that failed, were skipped or wait for a retry, with the same category and message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureGroup {
    /// Category of the failure.
    pub category: Option<String>,
    /// The message, ids and numbers replaced by `#`.
    pub message: String,
    /// Items.
    pub items: i64,
    /// One of their jobs, to drill into.
    pub sample_job_id: Option<String>,
}

/// A run's failures grouped by category and normalised message (at most 100 groups).
pub async fn failures(pool: &PgPool, run_id: Uuid) -> Result<Vec<FailureGroup>, OpsError> {
    get(pool, run_id).await?;
    Ok(ledger::failure_groups(pool, run_id, 100)
        .await?
        .into_iter()
        .map(|(category, message, items, sample_job_id)| FailureGroup {
            category,
            message,
            items,
            sample_job_id,
        })
        .collect())
}

/// Median and 95th percentile of the run's attempt durations in ms (over at most 10,000).
pub async fn item_times(
    pool: &PgPool,
    run_id: Uuid,
) -> Result<(Option<f64>, Option<f64>), OpsError> {
    Ok(ledger::attempt_percentiles(pool, run_id).await?)
}

/// A run's live progress (`GET /runs/{run}/events`): what `run watch` shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunProgress {
    /// The run (its counters).
    pub run: RunView,
    /// Items by status and last failure category.
    pub items_by_status: Vec<StatusCount>,
    /// The run is finished: no more progress will come.
    pub finished: bool,
    /// Items per second since the run started (its paused time left out), and the time left.
    pub pace: PaceView,
    /// Its controls in one line (`paused by alice: deploy window`, `throttled: …`).
    pub control: String,
}

/// [`ontofleet_core::Pace`] as the API returns it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PaceView {
    /// Items finished per second (0 before the first one).
    pub rate_per_sec: f64,
    /// Seconds left at that rate; absent when unknown or nothing is left.
    pub eta_secs: Option<f64>,
}

impl RunView {
    /// Whether the run is still being worked on ([`RunStatus::ACTIVE`]).
    pub fn is_active(&self) -> bool {
        RunStatus::is_active_str(&self.status)
    }

    /// Items finished (terminal).
    pub fn done(&self) -> i64 {
        i64::from(self.row.done_items())
    }

    /// Its pace from its start, the time it spent paused (`paused_secs`) left out: items
    /// finished over its working time, and the time left at that pace.
    pub fn pace(&self, paused_secs: f64) -> Pace {
        let left = i64::from(self.items.total) - self.done();
        let working = (self.duration_secs - paused_secs).max(0.0);
        Pace::of(self.done(), left, working, self.is_active())
    }
}

/// A run's progress, read in one round of queries.
pub async fn progress(pool: &PgPool, run_id: Uuid) -> Result<RunProgress, OpsError> {
    let run: RunView = get(pool, run_id).await?.into();
    let control = crate::controls::control_view(pool, run_id, &run.status).await?;
    let pace = run.pace(control.paused_secs);
    Ok(RunProgress {
        control: control.state,
        items_by_status: items_by_status(pool, run_id).await?,
        finished: !run.is_active(),
        run,
        pace: PaceView {
            rate_per_sec: pace.rate_per_sec,
            eta_secs: pace.eta_secs,
        },
    })
}

/// Seconds the run has spent paused (its open pause counted to now).
pub async fn paused_secs(pool: &PgPool, run_id: Uuid) -> Result<f64, OpsError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at)), 0)::float8 \
           FROM migration_run_pauses WHERE run_id = $1",
    )
    .bind(run_id)
    .fetch_one(pool)
    .await?)
}

/// The run, or the error that names it as unknown.
pub async fn get(pool: &PgPool, run: Uuid) -> Result<RunRow, OpsError> {
    ledger::get_run_pool(pool, run).await?.ok_or_else(|| {
        OpsError::NotFound(format!(
            "run {run} does not exist; list runs with `ontofleet run list`"
        ))
    })
}

/// Items of one status (and last failure category).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusCount {
    /// Item status.
    pub status: String,
    /// Category of the last failure, if any.
    pub category: Option<String>,
    /// Items.
    pub count: i64,
}

/// One of the most frequent item errors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopError {
    /// Its category.
    pub category: Option<String>,
    /// The message.
    pub message: String,
    /// Items that ended with it.
    pub items: i64,
}

/// Entity problems of one kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntityProblem {
    /// Entity (or reference) type.
    pub entity_type: String,
    /// `skipped` or `failed`.
    pub status: String,
    /// Category.
    pub category: Option<String>,
    /// How many.
    pub count: i64,
}

/// The platform lock as a run sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunLock {
    /// This run holds the lock with a live lease.
    pub held_by_this_run: bool,
    /// The lock's current fencing token.
    pub token: i64,
    /// Lease end.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The response of `run show`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunView,
    /// Items by status and category.
    pub items_by_status: Vec<StatusCount>,
    /// The 5 most frequent item errors.
    pub top_errors: Vec<TopError>,
    /// Entity problems by type, status and category.
    pub entity_problems: Vec<EntityProblem>,
    /// Entities by action, summed over the items (`{entity: {action: n}}`, `classified`, `edges`).
    pub entities: Value,
    /// The platform lock.
    pub lock: RunLock,
    /// Pause, limits, error budget and the governor, with the time spent paused and throttled
    /// (SPEC §14).
    pub control: crate::controls::ControlView,
}

/// `run show`.
pub async fn show(pool: &PgPool, run_id: Uuid) -> Result<RunDetail, OpsError> {
    let run = get(pool, run_id).await?;
    let by_status = ledger::item_breakdown(pool, run_id).await?;
    let errors = ledger::top_errors(pool, run_id, 5).await?;
    let problems = ledger::entity_problems(pool, run_id).await?;
    let entities = ledger::entity_totals(pool, run_id).await?;
    let control = crate::controls::control_view(pool, run_id, &run.status).await?;
    let mut conn = pool.acquire().await?;
    let lock = ontofleet_control::lock_status(&mut conn).await?;
    Ok(RunDetail {
        control,
        run: run.into(),
        items_by_status: by_status
            .into_iter()
            .map(|(status, category, count)| StatusCount {
                status,
                category,
                count,
            })
            .collect(),
        top_errors: errors
            .into_iter()
            .map(|(category, message, items)| TopError {
                category,
                message,
                items,
            })
            .collect(),
        entity_problems: problems
            .into_iter()
            .map(|(entity_type, status, category, count)| EntityProblem {
                entity_type,
                status,
                category,
                count,
            })
            .collect(),
        entities,
        lock: RunLock {
            held_by_this_run: lock.run_id == Some(run_id) && lock.is_locked,
            token: lock.token,
            expires_at: lock.expires_at,
        },
    })
}

/// The response of `run validate`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Validated {
    /// The reconciliation.
    #[serde(flatten)]
    pub validation: ontofleet_control::validate::Validation,
    /// The run.
    pub run_id: Uuid,
    /// Its status.
    pub run_status: String,
    /// Mismatches of every kind.
    pub mismatches: i64,
    /// Source and target reconcile.
    pub ok: bool,
}

/// `run validate`: reconcile a run's projects, source against target.
pub async fn validate(pool: &PgPool, run_id: Uuid) -> Result<Validated, OpsError> {
    let run = get(pool, run_id).await?;
    if run.dry_run {
        return Err(OpsError::Invalid(format!(
            "run {run_id} is a dry run: it wrote nothing to validate"
        )));
    }
    let mut conn = pool.acquire().await?;
    let validation = ontofleet_control::validate::validate_run(&mut conn, run_id)
        .await
        .map_err(|e| OpsError::Unavailable(format!("validation failed: {e}")))?;
    let mismatches = validation.mismatches();
    Ok(Validated {
        validation,
        run_id,
        run_status: run.status,
        mismatches,
        ok: mismatches == 0,
    })
}

/// The response of `run cancel`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cancelled {
    /// The run.
    pub run_id: Uuid,
    /// Its status now: `cancelled`, or `cancelling` while items still run.
    pub status: String,
    /// Queued jobs killed.
    pub jobs_killed: u64,
    /// Items cancelled.
    pub items_cancelled: u64,
    /// Items still running (they finish first).
    pub items_still_running: i32,
}

/// `run cancel`: kill the run's queued jobs and cancel their items, in one transaction.
pub async fn cancel(pool: &PgPool, run_id: Uuid, actor: &Actor) -> Result<Cancelled, OpsError> {
    let before = get(pool, run_id).await?;
    let mut tx = pool.begin().await?;
    // Kill first, in the same transaction: a job cannot start between the two steps and find
    // its item cancelled but its queue row live.
    let killed = ontofleet_queue::kill_jobs_of_run(&mut tx, run_id)
        .await
        .map_err(|e| OpsError::Unavailable(format!("cannot kill the run's jobs: {e}")))?;
    let cancelled = ontofleet_control::cancel_run(&mut tx, run_id)
        .await
        .map_err(|e| OpsError::Unavailable(format!("cannot cancel run {run_id}: {e}")))?;
    if let Some(items) = cancelled {
        let entry = actor.entry("run.cancel", json!({"run_id": run_id}));
        ontofleet_db::admin::record_audit(&mut tx, &entry, Some(items as i64)).await?;
    }
    tx.commit().await?;
    let Some(cancelled) = cancelled else {
        return Err(OpsError::Conflict(format!(
            "run {run_id} is already {}; only pending or running runs can be cancelled",
            before.status
        )));
    };
    let run = get(pool, run_id).await?;
    Ok(Cancelled {
        run_id,
        items_still_running: run.total_items - run.done_items(),
        status: run.status,
        jobs_killed: killed,
        items_cancelled: cancelled,
    })
}

/// The response of `run rollback`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RolledBack {
    /// What was deleted and kept.
    #[serde(flatten)]
    pub totals: ontofleet_control::rollback::RunRollback,
    /// The run.
    pub run_id: Uuid,
    /// Mappings deleted (one per onto row).
    pub mappings_deleted: i64,
}

/// `run rollback`: delete, project by project under each project's lock, the ontology rows the
/// run created (rows a later run changed stay). `confirmed` is the operator's explicit yes.
pub async fn rollback(
    pool: &PgPool,
    run_id: Uuid,
    confirmed: bool,
    actor: &Actor,
) -> Result<RolledBack, OpsError> {
    let run = get(pool, run_id).await?;
    if run.dry_run {
        return Err(OpsError::Invalid(format!(
            "run {run_id} is a dry run: it wrote nothing to roll back"
        )));
    }
    if RunStatus::is_active_str(&run.status) {
        return Err(OpsError::Conflict(format!(
            "run {run_id} is still {}; cancel it first with `ontofleet run cancel {run_id}` and wait until it is cancelled",
            run.status
        )));
    }
    if !confirmed {
        return Err(OpsError::Invalid(format!(
            "rollback deletes the ontology rows and mappings run {run_id} created; pass --yes to confirm"
        )));
    }
    // The rollback is one transaction per project (resumable), so its audit row is committed
    // first: the request is on record even if the rollback stops half-way.
    let mut conn = pool.acquire().await?;
    let entry = actor.entry("run.rollback", json!({"run_id": run_id}));
    ontofleet_db::admin::record_audit(&mut conn, &entry, Some(i64::from(run.total_items))).await?;
    drop(conn);
    let totals = ontofleet_control::rollback::rollback_run(pool, run_id, &actor.initiated_by())
        .await
        .map_err(|e| OpsError::Unavailable(e.to_string()))?;
    if let Err(e) = ontofleet_control::refresh_stats(pool).await {
        tracing::warn!(error = %e, "stats refresh failed; run `ontofleet stats --refresh`");
    }
    Ok(RolledBack {
        mappings_deleted: totals.rows(),
        totals,
        run_id,
    })
}

/// The response of `run start`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Started {
    /// The new run.
    pub run_id: Uuid,
    /// Its status after the producer's transaction.
    pub status: String,
    /// Items enqueued.
    pub total_items: usize,
    /// The expired platform run whose lock it took over (now cancelled).
    #[serde(skip)]
    pub superseded: Option<Uuid>,
}

/// `run start`: select the projects, create the run, its items and jobs in one transaction.
pub async fn start(
    pool: &PgPool,
    request: &ontofleet_producer::RunRequest,
    producer: &ontofleet_producer::ProducerSettings,
    actor: &Actor,
) -> Result<Started, OpsError> {
    let entry = actor.entry(
        "run.start",
        json!({
            "selection": request.selection.to_json(),
            "dry_run": request.dry_run,
            "force": request.force,
            "include_archived": request.include_archived,
            "include_completed_tasks": request.include_completed_tasks,
            "resync": request.resync,
        }),
    );
    let started = ontofleet_producer::start_run(pool, request, producer, Some(&entry)).await?;
    if let Some(old) = started.superseded {
        tracing::warn!(%old, "the previous platform run's lease had expired; it was cancelled");
    }
    Ok(Started {
        run_id: started.run_id,
        status: started.status,
        total_items: started.total_items,
        superseded: started.superseded,
    })
}

/// Items of a run by status and last failure category (what a watch shows, refreshed every
/// few seconds: it reads every item of the run).
pub async fn items_by_status(pool: &PgPool, run_id: Uuid) -> Result<Vec<StatusCount>, OpsError> {
    Ok(ledger::item_breakdown(pool, run_id)
        .await?
        .into_iter()
        .map(|(status, category, count)| StatusCount {
            status,
            category,
            count,
        })
        .collect())
}

/// Wait up to `tick` for a completion NOTIFY (without a listener, just `tick`); a listener whose
/// connection broke is dropped, and the caller goes on polling.
pub async fn wait_for_completion(
    listener: &mut Option<sqlx::postgres::PgListener>,
    tick: std::time::Duration,
) {
    match listener.as_mut() {
        Some(l) => {
            if let Ok(Err(_)) = tokio::time::timeout(tick, l.recv()).await {
                *listener = None;
            }
        }
        None => tokio::time::sleep(tick).await,
    }
}

/// A listener woken by every run completion (`run watch` returns at once instead of at its next
/// poll); `None` where LISTEN is not possible (behind a transaction-mode pooler, say).
pub async fn completion_listener(pool: &PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.ok()?;
    listener
        .listen(ontofleet_control::RUN_COMPLETED_CHANNEL)
        .await
        .ok()?;
    Some(listener)
}
