//! The only crate that names apalis types. It enqueues project jobs inside the caller's
//! transaction, runs the apalis worker monitor around a [`JobHandler`] on its own backend over
//! apalis-postgres's tables ([`backend`]: batched claims, no lost wake-ups, completion inside the
//! handler's transaction, heartbeats and orphan rescue), and carries the raw SQL that
//! apalis-postgres 1.0 lacks (kill, requeue, purge) on `apalis.jobs`.

pub mod admin;
pub mod backend;
pub mod enqueue;
pub mod sql;
pub mod worker;

pub use admin::{
    JobFilter, JobView, Purged, job_payload, jobs_by_id, jobs_by_id_for_update,
    jobs_of_run_for_update, kill_jobs, kill_jobs_of_run, list_jobs, purge, requeue, wake_workers,
};
pub use enqueue::{QUEUE, enqueue_payloads, enqueue_projects};
pub use worker::{
    Handled, JobContext, JobHandler, JobOutcome, QUEUE_CONNECTIONS, WorkerSettings, record_outcome,
    run_workers,
};

/// The apalis-postgres schema migrations, run by `ontofleet_db::migrate_all`.
pub fn migrator() -> sqlx::migrate::Migrator {
    apalis_postgres::PostgresStorage::migrations()
}

/// Errors of queue operations.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The queue backend failed.
    #[error("queue error: {0}")]
    Backend(String),
    /// A database statement failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// The payload could not be encoded.
    #[error("cannot encode job payload: {0}")]
    Encode(#[from] serde_json::Error),
}

impl QueueError {
    /// How a caller must treat this failure.
    pub fn category(&self) -> ontofleet_core::ErrorCategory {
        match self {
            Self::Backend(_) => ontofleet_core::ErrorCategory::Recoverable,
            Self::Sqlx(e) => ontofleet_db::category_of(e),
            Self::Encode(_) => ontofleet_core::ErrorCategory::Fatal,
        }
    }
}
