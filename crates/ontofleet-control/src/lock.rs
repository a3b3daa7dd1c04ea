//! The platform lock: one row, a lease (`expires_at`) renewed by the producer, by item commits
//! and by the heartbeats of live workers while the run is active, and a fencing token that grows by one at every acquisition. Item commits check the token
//! inside their transaction, so a run that lost the lock cannot write.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::ControlError;

/// The lock is held by another run.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Held and not expired.
    #[error(
        "the platform lock is held by run {run_id} ({holder}) until {expires_at}; wait for that run \
         to finish, or, if it is dead, for its lease to expire (a new platform run then takes over), or pass \
         --force for a user- or project-scoped run"
    )]
    Held {
        /// Holder run.
        run_id: Uuid,
        /// Holder description.
        holder: String,
        /// Lease end.
        expires_at: DateTime<Utc>,
    },
    /// Database failure.
    #[error(transparent)]
    Control(#[from] ControlError),
}

impl From<sqlx::Error> for LockError {
    fn from(e: sqlx::Error) -> Self {
        Self::Control(ControlError::Sqlx(e))
    }
}

/// The lock row as operators see it.
#[derive(Debug, Clone, FromRow)]
pub struct LockStatus {
    /// Holder run, if any.
    pub run_id: Option<Uuid>,
    /// Holder description.
    pub holder: Option<String>,
    /// Current fencing token.
    pub token: i64,
    /// Acquisition time.
    pub locked_at: Option<DateTime<Utc>>,
    /// Last renewal.
    pub renewed_at: Option<DateTime<Utc>>,
    /// Lease end.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last release time.
    pub released_at: Option<DateTime<Utc>>,
    /// Who released it last.
    pub released_by: Option<String>,
    /// Held with an unexpired lease.
    pub is_locked: bool,
}

impl LockStatus {
    /// The refusal an operator sees while this holder has the lock.
    pub fn held(self) -> LockError {
        LockError::Held {
            run_id: self.run_id.unwrap_or_default(),
            holder: self.holder.unwrap_or_default(),
            expires_at: self.expires_at.unwrap_or_default(),
        }
    }
}

/// A successful acquisition.
#[derive(Debug, Clone, Copy)]
pub struct Acquired {
    /// The new fencing token.
    pub token: i64,
    /// The run whose expired lease was taken over, if any: it must be cancelled.
    pub previous_run: Option<Uuid>,
}

/// Take the lock for `run_id` if it is free or its lease expired.
pub async fn acquire_platform_lock(
    conn: &mut PgConnection,
    run_id: Uuid,
    holder: &str,
    lease: Duration,
) -> Result<Acquired, LockError> {
    let row: Option<(i64, Option<Uuid>)> = sqlx::query_as(
        "WITH old AS (SELECT run_id FROM migration_platform_lock WHERE id = 1 FOR UPDATE) \
         UPDATE migration_platform_lock l SET run_id = $1, holder = $2, token = l.token + 1, \
                locked_at = clock_timestamp(), renewed_at = clock_timestamp(), \
                expires_at = clock_timestamp() + make_interval(secs => $3) \
           FROM old WHERE l.id = 1 AND (l.run_id IS NULL OR l.expires_at < clock_timestamp()) \
         RETURNING l.token, old.run_id",
    )
    .bind(run_id)
    .bind(holder)
    .bind(lease.as_secs_f64())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((token, previous_run)) = row {
        return Ok(Acquired {
            token,
            previous_run,
        });
    }
    Err(lock_status(conn).await?.held())
}

/// The lock row.
pub async fn lock_status(conn: &mut PgConnection) -> Result<LockStatus, ControlError> {
    Ok(sqlx::query_as(
        "SELECT run_id, holder, token, locked_at, renewed_at, expires_at, released_at, released_by, \
                (run_id IS NOT NULL AND expires_at > clock_timestamp()) AS is_locked \
           FROM migration_platform_lock WHERE id = 1",
    )
    .fetch_one(conn)
    .await?)
}

/// Release the lock if `run_id` holds it with `token`. Returns whether it did.
pub async fn release(
    conn: &mut PgConnection,
    run_id: Uuid,
    token: i64,
    by: &str,
) -> Result<bool, ControlError> {
    let done = sqlx::query(
        "UPDATE migration_platform_lock SET run_id = NULL, holder = NULL, expires_at = NULL, \
                released_at = clock_timestamp(), released_by = $3 WHERE id = 1 AND run_id = $1 AND token = $2",
    )
    .bind(run_id)
    .bind(token)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Clear the lock whatever holds it, recording who did it. Returns the run that held it. The
/// caller's transaction commits durably (whatever the session's `synchronous_commit`): the
/// release lets the next platform run start.
pub async fn force_release(
    conn: &mut PgConnection,
    by: &str,
) -> Result<Option<Uuid>, ControlError> {
    sqlx::query("SET LOCAL synchronous_commit = on")
        .execute(&mut *conn)
        .await?;
    let previous: Option<Option<Uuid>> = sqlx::query_scalar(
        "WITH old AS (SELECT run_id FROM migration_platform_lock WHERE id = 1 FOR UPDATE) \
         UPDATE migration_platform_lock l SET run_id = NULL, holder = NULL, expires_at = NULL, \
                released_at = clock_timestamp(), released_by = $1 FROM old WHERE l.id = 1 RETURNING old.run_id",
    )
    .bind(by)
    .fetch_optional(conn)
    .await?;
    Ok(previous.flatten())
}

/// Renew the lease of `run_id` (the producer while enqueuing a large run, and at its commit).
pub async fn renew(
    conn: &mut PgConnection,
    run_id: Uuid,
    token: i64,
    lease: Duration,
) -> Result<bool, ControlError> {
    renew_lease(conn, "id = 1", run_id, token, lease).await
}

/// Renew the lease of `run_id` unless another transaction has the lock row locked (a takeover,
/// a release or another renewal): an item commit never waits for the lock row, so it cannot
/// deadlock with a takeover that holds the lock row and waits for the run row.
pub async fn renew_unless_busy(
    conn: &mut PgConnection,
    run_id: Uuid,
    token: i64,
    lease: Duration,
) -> Result<bool, ControlError> {
    renew_lease(
        conn,
        "id = (SELECT id FROM migration_platform_lock WHERE id = 1 FOR UPDATE SKIP LOCKED)",
        run_id,
        token,
        lease,
    )
    .await
}

/// Renew the lease of the run that holds the lock while that run is being worked on (active,
/// and a live worker is asking: this is called from workers' heartbeats), so the lease
/// measures the fleet's liveness, not its commits: a project longer than the lease, or a run
/// whose items wait out a server's `Retry-After`, keeps the platform; once every worker is
/// gone the lease lapses and a new platform run may take over. At most one renewal per quarter
/// of `lease` (every worker's beat asks), and never waiting for the lock row (a takeover or
/// release holding it wins). The run is read by a scalar sub-select, which PostgreSQL runs per
/// lock row by primary key: an `EXISTS` may be planned as a join that reads every run whole.
/// Returns whether it renewed.
pub async fn renew_active(conn: &mut PgConnection, lease: Duration) -> Result<bool, ControlError> {
    let done = sqlx::query(
        "UPDATE migration_platform_lock l SET renewed_at = clock_timestamp(), \
                expires_at = clock_timestamp() + make_interval(secs => $1) \
          WHERE l.id = (SELECT id FROM migration_platform_lock WHERE id = 1 FOR UPDATE SKIP LOCKED) \
            AND l.run_id IS NOT NULL \
            AND l.renewed_at < clock_timestamp() - make_interval(secs => $1 / 4) \
            AND coalesce((SELECT r.lock_token = l.token AND r.status IN ('running', 'paused', 'cancelling') \
                            FROM migration_runs r WHERE r.id = l.run_id), false)",
    )
    .bind(lease.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The lease renewal; `row` is a fixed condition choosing the lock row (waiting for it or not).
async fn renew_lease(
    conn: &mut PgConnection,
    row: &'static str,
    run_id: Uuid,
    token: i64,
    lease: Duration,
) -> Result<bool, ControlError> {
    let sql = format!(
        "UPDATE migration_platform_lock SET renewed_at = clock_timestamp(), \
                expires_at = clock_timestamp() + make_interval(secs => $3) \
          WHERE {row} AND run_id = $1 AND token = $2"
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id)
        .bind(token)
        .bind(lease.as_secs_f64())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
