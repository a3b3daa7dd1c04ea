//! The legacy DDL and the schema-level operations: create, detect, reset.

use crate::SeedError;

/// The legacy BuildOS schema (`sql/legacy.sql`): enum types, the seven tables and their indexes.
///
/// Idempotent (run it any number of times) and safe to run from several processes at once: it is
/// one transaction that first takes `pg_advisory_xact_lock(LEGACY_DDL_LOCK_KEY)`. It can also be
/// fed to `psql -f`.
pub const LEGACY_DDL: &str = include_str!("../sql/legacy.sql");

/// Key of the transaction-scoped advisory lock taken by [`LEGACY_DDL`].
pub const LEGACY_DDL_LOCK_KEY: i64 = 7_237_960_729_312_097_281;

/// The legacy tables (all in schema `public`), parents before children.
pub const LEGACY_TABLES: [&str; 7] = [
    "users",
    "projects",
    "phases",
    "tasks",
    "phase_tasks",
    "project_calendars",
    "task_calendar_events",
];

/// Create the legacy enum types, tables and indexes that are missing (runs [`LEGACY_DDL`]).
pub async fn create_schema(pool: &sqlx::PgPool) -> Result<(), SeedError> {
    // The script manages its own transaction (BEGIN … COMMIT), so it runs on a dedicated
    // connection: if it fails half-way, that connection may sit in an aborted transaction and
    // must not go back to the pool.
    let mut conn = pool.acquire().await?;
    if let Err(err) = sqlx::raw_sql(LEGACY_DDL).execute(&mut *conn).await {
        conn.close_on_drop();
        return Err(err.into());
    }
    tracing::debug!("legacy schema present");
    Ok(())
}

/// Whether all seven legacy tables ([`LEGACY_TABLES`]) exist in schema `public`.
pub async fn legacy_schema_exists(pool: &sqlx::PgPool) -> Result<bool, SeedError> {
    let present: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
    )
    .bind(&LEGACY_TABLES[..])
    .fetch_one(pool)
    .await?;
    Ok(present == LEGACY_TABLES.len() as i64)
}

/// Empty the seven legacy tables (`TRUNCATE … RESTART IDENTITY CASCADE`).
///
/// Creates the schema first if it is missing, so it works on a fresh database. `CASCADE` also
/// empties every table holding a foreign key to a legacy table (e.g. `onto_event_sync`,
/// `onto_actors`), as Postgres requires.
pub async fn reset(pool: &sqlx::PgPool) -> Result<(), SeedError> {
    create_schema(pool).await?;
    sqlx::query(
        "TRUNCATE public.users, public.projects, public.phases, public.tasks, public.phase_tasks, \
         public.project_calendars, public.task_calendar_events RESTART IDENTITY CASCADE",
    )
    .execute(pool)
    .await?;
    tracing::info!("legacy tables truncated");
    Ok(())
}
