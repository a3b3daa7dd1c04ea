//! The database as operators reach it: connections (with the errors that say what to fix),
//! `db migrate`, `db status`, the check that the schema is installed, and the dev tools' reset.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontofleet_db::{DbError, DbSettings};
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
    /// The indexes on legacy tables that catch-up passes select changes with (SPEC §15).
    pub change_indexes: Vec<ChangeIndex>,
}

/// One index on a legacy table that catch-up passes use.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeIndex {
    /// Index name.
    pub name: String,
    /// Legacy table.
    pub table: String,
    /// Built and valid.
    pub ready: bool,
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
    let change_indexes = ontofleet_db::change_index::change_index_states(pool)
        .await?
        .into_iter()
        .map(|i| ChangeIndex {
            name: i.name,
            table: i.table,
            ready: i.ready,
        })
        .collect();
    Ok(DbStatus {
        change_indexes,
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

/// A connection failure in one line that says what to fix: a URL that does not parse is a
/// usage error, a server that does not answer a runtime one.
pub(crate) fn connect_error(e: DbError) -> OpsError {
    match e {
        DbError::BadUrl(_) => OpsError::Invalid(format!(
            "{e}; expected a URL such as postgres://user@host:5432/dbname"
        )),
        DbError::Unreachable { .. } => OpsError::Unavailable(format!(
            "{e}; check that PostgreSQL is running and the URL is right"
        )),
        other => OpsError::Unavailable(other.to_string()),
    }
}

/// A pool for an operator's command.
pub async fn connect(settings: &DbSettings) -> Result<PgPool, OpsError> {
    ontofleet_db::connect(settings).await.map_err(connect_error)
}

/// A pool of the admin API: `max` connections, each statement bounded by `statement_timeout`,
/// read-only sessions with `read_only`.
pub async fn connect_api(
    settings: &DbSettings,
    read_only: bool,
    statement_timeout: Duration,
    max: u32,
) -> Result<PgPool, OpsError> {
    ontofleet_db::connect_api(settings, read_only, statement_timeout, max)
        .await
        .map_err(connect_error)
}

/// [`connect`], then [`require_schema`]: what every command past `db migrate` needs.
pub async fn connect_ready(settings: &DbSettings) -> Result<PgPool, OpsError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    Ok(pool)
}

/// The ontofleet schema is installed (else: run `db migrate`).
pub async fn require_schema(pool: &PgPool) -> Result<(), OpsError> {
    let ready: bool = sqlx::query_scalar(
        "SELECT to_regclass('public.migration_runs') IS NOT NULL AND to_regclass('apalis.jobs') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    if ready {
        Ok(())
    } else {
        Err(OpsError::Unavailable(
            "the ontofleet schema is not installed: run `ontofleet db migrate` first".to_owned(),
        ))
    }
}

/// The response of `db migrate`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Migrated {
    /// Migrations applied (app + queue), all of them now.
    pub applied: usize,
    /// Migrations still pending (0 after a successful run).
    pub pending: usize,
    /// Change indexes built by this call.
    pub change_indexes_created: Vec<String>,
    /// Change indexes this role may not build (it does not own the legacy table): the owner runs
    /// `docs/change-indexes.sql`.
    pub change_indexes_not_permitted: Vec<String>,
}

/// `db migrate`: the queue schema, then the app schema, then the change indexes on the legacy
/// tables (built concurrently; reported, not fatal, when this role does not own those tables);
/// idempotent, safe from several pods at once (both migrators take sqlx's advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<Migrated, OpsError> {
    ontofleet_db::migrate_all(pool, &ontofleet_queue::migrator()).await?;
    let indexes = ontofleet_db::change_index::ensure_change_indexes(pool).await?;
    let st = status(pool).await?;
    Ok(Migrated {
        applied: st.migrations.len() - st.pending,
        pending: st.pending,
        change_indexes_created: indexes.created.iter().map(|s| (*s).to_owned()).collect(),
        change_indexes_not_permitted: indexes
            .not_permitted
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    })
}

/// A development database's ontofleet rows removed (`seed --reset`): runs, ledger, ontology
/// and the queue's jobs; the legacy tables are the seed's to reset.
pub async fn reset_app_data(pool: &PgPool) -> Result<(), OpsError> {
    Ok(ontofleet_db::reset_app_data(pool, ontofleet_queue::QUEUE).await?)
}

/// Refresh the per-user stats view where it exists (after seeding new legacy data).
pub async fn refresh_stats_if_present(pool: &PgPool) -> Result<(), OpsError> {
    Ok(ontofleet_db::refresh_stats_if_present(pool).await?)
}
