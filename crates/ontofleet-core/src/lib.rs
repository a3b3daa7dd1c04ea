//! Vocabulary shared by every ontofleet crate: the versioned job payload, run and item states
//! (which are active, terminal, in hand) and a run's pace, error categories, the retry policy
//! and the pure [`decide`] function, and work modes.
//!
//! This crate does no IO and never depends on sqlx, tokio or apalis, so every decision it makes
//! can be unit-tested without a database.

pub mod category;
pub mod entity;
pub mod governor;
pub mod job;
pub mod policy;
pub mod progress;
pub mod state;
pub mod work_mode;

pub use category::ErrorCategory;
pub use entity::onto_kind;
pub use job::{ProjectJob, project_lock_key};
pub use policy::{CategoryPolicy, Decision, RetryPolicies, decide};
pub use progress::Pace;
pub use state::{ItemStatus, RunScope, RunStatus, sql_list};
pub use work_mode::WorkMode;
