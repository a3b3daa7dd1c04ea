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
        mask_user_emails(self.users.iter_mut().flatten());
    }
}

fn mask_user_emails<'a>(rows: impl Iterator<Item = &'a mut Value>) {
    for row in rows {
        if let Some(Value::String(email)) = row.get_mut("email") {
            *email = crate::access::mask_email(email);
        }
    }
}

/// Users by migration status and rows of the per-user view, without `stats`' global aggregate:
/// what the dashboard's users page reads, at O(users) (the global row counts every task).
#[derive(Debug, Clone, Default)]
pub struct UserProgress {
    /// Users by status in the view's order.
    pub by_status: Vec<(String, i64)>,
    /// Rows of `user_migration_stats` (most behind first).
    pub users: Vec<Value>,
}

impl UserProgress {
    /// What viewers see: e-mail addresses masked.
    pub fn mask_emails(&mut self) {
        mask_user_emails(self.users.iter_mut());
    }
}

/// [`UserProgress`], `limit` users.
pub async fn user_progress(pool: &PgPool, limit: i64) -> Result<UserProgress, OpsError> {
    if limit < 1 {
        return Err(OpsError::Invalid("--limit must be at least 1".to_owned()));
    }
    let mut conn = pool.acquire().await?;
    Ok(UserProgress {
        by_status: ontofleet_control::stats::users_by_status(&mut conn).await?,
        users: ontofleet_control::stats::user_stats(&mut conn, limit).await?,
    })
}

/// Global progress summed from the per-user materialized view: what the dashboard shows on every
/// load, at O(users) instead of the `global_migration_progress` view's counts over every task
/// and mapping (as fresh as the view: run completion and `stats --refresh` refresh it).
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct Totals {
    /// Projects of users with projects.
    pub total_projects: i64,
    /// Of those, migrated.
    pub migrated_projects: i64,
    /// Of those, failed.
    pub failed_projects: i64,
    /// Tasks.
    pub total_tasks: i64,
    /// Of those, migrated.
    pub migrated_tasks: i64,
    /// Users with projects.
    pub users: i64,
    /// Of those, completely migrated.
    pub users_complete: i64,
    /// Of those, with errors.
    pub users_with_errors: i64,
}

/// [`Totals`] from `user_migration_stats`.
pub async fn totals(pool: &PgPool) -> Result<Totals, OpsError> {
    Ok(sqlx::query_as(
        "SELECT coalesce(sum(total_projects), 0)::bigint AS total_projects, \
                coalesce(sum(migrated_projects), 0)::bigint AS migrated_projects, \
                coalesce(sum(failed_projects), 0)::bigint AS failed_projects, \
                coalesce(sum(total_tasks), 0)::bigint AS total_tasks, \
                coalesce(sum(migrated_tasks), 0)::bigint AS migrated_tasks, \
                count(*) AS users, \
                count(*) FILTER (WHERE migration_status = 'complete') AS users_complete, \
                count(*) FILTER (WHERE migration_status = 'has_errors') AS users_with_errors \
           FROM user_migration_stats",
    )
    .fetch_one(pool)
    .await?)
}

/// When `user_migration_stats` was last refreshed (`None`: not since this was recorded).
pub async fn users_refreshed_at(
    pool: &PgPool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, OpsError> {
    Ok(
        sqlx::query_scalar("SELECT refreshed_at FROM user_migration_stats_refreshes WHERE id = 1")
            .fetch_optional(pool)
            .await?,
    )
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
