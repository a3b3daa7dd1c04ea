//! `jobs kill` (waiting jobs killed, their items cancelled) and `jobs purge` (finished queue rows
//! deleted; the ledger keeps the history).

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;

/// A job `jobs kill` killed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KilledJob {
    /// The job.
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
}

/// A run `jobs kill` completed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CompletedRun {
    /// The run.
    pub run_id: Uuid,
    /// Its final status.
    pub status: String,
}

/// The response of `jobs kill`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Killed {
    /// Jobs killed.
    pub killed: usize,
    /// Them.
    pub jobs: Vec<KilledJob>,
    /// Runs left with nothing to do, now complete.
    pub completed_runs: Vec<CompletedRun>,
}

/// `jobs kill`: kill waiting jobs and cancel their items; refused for any running or finished one.
pub async fn kill(pool: &PgPool, ids: &[String], actor: &Actor) -> Result<Killed, OpsError> {
    let entry = actor.entry("jobs.kill", json!({"job_ids": ids}));
    let r = ontofleet_producer::operator::kill_jobs(pool, ids, Some(&entry)).await?;
    Ok(Killed {
        killed: r.jobs.len(),
        jobs: r
            .jobs
            .into_iter()
            .map(|j| KilledJob {
                job_id: j.job_id,
                run_id: j.run_id,
                project_id: j.project_id,
            })
            .collect(),
        completed_runs: r
            .completed_runs
            .into_iter()
            .map(|(run_id, s)| CompletedRun {
                run_id,
                status: s.as_str().to_owned(),
            })
            .collect(),
    })
}

/// The response of `jobs purge`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Purged {
    /// The age given.
    pub older_than_secs: u64,
    /// Finished queue rows deleted.
    pub jobs_deleted: u64,
    /// Worker registrations deleted.
    pub workers_deleted: u64,
}

/// `jobs purge`: delete queue rows finished more than `age` ago, and workers gone as long.
pub async fn purge(
    pool: &PgPool,
    age: std::time::Duration,
    actor: &Actor,
) -> Result<Purged, OpsError> {
    let mut tx = pool.begin().await?;
    let purged = ontofleet_queue::purge(&mut tx, age)
        .await
        .map_err(|e| OpsError::Unavailable(format!("purge failed: {e}; nothing was deleted")))?;
    let entry = actor.entry("jobs.purge", json!({"older_than_secs": age.as_secs()}));
    let affected = (purged.jobs + purged.workers) as i64;
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(affected)).await?;
    tx.commit().await?;
    Ok(Purged {
        older_than_secs: age.as_secs(),
        jobs_deleted: purged.jobs,
        workers_deleted: purged.workers,
    })
}
