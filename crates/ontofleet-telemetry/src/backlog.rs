//! The backlog gauges (`ontofleet_backlog_items{state}`, `ontofleet_active_runs`,
//! `ontofleet_backlog_oldest_ready_age_seconds`) and the catch-up lag
//! (`ontofleet_sync_pending_projects`, `ontofleet_sync_oldest_change_age_seconds`), exported from
//! one sample per interval that the caller reads from the database: one query round per
//! interval, not per scrape.

use std::future::Future;
use std::time::Duration;

use opentelemetry::KeyValue;

/// One reading of the backlog.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BacklogGauges {
    /// Unfinished items waiting for a first execution.
    pub queued: i64,
    /// Unfinished items executing now.
    pub running: i64,
    /// Unfinished items waiting for a retry.
    pub retrying: i64,
    /// Active runs.
    pub active_runs: i64,
    /// Seconds the next due job has been due.
    pub oldest_ready_age_secs: f64,
}

/// Record one reading into the gauges.
pub fn record(b: &BacklogGauges) {
    let m = crate::metrics();
    for (state, n) in [
        ("queued", b.queued),
        ("running", b.running),
        ("retrying", b.retrying),
    ] {
        m.backlog_items
            .record(n.max(0) as u64, &[KeyValue::new("state", state)]);
    }
    m.active_runs.record(b.active_runs.max(0) as u64, &[]);
    m.backlog_oldest_ready_age
        .record(b.oldest_ready_age_secs.max(0.0), &[]);
}

/// One reading of the catch-up lag (SPEC §15).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyncGauges {
    /// Projects with changes since the last completed pass.
    pub pending_projects: i64,
    /// Seconds since the oldest of those changes (0 when none).
    pub oldest_change_age_secs: f64,
}

/// Record one reading of the catch-up lag.
pub fn record_sync(s: &SyncGauges) {
    let m = crate::metrics();
    m.sync_pending_projects
        .record(s.pending_projects.max(0) as u64, &[]);
    m.sync_oldest_change_age
        .record(s.oldest_change_age_secs.max(0.0), &[]);
}

/// Read the backlog with `sample` every `every` and record it, for the process's life; a failed
/// reading is logged and the gauges keep their last values.
pub async fn export<F, Fut>(every: Duration, sample: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<BacklogGauges, String>>,
{
    periodically("backlog", every, sample, record).await
}

/// [`export`] for the catch-up lag.
pub async fn export_sync<F, Fut>(every: Duration, sample: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<SyncGauges, String>>,
{
    periodically("sync status", every, sample, record_sync).await
}

async fn periodically<T, F, Fut>(what: &str, every: Duration, mut sample: F, record: fn(&T))
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match sample().await {
            Ok(reading) => record(&reading),
            Err(e) => tracing::warn!(error = %e, "{what} query failed"),
        }
    }
}
