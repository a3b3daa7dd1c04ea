//! `stats`: global progress, users by migration status and, on request, the per-user table.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::OpsError;
use crate::access::Actor;

/// What `stats` is asked for.
#[derive(Debug, Clone, Copy)]
pub struct StatsRequest {
    /// Refresh the per-user materialized view first.
    pub refresh: bool,
    /// Include the per-user table.
    pub users: bool,
    /// Rows of the per-user table (most behind first).
    pub limit: i64,
}

/// The response of `stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stats {
    /// The per-user view was refreshed first.
    pub refreshed: bool,
    /// How long the refresh took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_ms: Option<u64>,
    /// The one row of `global_migration_progress`.
    pub global: Value,
    /// Users by migration status.
    pub users_by_status: BTreeMap<String, i64>,
    /// Rows of `user_migration_stats`, with `users`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<Value>>,
    /// Users by status in the view's order (for printers; not serialised).
    #[serde(skip)]
    pub by_status: Vec<(String, i64)>,
}

impl Stats {
    /// What viewers see: e-mail addresses masked (`a***@example.com`).
    pub fn mask_emails(&mut self) {
        for row in self.users.iter_mut().flatten() {
            if let Some(Value::String(email)) = row.get_mut("email") {
                *email = crate::access::mask_email(email);
            }
        }
    }
}

/// Refresh `user_migration_stats` (audited in the same transaction); milliseconds taken.
pub async fn refresh(pool: &PgPool, actor: &Actor) -> Result<u64, OpsError> {
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    ontofleet_control::refresh_stats_in(&mut tx)
        .await
        .map_err(|e| OpsError::Unavailable(format!("cannot refresh the stats view: {e}")))?;
    let entry = actor.entry("stats.refresh", serde_json::json!({}));
    ontofleet_db::admin::record_audit(&mut tx, &entry, None).await?;
    tx.commit().await?;
    Ok(started.elapsed().as_millis() as u64)
}

/// `stats`.
pub async fn stats(pool: &PgPool, req: StatsRequest, actor: &Actor) -> Result<Stats, OpsError> {
    if req.limit < 1 {
        return Err(OpsError::Invalid("--limit must be at least 1".to_owned()));
    }
    let refresh_ms = if req.refresh {
        Some(refresh(pool, actor).await?)
    } else {
        None
    };
    let mut conn = pool.acquire().await?;
    let global = ontofleet_control::stats::global_progress(&mut conn).await?;
    let by_status = ontofleet_control::stats::users_by_status(&mut conn).await?;
    let users = if req.users {
        Some(ontofleet_control::stats::user_stats(&mut conn, req.limit).await?)
    } else {
        None
    };
    Ok(Stats {
        refreshed: refresh_ms.is_some(),
        refresh_ms,
        global,
        users_by_status: by_status.iter().cloned().collect(),
        users,
        by_status,
    })
}
