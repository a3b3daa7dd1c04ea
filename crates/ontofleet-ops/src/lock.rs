//! `lock status`: who holds the platform lock.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::OpsError;

/// The response of `lock status`.
#[derive(Debug, Clone, Serialize)]
pub struct LockView {
    /// Held with an unexpired lease.
    pub held: bool,
    /// Holder run, if any.
    pub run_id: Option<Uuid>,
    /// Status of the holder run.
    pub run_status: Option<String>,
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
    /// Last release.
    pub released_at: Option<DateTime<Utc>>,
    /// Who released it last.
    pub released_by: Option<String>,
}

/// `lock status`.
pub async fn status(pool: &PgPool) -> Result<LockView, OpsError> {
    let mut conn = pool.acquire().await?;
    let lock = ontofleet_control::lock_status(&mut conn).await?;
    let run_status: Option<String> = match lock.run_id {
        Some(run) => {
            sqlx::query_scalar("SELECT status FROM migration_runs WHERE id = $1")
                .bind(run)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    Ok(LockView {
        held: lock.is_locked,
        run_id: lock.run_id,
        run_status,
        holder: lock.holder,
        token: lock.token,
        locked_at: lock.locked_at,
        renewed_at: lock.renewed_at,
        expires_at: lock.expires_at,
        released_at: lock.released_at,
        released_by: lock.released_by,
    })
}
