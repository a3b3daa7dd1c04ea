//! The worker process: an apalis monitor (through `ontofleet-queue`) whose handler runs the
//! pipeline for one project in one transaction, records every attempt, and turns failures into
//! decisions with `ontofleet_core::decide` — persisted backoff, one fallback attempt, or skip.
//! Workers hold no state between jobs beyond the template cache and the classifier.
//!
//! `handler`: the job handler (the attempt, its failure, its loss); `outcome`: how an attempt's
//! end is named and counted; `faults` (test builds): fault injection.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ontofleet_core::RetryPolicies;
use ontofleet_pipeline::Pipeline;
use ontofleet_pipeline::classify::Classifier;
use ontofleet_pipeline::templates::TemplateCatalog;

#[cfg(feature = "faults")]
mod faults;
mod handler;
mod outcome;

#[cfg(feature = "faults")]
pub use faults::{FailRule, FaultKind, Faults};
pub use handler::ProjectHandler;
use ontofleet_queue::WorkerSettings;

/// Behaviour of the handler.
#[derive(Debug, Clone, Copy)]
pub struct HandlerSettings {
    /// Retry policy per category.
    pub policies: RetryPolicies,
    /// Longest a single attempt may take before it is abandoned as `recoverable`.
    pub job_timeout: Duration,
    /// Platform-lock lease, renewed by item commits and by this worker's heartbeats.
    pub lease: Duration,
    /// Fault injection for chaos tests (`[faults]`, off by default; test builds only).
    #[cfg(feature = "faults")]
    pub faults: Faults,
    /// Read all-numeric dates in descriptions day first (`[pipeline] day_first`).
    pub day_first: bool,
    /// Tasks processed at once inside a project's transaction (`[pipeline] chunk_tasks`).
    pub chunk_tasks: usize,
}

/// Builds the configured classifier over the loaded template catalogue (whose task keys are
/// the answers a remote classifier may give).
pub type ClassifierFactory =
    Box<dyn FnOnce(&TemplateCatalog) -> Result<Arc<dyn Classifier>, String> + Send>;

/// Run a worker process until `shutdown` resolves: jobs on `pools.jobs`, the queue machinery
/// on `pools.queue`.
pub async fn run(
    pools: ontofleet_db::WorkerPools,
    worker: WorkerSettings,
    handler: HandlerSettings,
    classifier: ClassifierFactory,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let ontofleet_db::WorkerPools { jobs: pool, queue } = pools;
    let catalog = TemplateCatalog::load(&pool).await?;
    tracing::info!(templates = catalog.len(), "template cache loaded");
    let classifier = classifier(&catalog).map_err(WorkerError::Classifier)?;
    tracing::info!(classifier = classifier.name(), "classifier ready");
    let handler = Arc::new(ProjectHandler::new(
        pool.clone(),
        Pipeline::with_classifier(Arc::new(catalog), classifier)
            .day_first(handler.day_first)
            .chunk_tasks(handler.chunk_tasks),
        handler,
    ));
    ontofleet_queue::run_workers(queue, worker, handler, shutdown).await?;
    Ok(())
}

/// Errors that stop a worker process.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Loading the template cache failed.
    #[error("cannot load templates: {0}")]
    Templates(#[from] sqlx::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] ontofleet_queue::QueueError),
    /// The configured classifier cannot be built.
    #[error("cannot build the classifier: {0}")]
    Classifier(String),
}
