//! Enqueueing project jobs inside the caller's transaction (one multi-row INSERT per chunk).

use ontofleet_core::ProjectJob;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::QueueError;

/// The apalis queue (`apalis.jobs.job_type`) that carries project jobs. Set explicitly: the
/// apalis default is the Rust type name, which would change with a refactor.
pub const QUEUE: &str = "ontofleet::project";

/// Rows per INSERT; keeps bind arrays and statement size bounded for platform-wide runs.
const CHUNK: usize = 5_000;

/// Enqueue one job per project job in the caller's transaction and return the job ids (ULIDs),
/// in the order of `jobs`. Each row carries its run (`apalis.jobs.run_id`, ontofleet's column), so
/// claims can count and cap a run's jobs in flight. NOTIFY reaches pubsub workers when the
/// transaction commits.
pub async fn enqueue_projects(
    conn: &mut PgConnection,
    jobs: &[ProjectJob],
    max_attempts: u32,
) -> Result<Vec<String>, QueueError> {
    let payloads = jobs
        .iter()
        .map(|j| Ok((serde_json::to_vec(j)?, Some(j.run_id))))
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    insert(conn, payloads, max_attempts).await
}

/// Enqueue one job per JSON payload, of no run, in the caller's transaction and return the job
/// ids, in order (the queue benchmark's and tests' jobs).
pub async fn enqueue_payloads(
    conn: &mut PgConnection,
    payloads: Vec<Vec<u8>>,
    max_attempts: u32,
) -> Result<Vec<String>, QueueError> {
    insert(
        conn,
        payloads.into_iter().map(|p| (p, None)).collect(),
        max_attempts,
    )
    .await
}

/// The bulk insert: one multi-row statement per chunk, the rows as apalis-postgres writes them
/// (`Pending`, no attempt, due now, priority 0) plus ontofleet's `run_id`. apalis's insert
/// trigger sends the NOTIFY.
async fn insert(
    conn: &mut PgConnection,
    rows: Vec<(Vec<u8>, Option<Uuid>)>,
    max_attempts: u32,
) -> Result<Vec<String>, QueueError> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let chunk_ids: Vec<String> = chunk
            .iter()
            .map(|_| ulid::Ulid::generate().to_string())
            .collect();
        let jobs: Vec<&[u8]> = chunk.iter().map(|(p, _)| p.as_slice()).collect();
        let runs: Vec<Option<Uuid>> = chunk.iter().map(|(_, r)| *r).collect();
        sqlx::query(
            "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at, priority, run_id) \
             SELECT t.id, $2, t.job, 'Pending', 0, $4, now(), 0, t.run_id \
               FROM unnest($1::text[], $3::bytea[], $5::uuid[]) AS t(id, job, run_id)",
        )
        .bind(&chunk_ids)
        .bind(QUEUE)
        .bind(&jobs)
        .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
        .bind(&runs)
        .execute(&mut *conn)
        .await?;
        ids.extend(chunk_ids);
    }
    Ok(ids)
}
