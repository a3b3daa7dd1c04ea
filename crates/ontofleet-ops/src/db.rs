//! `db status`: the applied and pending migrations of both schemas.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::OpsError;

/// One migration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Migration {
    /// `queue` or `app`.
    pub set: &'static str,
    /// Version (timestamp prefix).
    pub version: i64,
    /// File description.
    pub description: String,
    /// When it was applied; `None` = pending.
    pub applied_at: Option<DateTime<Utc>>,
}

/// The response of `db status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbStatus {
    /// Every migration the binary knows, queue first.
    pub migrations: Vec<Migration>,
    /// How many are not applied.
    pub pending: usize,
}

/// `db status`.
pub async fn status(pool: &PgPool) -> Result<DbStatus, OpsError> {
    let queue = ontofleet_queue::migrator();
    let states = ontofleet_db::migration_status(
        pool,
        &[("queue", &queue), ("app", &ontofleet_db::MIGRATOR)],
    )
    .await?;
    let pending = states.iter().filter(|s| s.applied_at.is_none()).count();
    Ok(DbStatus {
        migrations: states
            .into_iter()
            .map(|s| Migration {
                set: s.set,
                version: s.version,
                description: s.description,
                applied_at: s.applied_at,
            })
            .collect(),
        pending,
    })
}
