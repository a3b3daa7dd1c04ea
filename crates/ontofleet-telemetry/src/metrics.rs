//! The instruments of SPEC §8, created once on the process's meter provider. Names are
//! OpenTelemetry's (`ontofleet.attempts`); the Prometheus reader derives the exposition names
//! (`ontofleet_attempts_total`, `…_seconds` from the unit `s`). Labels are bounded sets only:
//! run and job ids belong on spans.

use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};

/// Histogram bounds for durations in seconds: from a 5 ms project to a 5-minute one.
const SECONDS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Every instrument of SPEC §8.
#[derive(Debug)]
pub struct Metrics {
    /// `ontofleet_attempts_total{outcome, category}`.
    pub attempts: Counter<u64>,
    /// `ontofleet_attempt_duration_seconds{outcome}`.
    pub attempt_duration: Histogram<f64>,
    /// `ontofleet_stage_duration_seconds{stage}` (recorded from the stage spans).
    pub stage_duration: Histogram<f64>,
    /// `ontofleet_entities_total{entity, action}`.
    pub entities: Counter<u64>,
    /// `ontofleet_classifier_calls_total{classifier, result}`.
    pub classifier_calls: Counter<u64>,
    /// `ontofleet_classifier_call_duration_seconds{classifier}`.
    pub classifier_call_duration: Histogram<f64>,
    /// `ontofleet_classifier_breaker_open` (0/1).
    pub classifier_breaker_open: Gauge<u64>,
    /// `ontofleet_worker_inflight_jobs`.
    pub worker_inflight_jobs: UpDownCounter<i64>,
    /// `ontofleet_worker_concurrency`.
    pub worker_concurrency: Gauge<u64>,
    /// `ontofleet_db_pool_connections{state}` (`idle`, `in_use`).
    pub db_pool_connections: Gauge<u64>,
    /// `ontofleet_backlog_items{state}` (`queued`, `retrying`, `running`).
    pub backlog_items: Gauge<u64>,
    /// `ontofleet_backlog_oldest_ready_age_seconds`.
    pub backlog_oldest_ready_age: Gauge<f64>,
    /// `ontofleet_active_runs`.
    pub active_runs: Gauge<u64>,
    /// `ontofleet_sync_pending_projects`: legacy projects with changes the target lacks (SPEC §15).
    pub sync_pending_projects: Gauge<u64>,
    /// `ontofleet_sync_oldest_change_age_seconds`: age of the oldest of those changes (0: none).
    pub sync_oldest_change_age: Gauge<f64>,
    /// `ontofleet_build_info{version}` = 1.
    pub build_info: Gauge<u64>,
    /// `ontofleet_api_live_reads_total`: progress reads of `serve`'s live views (one per watched
    /// run and tick, whatever the number of open streams).
    pub api_live_reads: Counter<u64>,
    /// `ontofleet_api_live_streams`: open live streams of `serve`.
    pub api_live_streams: UpDownCounter<i64>,
    /// `ontofleet_governor_level` (0 ok, 1 throttled, 2 paused), from the governor's leader.
    pub governor_level: Gauge<u64>,
    /// `ontofleet_governor_signal{signal}`: the last reading (the highest over standbys, slots).
    pub governor_signal: Gauge<f64>,
    /// `ontofleet_run_control_seconds_total{state, reason}`: time held back, state `paused`
    /// (reason `operator`, `error_budget`; per paused run) or `throttled` (the governor's
    /// reason), counted by the governor's leader.
    pub run_control: Counter<f64>,
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(SECONDS.to_vec())
                .build()
        };
        Self {
            attempts: meter
                .u64_counter("ontofleet.attempts")
                .with_description("Project attempts by outcome and error category")
                .build(),
            attempt_duration: seconds("ontofleet.attempt.duration", "Duration of project attempts"),
            stage_duration: seconds(
                "ontofleet.stage.duration",
                "Duration of pipeline stages (load, classify, transform, write, commit)",
            ),
            entities: meter
                .u64_counter("ontofleet.entities")
                .with_description("Entities handled by committed attempts, by entity and action")
                .build(),
            classifier_calls: meter
                .u64_counter("ontofleet.classifier.calls")
                .with_description("Calls to a remote classifier, by result")
                .build(),
            classifier_call_duration: seconds(
                "ontofleet.classifier.call.duration",
                "Duration of calls to a remote classifier",
            ),
            classifier_breaker_open: meter
                .u64_gauge("ontofleet.classifier.breaker_open")
                .with_description("1 while the classifier endpoint's circuit breaker refuses calls")
                .build(),
            worker_inflight_jobs: meter
                .i64_up_down_counter("ontofleet.worker.inflight_jobs")
                .with_description("Jobs this worker process is executing")
                .build(),
            worker_concurrency: meter
                .u64_gauge("ontofleet.worker.concurrency")
                .with_description("Jobs this worker process executes at once at most")
                .build(),
            db_pool_connections: meter
                .u64_gauge("ontofleet.db.pool.connections")
                .with_description("Connections of the process's database pool, by state")
                .build(),
            api_live_reads: meter
                .u64_counter("ontofleet.api.live_reads")
                .with_description("Progress reads made for the admin API's live run views")
                .build(),
            api_live_streams: meter
                .i64_up_down_counter("ontofleet.api.live_streams")
                .with_description("Open live streams of the admin API")
                .build(),
            backlog_items: meter
                .u64_gauge("ontofleet.backlog.items")
                .with_description("Unfinished items of active runs, by state")
                .build(),
            backlog_oldest_ready_age: meter
                .f64_gauge("ontofleet.backlog.oldest_ready_age")
                .with_unit("s")
                .with_description("Age of the oldest job ready to run")
                .build(),
            active_runs: meter
                .u64_gauge("ontofleet.active_runs")
                .with_description("Runs pending, running or cancelling")
                .build(),
            sync_pending_projects: meter
                .u64_gauge("ontofleet.sync.pending_projects")
                .with_description("Legacy projects with changes since the last completed pass")
                .build(),
            sync_oldest_change_age: meter
                .f64_gauge("ontofleet.sync.oldest_change_age")
                .with_unit("s")
                .with_description("Age of the oldest change not yet migrated")
                .build(),
            build_info: meter
                .u64_gauge("ontofleet.build_info")
                .with_description("1, labelled with the version")
                .build(),
            governor_level: meter
                .u64_gauge("ontofleet.governor.level")
                .with_description("The governor's verdict: 0 ok, 1 throttled, 2 paused")
                .build(),
            governor_signal: meter
                .f64_gauge("ontofleet.governor.signal")
                .with_description("The governor's last reading of each configured signal")
                .build(),
            run_control: meter
                .f64_counter("ontofleet.run_control")
                .with_unit("s")
                .with_description("Time runs were held back, by state and reason")
                .build(),
        }
    }
}

/// The bounded reasons of `ontofleet_run_control_seconds_total` (SPEC §14).
pub const CONTROL_REASONS: [(&str, &str); 10] = [
    ("paused", "operator"),
    ("paused", "error_budget"),
    ("throttled", "schedule"),
    ("throttled", "replay_lag"),
    ("throttled", "slot_wal"),
    ("throttled", "sessions"),
    ("throttled", "lock_waiters"),
    ("throttled", "xact_age"),
    ("throttled", "throttle_query"),
    ("throttled", "unreadable"),
];

/// One observation of the governor's leader: the level, each signal's reading, and the time
/// held back since the previous one (per reason: the first reason of the verdict; per paused
/// run: its pause kind).
pub fn record_governor(
    level: u64,
    readings: &[(&'static str, f64)],
    throttled: Option<&str>,
    paused_runs: &[(String, i64)],
    elapsed_secs: f64,
) {
    let m = metrics();
    m.governor_level.record(level, &[]);
    for (signal, v) in readings {
        m.governor_signal
            .record(*v, &[KeyValue::new("signal", *signal)]);
    }
    let bounded = |state: &str, reason: &str| {
        CONTROL_REASONS
            .iter()
            .find(|(s, r)| *s == state && *r == reason)
            .map(|(s, r)| (*s, *r))
    };
    if let Some((state, reason)) = throttled.and_then(|r| bounded("throttled", r)) {
        m.run_control.add(
            elapsed_secs,
            &[
                KeyValue::new("state", state),
                KeyValue::new("reason", reason),
            ],
        );
    }
    for (kind, n) in paused_runs {
        if let Some((state, reason)) = bounded("paused", kind) {
            m.run_control.add(
                elapsed_secs * *n as f64,
                &[
                    KeyValue::new("state", state),
                    KeyValue::new("reason", reason),
                ],
            );
        }
    }
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// `ontofleet_db_pool_connections{state}` from a process's pools: `idle` of `size` open.
pub fn record_pool(idle: u64, size: u64) {
    let gauge = &metrics().db_pool_connections;
    gauge.record(idle, &[KeyValue::new("state", "idle")]);
    gauge.record(
        size.saturating_sub(idle),
        &[KeyValue::new("state", "in_use")],
    );
}

/// The process's instruments (on the global meter provider, which [`crate::init`] sets first;
/// before that, and in library tests, they record into nothing).
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| {
        let m = Metrics::new(&opentelemetry::global::meter("ontofleet"));
        m.build_info
            .record(1, &[KeyValue::new("version", env!("CARGO_PKG_VERSION"))]);
        // Every series of a bounded label set exists from the start (at 0), so a rate over it
        // is defined before the first event and a scrape lists every metric.
        for (outcome, categories) in [
            ("succeeded", &["none"][..]),
            ("partial", &["none"]),
            ("cancelled", &["none"]),
            ("lost", &["none"]),
            ("retry", &["recoverable", "data"]),
            ("failed", &["recoverable", "data"]),
            ("skipped", &["fatal"]),
        ] {
            for category in categories {
                m.attempts.add(
                    0,
                    &[
                        KeyValue::new("outcome", outcome),
                        KeyValue::new("category", *category),
                    ],
                );
            }
        }
        for (state, reason) in CONTROL_REASONS {
            m.run_control.add(
                0.0,
                &[
                    KeyValue::new("state", state),
                    KeyValue::new("reason", reason),
                ],
            );
        }
        for entity in ENTITIES {
            for action in ACTIONS {
                m.entities.add(
                    0,
                    &[
                        KeyValue::new("entity", entity),
                        KeyValue::new("action", action),
                    ],
                );
            }
        }
        m.worker_inflight_jobs.add(0, &[]);
        m
    })
}

/// The actions of `ontofleet_entities_total`.
pub const ACTIONS: [&str; 7] = [
    "inserted",
    "unchanged",
    "resynced",
    "recreated",
    "deleted",
    "failed",
    "skipped",
];

/// The stage names of the pipeline's spans, whose durations feed `ontofleet_stage_duration_seconds`.
pub const STAGES: [&str; 5] = ["load", "classify", "transform", "write", "commit"];

/// The entities of `ontofleet_entities_total`.
pub const ENTITIES: [&str; 5] = ["project", "document", "plan", "task", "event"];

/// Count a committed attempt's entities: those written or left unchanged from its counts
/// document (`{entity: {action: n}}`), those not written (`failed`, `skipped`) from its problems.
pub fn record_entities(counts: &serde_json::Value, not_written: &[(&str, &str, usize)]) {
    let m = metrics();
    for (entity, status, n) in not_written {
        m.entities.add(
            *n as u64,
            &[
                KeyValue::new("entity", entity.to_string()),
                KeyValue::new("action", status.to_string()),
            ],
        );
    }
    for entity in ENTITIES {
        let Some(actions) = counts.get(entity).and_then(|v| v.as_object()) else {
            continue;
        };
        for (action, n) in actions {
            // Only the bounded label set: a counts document is data, not a label source.
            let Some(action) = ACTIONS.iter().find(|a| **a == action.as_str()) else {
                continue;
            };
            if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                m.entities.add(
                    n,
                    &[
                        KeyValue::new("entity", entity),
                        KeyValue::new("action", *action),
                    ],
                );
            }
        }
    }
}
