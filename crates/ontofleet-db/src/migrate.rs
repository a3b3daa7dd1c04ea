//! Applying the app schema (`migrations/`) and the queue schema (apalis's own migrator, handed
//! in by `ontofleet-queue` so that this crate never names apalis types).
//!
//! Both migrators take sqlx's advisory lock, so `db migrate` from several pods at once is safe;
//! their histories live in different tables (`public._sqlx_migrations` and
//! `apalis._sqlx_migrations`), so neither sees the other's versions as unknown.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::DbError;

/// The app migrations (ontology, ledger, templates, stats views).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The legacy tables (in `public`) the app schema and the pipeline read; they must exist before
/// `db migrate`.
pub const LEGACY_TABLES: [&str; 7] = [
    "users",
    "projects",
    "phases",
    "phase_tasks",
    "tasks",
    "project_calendars",
    "task_calendar_events",
];

/// Whether every legacy table exists in `public`.
pub async fn legacy_tables_present(pool: &PgPool) -> Result<bool, DbError> {
    let present: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::text[]) AS t(name) WHERE to_regclass('public.' || t.name) IS NOT NULL",
    )
    .bind(&LEGACY_TABLES[..])
    .fetch_one(pool)
    .await?;
    Ok(present == LEGACY_TABLES.len() as i64)
}

/// Apply the queue schema, then the app schema. Idempotent.
pub async fn migrate_all(pool: &PgPool, queue: &Migrator) -> Result<(), DbError> {
    if !legacy_tables_present(pool).await? {
        return Err(DbError::LegacySchemaMissing);
    }
    queue.run(pool).await?;
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// One migration and whether it has been applied.
#[derive(Debug, Clone)]
pub struct MigrationState {
    /// Which schema: `app` or `queue`.
    pub set: &'static str,
    /// Version (timestamp prefix of the file).
    pub version: i64,
    /// File description.
    pub description: String,
    /// When it was applied, if it was.
    pub applied_at: Option<DateTime<Utc>>,
}

/// Applied and pending migrations of each named migrator.
pub async fn migration_status(
    pool: &PgPool,
    sets: &[(&'static str, &Migrator)],
) -> Result<Vec<MigrationState>, DbError> {
    let mut out = Vec::new();
    for (set, migrator) in sets {
        let table = migrator.table_name.to_string();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(&table)
            .fetch_one(pool)
            .await?;
        let applied: Vec<(i64, DateTime<Utc>)> = if exists {
            // The table name comes from the migrator's own constant, not from user input.
            let sql = format!("SELECT version, installed_on FROM {table} WHERE success");
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await?
        } else {
            Vec::new()
        };
        for m in migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
        {
            out.push(MigrationState {
                set,
                version: m.version,
                description: m.description.to_string(),
                applied_at: applied
                    .iter()
                    .find(|(v, _)| *v == m.version)
                    .map(|(_, at)| *at),
            });
        }
    }
    Ok(out)
}

/// Delete ontology, ledger and this app's queue rows (development `seed --reset`). The lock's
/// fencing token is kept: it must never go back.
pub async fn reset_app_data(pool: &PgPool, queue: &str) -> Result<(), DbError> {
    let app: bool = sqlx::query_scalar("SELECT to_regclass('public.onto_projects') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if app {
        sqlx::raw_sql(
            "TRUNCATE onto_edges, onto_event_sync, onto_events, onto_documents, onto_tasks, onto_plans, onto_projects, \
                      onto_actors, legacy_entity_mappings, migration_log, migration_attempts, migration_run_items, \
                      migration_runs, migration_project_sync; \
             UPDATE migration_platform_lock SET run_id = NULL, holder = NULL, expires_at = NULL, \
                    released_at = now(), released_by = 'seed --reset';",
        )
        .execute(pool)
        .await?;
    }
    let queue_present: bool = sqlx::query_scalar("SELECT to_regclass('apalis.jobs') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if queue_present {
        sqlx::query("DELETE FROM apalis.jobs WHERE job_type = $1")
            .bind(queue)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Refresh the stats view if it exists (after seeding).
pub async fn refresh_stats_if_present(pool: &PgPool) -> Result<(), DbError> {
    let present: bool =
        sqlx::query_scalar("SELECT to_regclass('public.user_migration_stats') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if present {
        sqlx::query("REFRESH MATERIALIZED VIEW user_migration_stats")
            .execute(pool)
            .await?;
    }
    Ok(())
}
