//! Worker wiring: an apalis monitor whose workers run on [`FleetBackend`] (batched claims, no
//! lost wake-ups, completion inside the handler's transaction, heartbeats and orphan rescue),
//! a name unique per process incarnation and restart, restart on errors, and a bounded graceful
//! drain. The business logic is a [`JobHandler`], which never sees apalis.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{
    BoxDynError, Data, Monitor, ParallelizeExt, WorkerBuilder, WorkerBuilderExt, WorkerContext,
};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};

use crate::backend::{Claim, FleetBackend, FleetJob, Shared, SqlClaim};
use crate::{QueueError, sql};

/// Worker settings (`[worker]` in `ontofleet.toml`, `ONTOFLEET__WORKER__*`).
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Jobs executed at once by one process.
    pub concurrency: usize,
    /// Jobs claimed ahead of free slots, so a slot that frees finds its next job waiting instead
    /// of waiting for a claim (0 = claim only for free slots). Each claim then takes more rows,
    /// which is what makes short jobs cheap for the database; a worker holds at most
    /// `concurrency + prefetch` jobs, and gives back the unstarted ones when it stops.
    #[serde(default)]
    pub prefetch: usize,
    /// Prefix of worker names; the full name adds host, pid, a ULID and the restart count.
    pub name_prefix: String,
    /// Poll interval in seconds, for scheduled retries (NOTIFY covers new and requeued jobs).
    pub poll_interval_secs: u64,
    /// Heartbeat period in seconds.
    pub heartbeat_secs: u64,
    /// Missed heartbeats after which a worker's jobs are re-enqueued by a live worker.
    pub missed_heartbeats: usize,
    /// How long a graceful shutdown waits for in-flight jobs, in seconds.
    pub shutdown_grace_secs: u64,
}

/// Size of the pool a worker process's queue machinery runs on ([`run_workers`]): the
/// fetcher's connection, the listener's, and two for the heartbeat, the acknowledgements, the
/// shutdown's give-back and the process's ops probes.
pub const QUEUE_CONNECTIONS: u32 = 4;

/// Context of one execution, handed to the handler.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Queue job id (ULID).
    pub job_id: String,
    /// Execution number as counted by the queue (1 on the first run).
    pub queue_attempt: usize,
    /// Name of the worker executing it (the queue row's lock holder).
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
    /// Not started (its run is paused): back to the queue, the attempt uncounted.
    Release,
}

/// A handler's answer: the outcome, and whether the queue row needs nothing more from this
/// worker — the handler wrote the outcome inside its own committed transaction
/// ([`record_outcome`]), or found the row no longer held by this worker ([`Handled::lost`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// What happens to the job.
    pub outcome: JobOutcome,
    /// Nothing is left for the batched acknowledgement to write.
    pub recorded: bool,
}

impl Handled {
    /// An outcome the worker still has to record (it does so in batches).
    pub fn outcome(outcome: JobOutcome) -> Self {
        Self {
            outcome,
            recorded: false,
        }
    }

    /// An outcome recorded in the handler's committed transaction.
    pub fn recorded(outcome: JobOutcome) -> Self {
        Self {
            outcome,
            recorded: true,
        }
    }

    /// The job was re-enqueued under this worker (it missed its heartbeats) and belongs to
    /// whoever claims it next: this execution wrote nothing, and its row is not ours to touch.
    pub fn lost() -> Self {
        Self::recorded(JobOutcome::Abort(
            "lost: re-enqueued while this worker ran it".to_owned(),
        ))
    }
}

/// The business side of a job; implemented by `ontofleet-worker`.
pub trait JobHandler: Send + Sync + 'static {
    /// Execute one job whose payload is `payload` (JSON bytes). Must not panic or hang: the
    /// implementation enforces its own timeout.
    fn handle(
        &self,
        payload: Vec<u8>,
        ctx: JobContext,
    ) -> Pin<Box<dyn Future<Output = Handled> + Send + '_>>;

    /// Called at every heartbeat of a live worker, on the queue's connection, after the beat is
    /// recorded: work whose liveness is the fleet's (the worker renews the platform lock's
    /// lease of the run being worked on). Must be short and must not fail the beat.
    fn on_beat<'a>(
        &'a self,
        conn: &'a mut PgConnection,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        let _ = conn;
        Box::pin(async {})
    }
}

/// Write `outcome` to the job's queue row in the caller's transaction, so the job is finished
/// exactly when the caller's effects commit. Returns whether this worker still held the row (a
/// row re-enqueued after missed heartbeats belongs to whoever claims it next): on `false` the
/// caller must roll its transaction back. On `true` the row stays locked by the caller's
/// transaction until it ends, so no rescue can take it in between.
pub async fn record_outcome(
    conn: &mut PgConnection,
    ctx: &JobContext,
    outcome: &JobOutcome,
) -> Result<bool, QueueError> {
    let changed =
        sql::complete(conn, &ctx.worker, &[(ctx.job_id.clone(), outcome.clone())]).await?;
    Ok(changed == 1)
}

/// Frees the job's slot when the execution ends, also when it is dropped (shutdown grace over).
struct Slot(Arc<Shared>, std::time::Instant);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.finished(self.1.elapsed());
    }
}

async fn execute(
    job: FleetJob,
    worker: WorkerContext,
    handler: Data<Arc<dyn JobHandler>>,
    shared: Data<Arc<Shared>>,
) -> Result<(), BoxDynError> {
    let _slot = Slot((*shared).clone(), std::time::Instant::now());
    let ctx = JobContext {
        job_id: job.id.clone(),
        queue_attempt: usize::try_from(job.attempt).unwrap_or(0),
        worker: worker.name().to_owned(),
    };
    let handled = handler.handle(job.payload, ctx).await;
    if !handled.recorded {
        shared.ack(job.id, handled.outcome);
    }
    // The queue row records the outcome; apalis has nothing to retry.
    Ok(())
}

/// A worker name unique per process incarnation and restart: reusing a name would make the
/// crashed incarnation's jobs look alive forever (orphans are found by their holder's name).
pub fn worker_name(prefix: &str, instance: &str, restarts: usize) -> String {
    format!("{prefix}-{instance}-{restarts}")
}

/// Run the worker until `shutdown` resolves, then drain in-flight jobs for up to the grace
/// period. Errors restart the inner worker under a new name. `pool` is the queue's own: the
/// fetcher keeps one connection of it and the NOTIFY listener another, and the heartbeat and
/// the acknowledgements share the rest, so they never wait behind the handler's job
/// transactions (which run on a pool of the handler's; see [`QUEUE_CONNECTIONS`]).
pub async fn run_workers(
    pool: PgPool,
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    run_with_claim(pool, settings, handler, Arc::new(SqlClaim), shutdown).await
}

pub(crate) async fn run_with_claim(
    pool: PgPool,
    settings: WorkerSettings,
    handler: Arc<dyn JobHandler>,
    claim: Arc<dyn Claim>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), QueueError> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let instance = format!("{host}-{}-{}", std::process::id(), ulid::Ulid::generate());
    let concurrency = settings.concurrency.max(1);
    let prefix = settings.name_prefix.clone();
    tracing::info!(
        worker = %worker_name(&prefix, &instance, 0),
        concurrency,
        orphan_after_secs = settings.heartbeat_secs * settings.missed_heartbeats as u64,
        "worker starting"
    );
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    let monitor = Monitor::new()
        .register(move |restarts| {
            let shared = Shared::new(concurrency, settings.prefetch);
            let backend = FleetBackend::new(
                pool.clone(),
                settings.clone(),
                shared.clone(),
                claim.clone(),
                handler.clone(),
            );
            WorkerBuilder::new(worker_name(&prefix, &instance, restarts))
                .backend(backend)
                .data(handler.clone())
                .data(shared)
                .concurrency(concurrency)
                .parallelize(tokio::spawn)
                .build(execute)
        })
        .should_restart(|ctx, err| {
            tracing::error!(worker = ctx.name(), error = %err, "worker stopped on an error; restarting");
            true
        })
        .shutdown_timeout(grace);
    monitor
        .run_with_signal(async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining in-flight jobs");
            Ok(())
        })
        .await
        .map_err(|e| QueueError::Backend(e.to_string()))
}
