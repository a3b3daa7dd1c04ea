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

/// A run's unfinished items from its counters: the total minus every terminal counter. The
/// KEDA trigger's query (`deploy/components/keda`) computes the same, over the runs of
/// [`ontofleet_core::RunStatus::ACTIVE`] (`tests/e2e/deploy.rs` holds them to it).
pub const UNFINISHED_ITEMS: &str = "total_items - succeeded_items - partial_items - failed_items \
     - skipped_items - cancelled_items";

/// What is left to do in the active runs ([`ontofleet_core::RunStatus::ACTIVE`]), for the
/// backlog gauges and autoscaling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Active runs.
    pub active_runs: i64,
    /// Unfinished items waiting for a first execution.
    pub queued: i64,
    /// Unfinished items executing now.
    pub running: i64,
    /// Unfinished items waiting for a retry.
    pub retrying: i64,
}

/// The backlog of the active runs. Unfinished items come from the run counters (total minus
/// the terminal counters); the running and retrying ones are counted among the active runs'
/// items by primary key (no status index, no queue scan), and the rest are queued.
pub async fn backlog(pool: &sqlx::PgPool) -> Result<Backlog, ControlError> {
    use ontofleet_core::{ItemStatus, RunStatus, sql_list};
    let sql = format!(
        "WITH a AS (SELECT id, {UNFINISHED_ITEMS} AS left_items \
                      FROM migration_runs WHERE status IN ({active})) \
         SELECT (SELECT count(*) FROM a), \
                (SELECT coalesce(sum(left_items), 0)::bigint FROM a), \
                count(*) FILTER (WHERE i.status = '{running}'), \
                count(*) FILTER (WHERE i.status = '{retrying}') \
           FROM a LEFT JOIN migration_run_items i ON i.run_id = a.id AND a.left_items > 0 \
                                                 AND i.status IN ({in_hand})",
        active = sql_list(RunStatus::ACTIVE),
        running = ItemStatus::Running,
        retrying = ItemStatus::Retrying,
        in_hand = sql_list(ItemStatus::IN_HAND),
    );
    let (active_runs, unfinished, running, retrying): (i64, i64, i64, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await?;
    Ok(Backlog {
        active_runs,
        queued: (unfinished - running - retrying).max(0),
        running,
        retrying,
    })
}
