//! `lock status`: who holds the platform lock.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;

/// The response of `lock status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// The response of `lock release`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Released {
    /// Nothing held the lock.
    NotHeld {
        /// Always false.
        released: bool,
        /// Always false.
        was_held: bool,
    },
    /// The lock was released.
    Released {
        /// Always true.
        released: bool,
        /// Always true.
        was_held: bool,
        /// The run that held it.
        run_id: Uuid,
        /// That run's status.
        run_status: Option<String>,
        /// The run was active with a live lease (`--force`): it can no longer commit.
        forced: bool,
        /// Who released it.
        released_by: String,
    },
}

/// `lock release`: release a stale lock, or with `force` any lock, as `by`. A live lease of an
/// active run is refused without `force`.
pub async fn release(pool: &PgPool, force: bool, actor: &Actor) -> Result<Released, OpsError> {
    let by = actor.initiated_by();
    let mut tx = pool.begin().await?;
    // The lock row and the holder's state are read under the row lock, so a run cannot take or
    // renew the lock between the check and the release.
    let holder: Option<(Option<Uuid>, bool, Option<String>)> = sqlx::query_as(
        "SELECT l.run_id, (l.run_id IS NOT NULL AND l.expires_at > clock_timestamp()), r.status \
           FROM migration_platform_lock l LEFT JOIN migration_runs r ON r.id = l.run_id \
          WHERE l.id = 1 FOR UPDATE OF l",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((Some(run), live, status)) = holder else {
        // Recorded all the same: someone tried to clear the lock.
        let entry = actor.entry(
            "lock.release",
            serde_json::json!({"force": force, "run_id": null}),
        );
        ontofleet_db::admin::record_audit(&mut tx, &entry, Some(0)).await?;
        tx.commit().await?;
        return Ok(Released::NotHeld {
            released: false,
            was_held: false,
        });
    };
    let active = status
        .as_deref()
        .is_some_and(ontofleet_core::RunStatus::is_active_str);
    if live && active && !force {
        return Err(OpsError::Refused(format!(
            "the platform lock is held by active run {run} ({}) with an unexpired lease; \
             cancel it with `ontofleet run cancel {run}`, or clear the lock with `ontofleet lock release --force`",
            status.unwrap_or_default()
        )));
    }
    ontofleet_control::force_release(&mut tx, &by).await?;
    let entry = actor.entry(
        "lock.release",
        serde_json::json!({"force": force, "run_id": run}),
    );
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(1)).await?;
    tx.commit().await?;
    Ok(Released::Released {
        released: true,
        was_held: true,
        run_id: run,
        run_status: status,
        forced: live && active,
        released_by: by,
    })
}
