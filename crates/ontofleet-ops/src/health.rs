//! What a process's ops endpoints and backlog gauges read: readiness (the database answers, the
//! schema is current, a worker is registered with the queue) and the backlog of the active runs.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;

use crate::OpsError;

/// Ready when the pool answers, every migration this binary knows is applied and, for a worker
/// (`worker_prefix`), its process is registered with the queue. Once the schema was found
/// current it stays so for the process's life (`schema_current` remembers it), and later
/// probes check only the pool and the registration. The error says what is missing.
pub async fn ready(
    pool: &PgPool,
    worker_prefix: Option<&str>,
    schema_current: &AtomicBool,
) -> Result<(), String> {
    if !schema_current.load(Ordering::Relaxed) {
        let pending = crate::db::status(pool)
            .await
            .map_err(|e| format!("database: {e}"))?
            .pending;
        if pending > 0 {
            return Err(format!(
                "{pending} migration(s) pending: run `ontofleet db migrate`"
            ));
        }
        schema_current.store(true, Ordering::Relaxed);
    }
    // `serve` has no worker to register: the pool and the schema are its readiness.
    let Some(prefix) = worker_prefix else {
        return Ok(());
    };
    match ontofleet_queue::admin::process_registered(pool, prefix).await {
        Ok(true) => Ok(()),
        Ok(false) => Err("worker not registered with the queue yet".to_owned()),
        Err(e) => Err(format!("database: {e}")),
    }
}

/// What is left to do in the active runs, and how long the next due job has waited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Active runs.
    pub active_runs: i64,
    /// Unfinished items waiting for a first execution.
    pub queued: i64,
    /// Unfinished items executing now.
    pub running: i64,
    /// Unfinished items waiting for a retry.
    pub retrying: i64,
    /// Seconds the next due job has been due (0 when none is).
    pub oldest_ready_age_secs: f64,
}

/// The backlog: the run counters of the active runs with their running and retrying items,
/// and one probe of the queue's fetch index.
pub async fn backlog(pool: &PgPool) -> Result<Backlog, OpsError> {
    let b = ontofleet_control::stats::backlog(pool).await?;
    let age = ontofleet_queue::admin::next_ready_age(pool).await?;
    Ok(Backlog {
        active_runs: b.active_runs,
        queued: b.queued,
        running: b.running,
        retrying: b.retrying,
        oldest_ready_age_secs: age.unwrap_or(0.0).max(0.0),
    })
}
