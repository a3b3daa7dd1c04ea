//! Worker wiring: an apalis monitor with explicit heartbeat settings, pubsub wake-up plus a poll
//! interval, a name unique per process incarnation and restart, restart on backend errors, and a
//! bounded graceful drain. The business logic is a [`JobHandler`], which never sees apalis.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{
    AbortError, Attempt, BackendExt, BoxDynError, Data, Monitor, ParallelizeExt, TaskId,
    WorkerBuilder, WorkerBuilderExt, WorkerContext,
};
use apalis_postgres::{Config, PostgresStorage};
use ontofleet_core::ProjectJob;
use serde::Deserialize;
use sqlx::PgPool;

use crate::{QUEUE, QueueError, admin};

/// Worker settings (`[worker]` in `ontofleet.toml`, `ONTOFLEET__WORKER__*`).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Jobs executed at once by one process.
    pub concurrency: usize,
    /// Prefix of worker names; the full name adds host, pid, a ULID and the restart count.
    pub name_prefix: String,
    /// Poll interval in seconds, for scheduled retries and requeues that NOTIFY does not cover.
    pub poll_interval_secs: u64,
    /// Heartbeat period in seconds.
    pub heartbeat_secs: u64,
    /// Missed heartbeats after which a worker's jobs are re-enqueued by a live worker.
    pub missed_heartbeats: usize,
    /// How long a graceful shutdown waits for in-flight jobs, in seconds.
    pub shutdown_grace_secs: u64,
}

/// Context of one execution, handed to the handler.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Queue job id (ULID).
    pub job_id: String,
    /// Execution number as counted by the queue (1 on the first run).
    pub queue_attempt: usize,
    /// Name of the worker executing it.
    pub worker: String,
}

/// What the handler wants the queue to do with the job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Finished; mark the row done.
    Done,
    /// Run again, not before `delay` (persisted in `run_at`).
    RetryAfter {
        /// The delay.
        delay: Duration,
        /// Why, for `last_result`.
        reason: String,
    },
    /// Never run again.
    Abort(String),
}

/// The business side of a job; implemented by `ontofleet-worker`.
pub trait JobHandler: Send + Sync + 'static {
    /// Execute one job. Must not panic or hang: the implementation enforces its own timeout.
    fn handle(
        &self,
        job: Result<ProjectJob, String>,
        ctx: JobContext,
    ) -> Pin<Box<dyn Future<Output = JobOutcome> + Send + '_>>;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RetryLater(String);

async fn execute(
    payload: serde_json::Value,
    id: TaskId,
    attempt: Attempt,
    worker: WorkerContext,
    handler: Data<Arc<dyn JobHandler>>,
    pool: Data<PgPool>,
) -> Result<(), BoxDynError> {
    let job = serde_json::from_value::<ProjectJob>(payload)
        .map_err(|e| format!("undecodable payload: {e}"));
    let ctx = JobContext {
        job_id: id.to_string(),
        queue_attempt: attempt.current(),
        worker: worker.name().to_owned(),
    };
    let job_id = ctx.job_id.clone();
    match handler.handle(job, ctx).await {
        JobOutcome::Done => Ok(()),
        JobOutcome::RetryAfter { delay, reason } => {
            let mut conn = pool.acquire().await?;
            admin::reschedule(&mut conn, &job_id, delay).await?;
            Err(RetryLater(reason).into())
        }
        JobOutcome::Abort(reason) => Err(AbortError::new(RetryLater(reason)).into()),
    }
}

/// A worker name unique per process incarnation and restart: reusing a name would make the
/// crashed incarnation's jobs look alive forever (apalis orphan recovery is by name).
pub fn worker_name(prefix: &str, instance: &str, restarts: usize) -> String {
    format!("{prefix}-{instance}-{restarts}")
}

/// Run the worker until `shutdown` resolves, then drain in-flight jobs for up to the grace
/// period. Backend errors restart the inner worker under a new name.
pub async fn run_workers(
    pool: PgPool,
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let instance = format!("{host}-{}-{}", std::process::id(), ulid::Ulid::generate());
    let concurrency = settings.concurrency.max(1);
    let config = Config::default()
        .queue(QUEUE)
        .batch_size(concurrency)
        .heartbeat_interval(Duration::from_secs(settings.heartbeat_secs.max(1)))
        .missed_heartbeats(settings.missed_heartbeats.max(1));
    let prefix = settings.name_prefix.clone();
    tracing::info!(
        worker = %worker_name(&prefix, &instance, 0),
        concurrency,
        orphan_after_secs = config.orphaned_duration().as_secs(),
        "worker starting"
    );
    let poll = Duration::from_secs(settings.poll_interval_secs.max(1));
    let monitor = Monitor::new()
        .register(move |restarts| {
            let backend = PostgresStorage::<serde_json::Value>::new(&pool)
                .with_config(config.clone())
                .with_pubsub()
                .poll_with_interval(poll);
            WorkerBuilder::new(worker_name(&prefix, &instance, restarts))
                .backend(backend)
                .data(handler.clone())
                .data(pool.clone())
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(execute)
        })
        .should_restart(|ctx, err| {
            tracing::error!(worker = ctx.name(), error = %err, "worker stopped on a backend error; restarting");
            true
        })
        .shutdown_timeout(Duration::from_secs(settings.shutdown_grace_secs));
    monitor
        .run_with_signal(async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining in-flight jobs");
            Ok(())
        })
        .await
        .map_err(|e| QueueError::Backend(e.to_string()))
}
