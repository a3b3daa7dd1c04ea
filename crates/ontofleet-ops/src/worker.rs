//! What a worker process needs from the database before it starts: a configuration its pools
//! can serve, the pools themselves, and an installed schema.

use ontofleet_db::{DbSettings, WorkerPools};
use ontofleet_queue::{QUEUE_CONNECTIONS, WorkerSettings};

use crate::OpsError;

/// Each running job holds one connection of the jobs pool, so `database.max_connections` must
/// cover `worker.concurrency` (the queue machinery has a pool of its own): refused otherwise,
/// in one line, before anything connects.
pub fn check_pool(worker: &WorkerSettings, database: &DbSettings) -> Result<(), OpsError> {
    let concurrency = worker.concurrency.max(1);
    if (database.max_connections as usize) < concurrency {
        return Err(OpsError::Invalid(format!(
            "worker.concurrency ({concurrency}) exceeds database.max_connections ({}): each running job holds one \
             connection; raise database.max_connections to at least {concurrency} or lower the concurrency",
            database.max_connections
        )));
    }
    Ok(())
}

/// The worker's two pools (jobs, and the queue machinery's [`QUEUE_CONNECTIONS`]) once the
/// configuration is checked and the schema found installed.
pub async fn connect(
    worker: &WorkerSettings,
    database: &DbSettings,
) -> Result<WorkerPools, OpsError> {
    check_pool(worker, database)?;
    let pools = ontofleet_db::connect_worker_pools(database, QUEUE_CONNECTIONS)
        .await
        .map_err(crate::db::connect_error)?;
    crate::db::require_schema(&pools.queue).await?;
    Ok(pools)
}
