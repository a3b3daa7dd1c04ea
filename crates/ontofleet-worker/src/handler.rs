//! The job handler: item bookkeeping, pre-classification, the project transaction (which also
//! finishes the queue row), timeout and panic capture, `decide()` on failure and the failure's
//! recording in one transaction — every item and queue write conditional on still holding the
//! job's queue row.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;
use ontofleet_control::{ControlError, ItemResult, RunFence};
use ontofleet_core::{Decision, ErrorCategory, ItemStatus, ProjectJob, RunStatus, decide};
use ontofleet_db::ledger::{self, AttemptRecord, RunRow};
use ontofleet_pipeline::{Pipeline, PipelineError, RunContext};
use ontofleet_queue::{Handled, JobContext, JobHandler, JobOutcome};
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use crate::HandlerSettings;
use crate::outcome::{Inflight, LOST, attempt_outcome, count_attempt, not_before, panic_message};

/// Failures of one attempt, each with a category.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    #[cfg(feature = "faults")]
    #[error("injected {0} fault (faults.fail_*)")]
    Injected(ErrorCategory),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Db(#[from] ontofleet_db::DbError),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Queue(#[from] ontofleet_queue::QueueError),
    /// The job's queue row was re-enqueued while this execution ran (this worker missed its
    /// heartbeats): the transaction was rolled back, the job is the next holder's.
    #[error(
        "lost the job: it was re-enqueued while this worker ran it (missed heartbeats); nothing written"
    )]
    Lost,
}

impl AttemptError {
    /// When the classifier's server asked to be called again (`Retry-After` and kin).
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Pipeline(e) => e.retry_after(),
            _ => None,
        }
    }

    fn category(&self) -> ErrorCategory {
        match self {
            Self::Pipeline(e) => e.category(),
            Self::Control(e) => e.category(),
            Self::Db(e) => e.category(),
            Self::Sqlx(e) => ontofleet_db::category_of(e),
            #[cfg(feature = "faults")]
            Self::Injected(c) => *c,
            Self::Queue(e) => e.category(),
            Self::Lost => ErrorCategory::Recoverable,
        }
    }
}

/// What a successful attempt did.
enum Done {
    Committed {
        status: ItemStatus,
        completed_run: Option<RunStatus>,
    },
    AlreadyTerminal,
}

/// The job handler: pipeline + outcome recording + decide.
pub struct ProjectHandler {
    pool: PgPool,
    pipeline: Pipeline,
    settings: HandlerSettings,
}

impl ProjectHandler {
    /// A handler over a loaded pipeline.
    pub fn new(pool: PgPool, pipeline: Pipeline, settings: HandlerSettings) -> Self {
        Self {
            pool,
            pipeline,
            settings,
        }
    }

    fn fence(&self, run: &RunRow) -> RunFence {
        RunFence {
            run_id: run.id,
            lock_token: run.lock_token,
            lease: self.settings.lease,
        }
    }

    async fn attempt(
        &self,
        run: &RunRow,
        project_id: Uuid,
        fallback: bool,
        record: &AttemptRecord<'_>,
        job: &JobContext,
        t0: Instant,
    ) -> Result<Done, AttemptError> {
        let ctx = RunContext {
            run_id: run.id,
            reference_time: run.reference_time,
            include_completed_tasks: run.options["include_completed_tasks"]
                .as_bool()
                .unwrap_or(false),
            fallback,
            dry_run: run.dry_run,
            item_gate: true,
            deletes: ontofleet_pipeline::delete::DeletePolicy::from_run_options(&run.options),
        };
        // A remote classifier answers before the transaction, with no connection held.
        let pre =
            ontofleet_pipeline::preclassify(&self.pool, &self.pipeline, &ctx, project_id).await?;
        // The worker's pool commits asynchronously: see `ontofleet_db::connect_worker`.
        // BEGIN and the project lock go in one round trip (a simple query; the key is an integer
        // we format). A duplicate execution waits here for the first one; the load statement,
        // whose snapshot is taken after the lock, then reads the item terminal and the pipeline
        // stops before writing (`item_gate`).
        let begin = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            ontofleet_pipeline::project_lock_key(project_id)
        );
        let mut tx = self.pool.begin_with(sqlx::AssertSqlSafe(begin)).await?;
        #[cfg(feature = "faults")]
        if let Some(kind) = self.settings.faults.failing(project_id, record.attempt) {
            crate::faults::strike(kind, &mut tx, run.id, project_id, self.settings.job_timeout)
                .await?;
        }
        let Some(outcome) =
            ontofleet_pipeline::migrate_project(&mut tx, &self.pipeline, &ctx, project_id, &pre)
                .await?
        else {
            return Ok(Done::AlreadyTerminal);
        };
        #[cfg(feature = "faults")]
        self.settings.faults.hold().await;
        let status = if outcome.partial {
            ItemStatus::Partial
        } else {
            ItemStatus::Succeeded
        };
        let attempt = AttemptRecord {
            outcome: status.as_str(),
            duration_ms: t0.elapsed().as_millis() as i64,
            ..record.clone()
        };
        let result = ItemResult {
            status,
            counts: Some(&outcome.counts),
            preview: outcome.preview.as_ref(),
            category: None,
            error: None,
            attempt: Some(&attempt),
        };
        // The queue row is finished by the transaction that writes the project: a committed
        // project and a `Done` job cannot disagree, and no acknowledgement follows. Before the
        // item commit, whose statement locks the run row that every item of the run shares:
        // from then on only the COMMIT may stand between it and the next item's commit.
        let completed_run = async {
            // A row this worker no longer holds: dropping `tx` rolls every write back.
            if !ontofleet_queue::record_outcome(&mut tx, job, &JobOutcome::Done).await? {
                return Err(AttemptError::Lost);
            }
            let completed =
                ontofleet_control::complete_item(&mut tx, self.fence(run), project_id, &result)
                    .await?;
            tx.commit().await?;
            Ok::<_, AttemptError>(completed)
        }
        .instrument(tracing::info_span!("commit"))
        .await?;
        if !run.dry_run {
            ontofleet_telemetry::metrics::record_entities(&outcome.counts, &outcome.not_written);
        }
        Ok(Done::Committed {
            status,
            completed_run,
        })
    }

    /// Record a failed attempt and what follows it, in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn record_failure(
        &self,
        run: &RunRow,
        job: &ProjectJob,
        record: &AttemptRecord<'_>,
        ctx: &JobContext,
        category: ErrorCategory,
        message: &str,
        decision: Decision,
    ) -> Result<Option<RunStatus>, AttemptError> {
        let mut tx = self.pool.begin().await?;
        let queue_outcome = match decision {
            Decision::Retry { delay, .. } => JobOutcome::RetryAfter {
                delay,
                reason: message.to_owned(),
            },
            Decision::Fail | Decision::Skip => JobOutcome::Abort(message.to_owned()),
        };
        // First, as in a successful attempt: the run row is locked last. Nothing of a job this
        // worker no longer holds is written (the item is the next holder's).
        if !ontofleet_queue::record_outcome(&mut tx, ctx, &queue_outcome).await? {
            return Err(AttemptError::Lost);
        }
        let outcome = attempt_outcome(decision);
        ledger::insert_attempt(
            &mut tx,
            &AttemptRecord {
                outcome,
                error_category: Some(category.as_str()),
                error_message: Some(message),
                ..record.clone()
            },
        )
        .await?;
        let completed = match decision {
            Decision::Retry { fallback, .. } => {
                ontofleet_control::retry_item(
                    &mut tx,
                    run.id,
                    job.project_id,
                    fallback,
                    category,
                    message,
                )
                .await?;
                None
            }
            Decision::Fail | Decision::Skip => {
                let failure = ontofleet_control::Failure {
                    status: if decision == Decision::Fail {
                        ItemStatus::Failed
                    } else {
                        ItemStatus::Skipped
                    },
                    category,
                    message,
                    attempt: record.attempt,
                    job_id: record.job_id,
                };
                ontofleet_control::fail_item(
                    &mut tx,
                    self.fence(run),
                    run.dry_run,
                    job.project_id,
                    &failure,
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(completed)
    }

    async fn cancel_item(
        &self,
        run: &RunRow,
        project_id: Uuid,
        ctx: &JobContext,
        reason: &str,
    ) -> Result<Option<RunStatus>, AttemptError> {
        let mut tx = self.pool.begin().await?;
        if !ontofleet_queue::record_outcome(&mut tx, ctx, &JobOutcome::Abort(reason.to_owned()))
            .await?
        {
            return Err(AttemptError::Lost);
        }
        let done = ontofleet_control::cancel_item(&mut tx, run.id, project_id).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn after_completion(&self, run_id: Uuid, status: RunStatus) {
        tracing::info!(%run_id, %status, "this commit completed the run; refreshing stats");
        if let Err(e) = ontofleet_control::refresh_stats(&self.pool).await {
            tracing::warn!(%run_id, error = %e, "stats refresh failed; run `ontofleet stats --refresh`");
        }
    }

    #[tracing::instrument(name = "job", skip_all, fields(run_id = %job.run_id, project_id = %job.project_id, job_id = %ctx.job_id, attempt))]
    async fn run_job(&self, job: ProjectJob, ctx: JobContext) -> Handled {
        let begun = match ledger::begin_attempt(
            &self.pool,
            job.run_id,
            job.project_id,
            &ctx.worker,
            &ctx.job_id,
        )
        .await
        {
            Ok(Some(begun)) if !begun.holds => {
                tracing::warn!("the job was re-enqueued before it started here; not run");
                return Handled::lost();
            }
            Ok(Some(begun)) if begun.held && begun.attempt().is_none() => {
                // Claimed before its run was paused (or the governor paused the fleet): it
                // does not start; it goes back to the queue with its attempt uncounted.
                tracing::info!("run paused: job given back unstarted");
                return Handled::outcome(JobOutcome::Release);
            }
            Ok(Some(begun)) => begun,
            Ok(None) => {
                return Handled::outcome(JobOutcome::Abort(format!(
                    "run {} does not exist",
                    job.run_id
                )));
            }
            Err(e) => return self.infrastructure_retry(&ctx, &e.to_string()),
        };
        let run = &begun.run;
        if matches!(run.status.as_str(), "cancelling" | "cancelled") {
            let reason = "run cancelled";
            return match self.cancel_item(run, job.project_id, &ctx, reason).await {
                Ok(completed) => {
                    if let Some(status) = completed {
                        self.after_completion(run.id, status).await;
                    }
                    Handled::recorded(JobOutcome::Abort(reason.to_owned()))
                }
                Err(AttemptError::Lost) => Handled::lost(),
                Err(e) => self.infrastructure_retry(&ctx, &e.to_string()),
            };
        }
        let Some(ledger::AttemptStart {
            attempt,
            policy_attempt,
            fallback,
        }) = begun.attempt()
        else {
            return Handled::outcome(JobOutcome::Done); // already terminal: a duplicate delivery
        };
        tracing::Span::current().record("attempt", attempt);
        let _inflight = Inflight::start();
        let started_at = Utc::now();
        let t0 = Instant::now();
        let mut record = AttemptRecord {
            run_id: run.id,
            project_id: job.project_id,
            job_id: &ctx.job_id,
            attempt,
            worker: &ctx.worker,
            started_at,
            outcome: "",
            error_category: None,
            error_message: None,
            fallback,
            duration_ms: 0,
        };
        let result = tokio::time::timeout(
            self.settings.job_timeout,
            AssertUnwindSafe(self.attempt(run, job.project_id, fallback, &record, &ctx, t0))
                .catch_unwind(),
        )
        .await;
        record.duration_ms = t0.elapsed().as_millis() as i64;
        let mut retry_after = None;
        let (category, message) = match result {
            Ok(Ok(Ok(Done::Committed {
                status,
                completed_run,
            }))) => {
                tracing::info!(status = %status, duration_ms = record.duration_ms, fallback, "project migrated");
                count_attempt(status.as_str(), None, t0.elapsed());
                if let Some(done) = completed_run {
                    self.after_completion(run.id, done).await;
                }
                return Handled::recorded(JobOutcome::Done);
            }
            Ok(Ok(Ok(Done::AlreadyTerminal))) => return Handled::outcome(JobOutcome::Done),
            Ok(Ok(Err(AttemptError::Control(ControlError::Fenced { .. })))) => {
                // The run lost the lock (taken over or force-released): nothing of the project
                // was written. The item ends as `cancelled`, so the run still reaches a
                // terminal state instead of waiting for items that can never commit.
                tracing::warn!("run lost the platform lock; nothing written, item cancelled");
                let reason = "fenced: run no longer holds the platform lock";
                match self.cancel_item(run, job.project_id, &ctx, reason).await {
                    Ok(Some(status)) => self.after_completion(run.id, status).await,
                    Ok(None) => {}
                    Err(AttemptError::Lost) => return self.lost(&record, t0).await,
                    Err(e) => return self.infrastructure_retry(&ctx, &e.to_string()),
                }
                count_attempt("cancelled", None, t0.elapsed());
                return Handled::recorded(JobOutcome::Abort(reason.to_owned()));
            }
            Ok(Ok(Err(AttemptError::Lost))) => return self.lost(&record, t0).await,
            Ok(Ok(Err(e))) => {
                retry_after = e.retry_after();
                (e.category(), e.to_string())
            }
            Ok(Err(panic)) => (
                ErrorCategory::Fatal,
                format!("panic: {}", panic_message(&panic)),
            ),
            Err(_) => (
                ErrorCategory::Recoverable,
                format!("timed out after {}s", self.settings.job_timeout.as_secs()),
            ),
        };
        let decision = not_before(
            decide(
                &self.settings.policies,
                category,
                policy_attempt.max(1) as u32,
                fallback,
                rand::random_range(-1.0..=1.0),
            ),
            retry_after,
        );
        tracing::warn!(category = %category, error = %message, ?decision, "attempt failed");
        match self
            .record_failure(run, &job, &record, &ctx, category, &message, decision)
            .await
        {
            Ok(completed) => {
                count_attempt(attempt_outcome(decision), Some(category), t0.elapsed());
                if let Some(done) = completed {
                    self.after_completion(run.id, done).await;
                }
                Handled::recorded(match decision {
                    Decision::Retry { delay, .. } => JobOutcome::RetryAfter {
                        delay,
                        reason: message,
                    },
                    Decision::Fail | Decision::Skip => JobOutcome::Abort(message),
                })
            }
            Err(AttemptError::Lost) => self.lost(&record, t0).await,
            Err(e) => self.infrastructure_retry(
                &ctx,
                &format!("{message}; recording the failure also failed: {e}"),
            ),
        }
    }

    /// This execution lost its job (re-enqueued under it) and wrote nothing: the attempt is
    /// recorded as `lost` for the history, outside any transaction of the item's, whose state
    /// is the next holder's.
    async fn lost(&self, record: &AttemptRecord<'_>, t0: Instant) -> Handled {
        tracing::warn!(
            "lost the job to a rescue while running it (missed heartbeats); nothing written"
        );
        count_attempt(LOST, None, t0.elapsed());
        let message = AttemptError::Lost.to_string();
        let lost = AttemptRecord {
            outcome: LOST,
            error_message: Some(&message),
            duration_ms: t0.elapsed().as_millis() as i64,
            ..record.clone()
        };
        let recorded = async {
            let mut conn = self.pool.acquire().await?;
            ledger::insert_attempt(&mut conn, &lost).await
        }
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record the lost attempt");
        }
        Handled::lost()
    }

    /// The ledger itself is unreachable: retry later with the recoverable policy's base delay.
    fn infrastructure_retry(&self, ctx: &JobContext, message: &str) -> Handled {
        let delay = self
            .settings
            .policies
            .recoverable
            .delay(ctx.queue_attempt as u32, rand::random_range(-1.0..=1.0));
        tracing::warn!(
            error = message,
            delay_secs = delay.as_secs_f64(),
            "ledger unavailable; job rescheduled"
        );
        Handled::outcome(JobOutcome::RetryAfter {
            delay,
            reason: message.to_owned(),
        })
    }
}

impl JobHandler for ProjectHandler {
    /// A live worker keeps the platform lock of the run being worked on (SPEC §6.4).
    fn on_beat<'a>(
        &'a self,
        conn: &'a mut sqlx::PgConnection,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if let Err(e) = ontofleet_control::lock::renew_active(conn, self.settings.lease).await {
                tracing::warn!(error = %e, "renewing the platform lock's lease failed");
            }
        })
    }

    fn handle(
        &self,
        payload: Vec<u8>,
        ctx: JobContext,
    ) -> Pin<Box<dyn Future<Output = Handled> + Send + '_>> {
        Box::pin(async move {
            match serde_json::from_slice::<ProjectJob>(&payload) {
                Ok(job) => self.run_job(job, ctx).await,
                Err(e) => {
                    let message = format!("undecodable payload: {e}");
                    tracing::error!(job_id = %ctx.job_id, error = %message, "undecodable job payload; killed");
                    Handled::outcome(JobOutcome::Abort(message))
                }
            }
        }
        .instrument(tracing::Span::current()))
    }
}
