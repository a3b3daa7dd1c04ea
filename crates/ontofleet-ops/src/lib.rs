//! The operations layer (SPEC §2): each operator operation is one function taking a typed
//! request and returning a typed, serialisable response, and this is the one place its
//! semantics live. The CLI prints the responses (as tables, or as JSON with `--json`); the admin
//! API returns the same types as its bodies, so the two can never disagree. Every mutation takes
//! the [`access::Actor`] it is done for and appends its `admin_audit` row in the transaction of the change.
//!
//! In it: `db migrate|status` (and the connections, with errors that say what to fix), `run
//! start`, `run preview`, `run list`, `run show`, `run watch`, `run validate`, `run cancel`, `run
//! rollback`, `lock status`, `lock release`, `jobs list|show|retry|kill|purge`, `enqueue`,
//! `stats`, `token create|list|revoke`, the audit log, the retry preview, what a worker needs
//! before it starts, readiness and the backlog, the classifier settings and what they build,
//! and the parsing of what operators type. Their `--json` documents are pinned byte for
//! byte by `tests/golden/`: responses are printed through `serde_json::to_value`, whose maps keep
//! keys sorted as the hand-built documents did.

pub mod access;
pub mod audit;
pub mod classifier;
pub mod controls;
pub mod db;
pub mod error;
pub mod governor;
pub mod health;
pub mod jobs;
pub mod lock;
pub mod parse;
pub mod preview;
pub mod runs;
pub mod stats;
pub mod sync;
pub mod watch;
pub mod worker;

pub use error::OpsError;

/// The request and settings types the operations take, from the crates that define them, so
/// that adapters (the CLI, the API) name them through this layer only.
pub mod types {
    pub use ontofleet_core::RetryPolicies;
    pub use ontofleet_db::{DbSettings, WorkerPools};
    pub use ontofleet_pipeline::Pipeline;
    pub use ontofleet_pipeline::templates::TemplateCatalog;
    pub use ontofleet_producer::operator::{OperatorSettings, RetryTarget};
    pub use ontofleet_producer::{
        ChangedSince, ErrorBudget, ProducerSettings, RunRequest, Selection,
    };
    pub use ontofleet_queue::{JobFilter, WorkerSettings};
    pub use sqlx::PgPool;
}
