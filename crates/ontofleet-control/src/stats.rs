//! Progress figures for `ontofleet stats`: the `global_migration_progress` view and the
//! `user_migration_stats` materialized view (refreshed by run completion or on request).

use serde_json::Value;
use sqlx::PgConnection;

use crate::ControlError;

/// The one row of `global_migration_progress`, as a JSON object keyed by column.
pub async fn global_progress(conn: &mut PgConnection) -> Result<Value, ControlError> {
    Ok(
        sqlx::query_scalar("SELECT to_jsonb(g) FROM global_migration_progress g")
            .fetch_one(conn)
            .await?,
    )
}

/// Rows of `user_migration_stats`, most behind first (errors, then lowest completion), each a
/// JSON object keyed by column; with the time the view was last refreshed, if known.
pub async fn user_stats(conn: &mut PgConnection, limit: i64) -> Result<Vec<Value>, ControlError> {
    Ok(sqlx::query_scalar(
        "SELECT to_jsonb(u) FROM user_migration_stats u \
          ORDER BY (migration_status = 'has_errors') DESC, percent_complete, total_projects DESC, email, user_id \
          LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Users by `migration_status` over the whole view.
pub async fn users_by_status(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, ControlError> {
    Ok(sqlx::query_as(
        "SELECT migration_status, count(*) FROM user_migration_stats GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(conn)
    .await?)
}
