//! Planner statistics of the legacy tables. A freshly loaded legacy database has none (and a
//! server with autovacuum off never gets any); the per-project statements are written to stay
//! index-driven without them, but the run's own set-based statements (selection, validation)
//! and any ad-hoc query of an operator plan better with them. So before enqueuing, the producer
//! `ANALYZE`s the legacy tables whose statistics are missing or stale.

use std::time::Instant;

use ontofleet_db::LEGACY_TABLES;
use sqlx::PgPool;

/// A legacy table and why its statistics need refreshing.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StaleTable {
    /// Table name (in `public`).
    pub table: String,
    /// Never analyzed.
    pub never_analyzed: bool,
    /// Whether the current role may analyze it (owner or superuser).
    pub can_analyze: bool,
}

/// Legacy tables whose statistics are missing, or stale by autovacuum's own rule (rows changed
/// since the last analyze above 50 + 10 % of the table).
pub async fn stale_legacy_tables(pool: &PgPool) -> Result<Vec<StaleTable>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.relname::text AS table, \
                (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) AS never_analyzed, \
                (pg_has_role(c.relowner, 'USAGE') \
                 OR coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user), false)) AS can_analyze \
           FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
          WHERE s.schemaname = 'public' AND s.relname = ANY($1) \
            AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL) \
                 OR s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)) \
          ORDER BY s.relname",
    )
    .bind(&LEGACY_TABLES[..])
    .fetch_all(pool)
    .await
}

/// `ANALYZE` the stale legacy tables this role may analyze; returns the names analyzed. Tables
/// it may not analyze (not their owner) are logged and left to their owner.
pub async fn refresh_legacy_statistics(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let stale = stale_legacy_tables(pool).await?;
    let mut analyzed = Vec::new();
    let started = Instant::now();
    for t in &stale {
        if !t.can_analyze {
            tracing::info!(
                table = %t.table,
                never_analyzed = t.never_analyzed,
                "legacy table has missing or stale planner statistics, and this role may not ANALYZE it; ask its owner to"
            );
            continue;
        }
        // The name is one of LEGACY_TABLES (matched by the query above), never input.
        let Some(table) = LEGACY_TABLES.iter().find(|n| **n == t.table) else {
            continue;
        };
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE public.{table}")))
            .execute(pool)
            .await?;
        analyzed.push(t.table.clone());
    }
    if !analyzed.is_empty() {
        tracing::info!(
            tables = %analyzed.join(", "),
            ms = started.elapsed().as_millis() as u64,
            "analyzed legacy tables with missing or stale planner statistics"
        );
    }
    Ok(analyzed)
}
