//! How an attempt's end is named and counted: the ledger's outcome names, the metrics of
//! `ontofleet-telemetry`, and the retry delay a classifier server asked for.

use std::time::Duration;

use ontofleet_core::{Decision, ErrorCategory};

/// One executing job in `ontofleet_worker_inflight_jobs`, for as long as it lives.
pub(crate) struct Inflight;

impl Inflight {
    pub(crate) fn start() -> Self {
        ontofleet_telemetry::metrics()
            .worker_inflight_jobs
            .add(1, &[]);
        Self
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        ontofleet_telemetry::metrics()
            .worker_inflight_jobs
            .add(-1, &[]);
    }
}

/// The outcome of an execution that lost its job to a rescue (ledger and metrics).
pub(crate) const LOST: &str = "lost";

/// The outcome a failed attempt is recorded with, in the ledger and the metrics alike.
pub(crate) fn attempt_outcome(decision: Decision) -> &'static str {
    match decision {
        Decision::Retry { .. } => "retry",
        Decision::Fail => "failed",
        Decision::Skip => "skipped",
    }
}

/// An attempt recorded in the ledger, in `ontofleet_attempts_total` and its duration histogram.
pub(crate) fn count_attempt(
    outcome: &'static str,
    category: Option<ErrorCategory>,
    took: Duration,
) {
    use opentelemetry::KeyValue;
    let m = ontofleet_telemetry::metrics();
    m.attempts.add(
        1,
        &[
            KeyValue::new("outcome", outcome),
            KeyValue::new("category", category.map_or("none", |c| c.as_str())),
        ],
    );
    m.attempt_duration
        .record(took.as_secs_f64(), &[KeyValue::new("outcome", outcome)]);
}

/// The longest delay a server may ask for: a broken `Retry-After` must not park a job for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A retry is not scheduled before the server's `retry_after` (capped at [`MAX_RETRY_AFTER`]);
/// the delay is persisted in the job's `run_at` like any other, never slept in memory.
pub(crate) fn not_before(decision: Decision, retry_after: Option<Duration>) -> Decision {
    match (decision, retry_after) {
        (Decision::Retry { delay, fallback }, Some(after)) => Decision::Retry {
            delay: delay.max(after.min(MAX_RETRY_AFTER)),
            fallback,
        },
        (d, _) => d,
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
