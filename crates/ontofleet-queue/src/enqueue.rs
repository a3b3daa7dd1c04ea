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
    let payloads = jobs
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<Vec<_>, _>>()?;
    enqueue_payloads(conn, payloads, max_attempts).await
}

/// Enqueue one job per JSON payload in the caller's transaction (bulk: one multi-row INSERT per
/// chunk) and return the job ids, in order.
pub async fn enqueue_payloads(
    conn: &mut PgConnection,
    payloads: Vec<Vec<u8>>,
    max_attempts: u32,
) -> Result<Vec<String>, QueueError> {
    let mut ids = Vec::with_capacity(payloads.len());
    let mut payloads = payloads.into_iter().peekable();
    while payloads.peek().is_some() {
        let mut tasks = Vec::with_capacity(CHUNK);
        for payload in payloads.by_ref().take(CHUNK) {
            let id = ulid::Ulid::generate();
            ids.push(id.to_string());
            tasks.push(
                TaskBuilder::new(payload)
                    .task_id(TaskId::from_ulid(id))
                    .max_attempts(max_attempts as usize)
                    .build(),
            );
        }
        apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks)
            .await
            .map_err(|e| QueueError::Backend(e.to_string()))?;
    }
    Ok(ids)
}
