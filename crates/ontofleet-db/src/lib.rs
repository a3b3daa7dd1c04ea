//! PostgreSQL access for ontofleet: the pool built from settings, the migration runner for the
//! app and queue schemas, the mapping of `sqlx::Error` to an [`ErrorCategory`], and the
//! repositories of the run ledger (`migration_runs`, `migration_run_items`, `migration_attempts`)
//! and of the admin API's tokens, sessions and audit.
//!
//! [`ErrorCategory`]: ontofleet_core::ErrorCategory

pub mod admin;
pub mod change_index;
pub mod error;
pub mod ledger;
pub mod migrate;
pub mod pool;

pub use error::{DbError, category_of};
pub use migrate::{
    LEGACY_TABLES, MIGRATOR, MigrationState, migrate_all, migration_status,
    refresh_stats_if_present, reset_app_data,
};
pub use pool::{
    DbSettings, WorkerPools, connect, connect_api, connect_worker, connect_worker_pools,
};

/// Re-exported so that dependants share one sqlx version without naming it themselves.
pub use sqlx;
