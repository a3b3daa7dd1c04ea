//! The queue's jobs joined with their ledger items: `jobs list` and `jobs show`, `jobs retry`
//! (and the API's retry preview with its selection token), `jobs kill` and `jobs purge`, and
//! `enqueue`; one file per operation.

mod enqueue;
mod kill;
mod list;
mod retry;
mod show;

pub use enqueue::{Enqueued, enqueue};
pub use kill::{CompletedRun, Killed, KilledJob, Purged, kill, purge};
pub use list::{JobList, JobQuery, JobSummary, list, list_checked, list_page};
pub use retry::{
    Retried, RetriedJob, RetriedRun, RetryPreview, SELECTION_TOKEN_TTL, retry, retry_preview,
    retry_with_token,
};
pub use show::{AttemptView, ItemView, JobDetail, QueueRow, show};
