//! Run control: the platform lock (a lease row with a fencing token), the commit of an item's
//! outcome — migrated, retried, failed, skipped or cancelled — with the run counters, and the
//! run's single completion transition (lock release, NOTIFY), the operator's changes to items
//! (retry, add, cancel), run validation and rollback. Everything takes the caller's connection
//! so it joins the item transaction.

pub mod completion;
pub mod controls;
pub mod governor;
pub mod lock;
pub mod operator;
pub mod rollback;
pub mod stats;
pub mod sync;
pub mod validate;

pub use completion::{
    Failure, ItemResult, RUN_COMPLETED_CHANNEL, RunFence, cancel_item, cancel_run, complete_item,
    fail_item, finish_run_if_done, refresh_stats, refresh_stats_in, retry_item,
};
pub use lock::{
    Acquired, LockError, LockStatus, acquire_platform_lock, force_release, lock_status, release,
    renew,
};
pub use operator::{
    OperatorError, Prepared, ReopenOptions, add_item, cancel_items, prepare_run, requeue_items,
    set_item_job,
};

/// Errors of control operations.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A database statement failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// The run lost the platform lock; it must not write.
    #[error("run {run_id} no longer holds the platform lock (fencing token {token} superseded)")]
    Fenced {
        /// The fenced run.
        run_id: uuid::Uuid,
        /// Its stale token.
        token: i64,
    },
}

impl ControlError {
    /// How the worker must treat this failure.
    pub fn category(&self) -> ontofleet_core::ErrorCategory {
        match self {
            Self::Sqlx(e) => ontofleet_db::category_of(e),
            Self::Fenced { .. } => ontofleet_core::ErrorCategory::Fatal,
        }
    }
}
