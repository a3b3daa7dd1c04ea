//! Enqueueing project jobs inside the caller's transaction (one multi-row INSERT per chunk).

use apalis::prelude::{TaskBuilder, TaskId};
use ontofleet_core::ProjectJob;
use sqlx::PgConnection;

use crate::QueueError;

/// The apalis queue (`apalis.jobs.job_type`) that carries project jobs. Set explicitly: the
/// apalis default is the Rust type name, which would change with a refactor.
pub const QUEUE: &str = "ontofleet::project";

/// Rows per INSERT; keeps bind arrays and statement size bounded for platform-wide runs.
const CHUNK: usize = 5_000;

/// Enqueue one job per payload in the caller's transaction and return the job ids (ULIDs),
/// in the order of `jobs`. NOTIFY reaches pubsub workers when the transaction commits.
pub async fn enqueue_projects(
    conn: &mut PgConnection,
    jobs: &[ProjectJob],
    max_attempts: u32,
) -> Result<Vec<String>, QueueError> {
    let mut ids = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(CHUNK) {
        let mut tasks = Vec::with_capacity(chunk.len());
        for job in chunk {
            let id = ulid::Ulid::generate();
            ids.push(id.to_string());
            let task = TaskBuilder::new(serde_json::to_vec(job)?)
                .task_id(TaskId::from_ulid(id))
                .max_attempts(max_attempts as usize)
                .build();
            tasks.push(task);
        }
        apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks)
            .await
            .map_err(|e| QueueError::Backend(e.to_string()))?;
    }
    Ok(ids)
}
