//! The backlog gauges (`ontofleet_backlog_items{state}`, `ontofleet_active_runs`,
//! `ontofleet_backlog_oldest_ready_age_seconds`), exported from one sample per interval that the
//! caller reads from the database: one query round per interval, not per scrape.

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

/// Read the backlog with `sample` every `every` and record it, for the process's life; a failed
/// reading is logged and the gauges keep their last values.
pub async fn export<F, Fut>(every: Duration, mut sample: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<BacklogGauges, String>>,
{
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match sample().await {
            Ok(b) => record(&b),
            Err(e) => tracing::warn!(error = %e, "backlog query failed"),
        }
    }
}
