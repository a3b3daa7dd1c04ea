//! The indexes on the legacy tables that let a catch-up pass find what changed since a watermark
//! without reading whole tables (SPEC §15): one per table, on the latest of its timestamps. The
//! selection statements use exactly these expressions ([`CHANGE_INDEXES`]), so the planner can
//! match them.
//!
//! They are built with `CREATE INDEX CONCURRENTLY` — the application keeps writing meanwhile —
//! outside the migrators' transaction and advisory lock (a concurrent build waits for every
//! older transaction, a migrator waiting on the lock among them). Creating an index needs the
//! table's owner: when the migrating role does not own the legacy tables (the least-privilege
//! setup of `docs/roles.sql`), nothing is created and the statements are reported for the
//! tables' owner to run (`docs/change-indexes.sql`).

use serde::Serialize;
use sqlx::PgPool;

use crate::DbError;

/// One change index: its name, its table and the expression it indexes.
#[derive(Debug, Clone, Copy)]
pub struct ChangeIndex {
    /// Index name.
    pub name: &'static str,
    /// Legacy table.
    pub table: &'static str,
    /// The indexed expression, as the selection writes it (column names unqualified).
    pub expression: &'static str,
}

impl ChangeIndex {
    /// The statement that builds it.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON public.{} (({}))",
            self.name, self.table, self.expression
        )
    }
}

/// The change indexes, one per legacy table the pipeline reads rows of.
pub const CHANGE_INDEXES: [ChangeIndex; 5] = [
    ChangeIndex {
        name: "ontofleet_projects_changed_idx",
        table: "projects",
        expression: "greatest(created_at, updated_at)",
    },
    ChangeIndex {
        name: "ontofleet_phases_changed_idx",
        table: "phases",
        expression: "greatest(created_at, updated_at)",
    },
    ChangeIndex {
        name: "ontofleet_tasks_changed_idx",
        table: "tasks",
        expression: "greatest(created_at, updated_at, deleted_at)",
    },
    ChangeIndex {
        name: "ontofleet_phase_tasks_changed_idx",
        table: "phase_tasks",
        expression: "created_at",
    },
    ChangeIndex {
        name: "ontofleet_task_calendar_events_changed_idx",
        table: "task_calendar_events",
        expression: "greatest(created_at, updated_at)",
    },
];

/// Whether one change index is in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeIndexState {
    /// Index name.
    pub name: String,
    /// Legacy table.
    pub table: String,
    /// Built and valid.
    pub ready: bool,
}

/// The state of every change index.
pub async fn change_index_states(pool: &PgPool) -> Result<Vec<ChangeIndexState>, DbError> {
    let names: Vec<&str> = CHANGE_INDEXES.iter().map(|i| i.name).collect();
    let ready: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_index i ON i.indexrelid = c.oid \
          WHERE n.nspname = 'public' AND c.relname = ANY($1) AND i.indisvalid AND i.indisready",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    Ok(CHANGE_INDEXES
        .iter()
        .map(|i| ChangeIndexState {
            name: i.name.to_owned(),
            table: i.table.to_owned(),
            ready: ready.iter().any(|r| r == i.name),
        })
        .collect())
}

/// What [`ensure_change_indexes`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeIndexReport {
    /// Built by this call.
    pub created: Vec<&'static str>,
    /// Not built: the role does not own the table. Their statements are for the owner to run.
    pub not_permitted: Vec<&'static str>,
}

/// Build the change indexes that are missing (dropping an invalid leftover of an interrupted
/// build first). Idempotent; a concurrent call that builds the same index at the same moment
/// is not an error.
pub async fn ensure_change_indexes(pool: &PgPool) -> Result<ChangeIndexReport, DbError> {
    let mut report = ChangeIndexReport::default();
    let states = change_index_states(pool).await?;
    for index in CHANGE_INDEXES {
        if states.iter().any(|s| s.name == index.name && s.ready) {
            continue;
        }
        // An interrupted CONCURRENTLY build leaves an invalid index that IF NOT EXISTS would keep.
        let invalid: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               JOIN pg_index i ON i.indexrelid = c.oid \
              WHERE n.nspname = 'public' AND c.relname = $1 AND NOT i.indisvalid)",
        )
        .bind(index.name)
        .fetch_one(pool)
        .await?;
        let result = async {
            if invalid {
                // The name is one of the constants above.
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS public.{}",
                    index.name
                )))
                .execute(pool)
                .await?;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(index.create_sql()))
                .execute(pool)
                .await
        }
        .await;
        match result {
            Ok(_) => report.created.push(index.name),
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501") => {
                report.not_permitted.push(index.name);
            }
            // Another process created the same index between the check and the build.
            Err(sqlx::Error::Database(d))
                if matches!(d.code().as_deref(), Some("42P07") | Some("23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owners_file_builds_exactly_these_indexes() {
        let file = include_str!("../../../docs/change-indexes.sql");
        let statements: Vec<&str> = file
            .lines()
            .filter(|l| l.starts_with("CREATE INDEX"))
            .map(|l| l.trim_end_matches(';'))
            .collect();
        let expected: Vec<String> = CHANGE_INDEXES.iter().map(ChangeIndex::create_sql).collect();
        assert_eq!(statements, expected);
    }
}
