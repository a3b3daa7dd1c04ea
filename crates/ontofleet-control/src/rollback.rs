//! `run rollback`: delete, per project in one transaction, the ontology rows and mappings a run
//! created, with a `migration_log` row (`operation = rollback`) for each. A row the run created
//! but a later run changed since (its mapping names another run) stays, and so does a project row
//! that still has rows the run did not create. Rows the run only updated (resync) stay as they
//! are: the ledger keeps no earlier version to restore.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ControlError;
use crate::validate::ROWS_UNDER_PROJECTS;

/// What a rollback did to one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectRollback {
    /// Rows deleted, by ontology table.
    pub deleted: BTreeMap<String, i64>,
    /// Edges deleted with them.
    pub edges_deleted: i64,
    /// Rows the run created that stay because a later run changed them (or, for the project
    /// row, because rows of other runs hang under it).
    pub kept: i64,
}

/// Every ontology row under the project's onto project, with its mapping and whether this run
/// created it (a completed `migrate`/`recreate` log row of the run for that row).
static CANDIDATES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH op AS (SELECT onto_id FROM legacy_entity_mappings WHERE legacy_table = 'projects' AND legacy_id = $2), \
              r AS (SELECT 'onto_projects'::text AS t, id FROM onto_projects WHERE id IN (SELECT onto_id FROM op) \
                    UNION ALL {ROWS_UNDER_PROJECTS}) \
         SELECT r.t, r.id, m.legacy_table, m.legacy_id, coalesce(m.run_id = $1, false) AS last_by_run, c.user_id, \
                c.entity_type \
           FROM r LEFT JOIN legacy_entity_mappings m ON m.onto_table = r.t AND m.onto_id = r.id \
           LEFT JOIN LATERAL (SELECT l.user_id, l.entity_type FROM migration_log l \
                               WHERE l.run_id = $1 AND l.legacy_id = m.legacy_id AND l.legacy_table = m.legacy_table \
                                 AND l.onto_id = r.id AND l.operation IN ('migrate', 'recreate') AND l.status = 'completed' \
                               LIMIT 1) c ON true"
    )
});

#[derive(sqlx::FromRow)]
struct Candidate {
    t: String,
    id: Uuid,
    legacy_table: Option<String>,
    legacy_id: Option<Uuid>,
    last_by_run: bool,
    user_id: Option<Uuid>,
    entity_type: Option<String>,
}

/// Roll back what `run_id` created under one legacy project, in the caller's transaction (which
/// the caller commits per project). Takes the project's advisory lock, so it waits for an
/// execution of the project in progress and no execution interleaves.
pub async fn rollback_project(
    conn: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
    by: &str,
) -> Result<ProjectRollback, ControlError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ontofleet_core::project_lock_key(project_id))
        .execute(&mut *conn)
        .await?;
    let rows: Vec<Candidate> = sqlx::query_as(sqlx::AssertSqlSafe(CANDIDATES_SQL.as_str()))
        .bind(run_id)
        .bind(project_id)
        .fetch_all(&mut *conn)
        .await?;
    let created = |c: &Candidate| c.user_id.is_some();
    let mut report = ProjectRollback::default();
    let mut delete: Vec<&Candidate> = rows
        .iter()
        .filter(|c| created(c) && c.last_by_run)
        .collect();
    report.kept = rows.iter().filter(|c| created(c) && !c.last_by_run).count() as i64;
    // The project row cascades to everything under it: it goes only if everything under it goes.
    let doomed: HashSet<Uuid> = delete.iter().map(|c| c.id).collect();
    let others_below = rows
        .iter()
        .any(|c| c.t != "onto_projects" && !doomed.contains(&c.id));
    if others_below {
        let before = delete.len();
        delete.retain(|c| c.t != "onto_projects");
        report.kept += (before - delete.len()) as i64;
    }
    if delete.is_empty() {
        return Ok(report);
    }
    // The project's recorded shape no longer describes the target: the next catch-up pass
    // reads it again (SPEC §15).
    sqlx::query("DELETE FROM migration_project_sync WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    let ids: Vec<Uuid> = delete.iter().map(|c| c.id).collect();
    let kinds: Vec<&str> = delete
        .iter()
        .map(|c| ontofleet_core::onto_kind(&c.t))
        .collect();
    // Two deletes, so each uses its index (the unique key leads with src_id; the dst index).
    report.edges_deleted = sqlx::query_scalar(
        "WITH s AS (DELETE FROM onto_edges WHERE src_id = ANY($1) RETURNING 1), \
              d AS (DELETE FROM onto_edges WHERE (dst_kind, dst_id) IN (SELECT * FROM unnest($2::text[], $1::uuid[])) \
                       AND NOT (src_id = ANY($1)) RETURNING 1) \
         SELECT (SELECT count(*) FROM s) + (SELECT count(*) FROM d)",
    )
    .bind(&ids)
    .bind(&kinds)
    .fetch_one(&mut *conn)
    .await?;
    // Children before the project row, so each count is what this statement deleted.
    for table in [
        "onto_events",
        "onto_tasks",
        "onto_plans",
        "onto_documents",
        "onto_projects",
    ] {
        let of_table: Vec<Uuid> = delete
            .iter()
            .filter(|c| c.t == table)
            .map(|c| c.id)
            .collect();
        if of_table.is_empty() {
            continue;
        }
        // `table` is one of the fixed names above.
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE id = ANY($1)"
        )))
        .bind(&of_table)
        .execute(&mut *conn)
        .await?
        .rows_affected() as i64;
        report.deleted.insert(table.to_owned(), n);
    }
    sqlx::query(
        "WITH d AS (DELETE FROM legacy_entity_mappings m USING unnest($1::text[], $2::uuid[]) AS u(t, id) \
                     WHERE m.onto_table = u.t AND m.onto_id = u.id) \
         INSERT INTO migration_log (run_id, user_id, entity_type, operation, legacy_table, legacy_id, onto_table, onto_id, \
                status, metadata) \
         SELECT $3, u.uid, u.et, 'rollback', u.lt, u.li, u.t, u.id, 'completed', jsonb_build_object('rolled_back_by', $4::text) \
           FROM unnest($1::text[], $2::uuid[], $5::uuid[], $6::text[], $7::text[], $8::uuid[]) AS u(t, id, uid, et, lt, li)",
    )
    .bind(delete.iter().map(|c| c.t.as_str()).collect::<Vec<_>>())
    .bind(&ids)
    .bind(run_id)
    .bind(by)
    .bind(delete.iter().map(|c| c.user_id).collect::<Vec<_>>())
    .bind(delete.iter().map(|c| c.entity_type.as_deref()).collect::<Vec<_>>())
    .bind(delete.iter().map(|c| c.legacy_table.as_deref()).collect::<Vec<_>>())
    .bind(delete.iter().map(|c| c.legacy_id).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(report)
}

/// What a rollback did to a whole run; stored in the run's `summary.rolled_back` (with `at`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunRollback {
    /// Who rolled it back.
    pub by: String,
    /// Projects (items) of the run.
    pub projects: usize,
    /// Projects where something was deleted.
    pub projects_changed: usize,
    /// Rows deleted, by ontology table (their mappings went with them).
    pub rows_deleted: BTreeMap<String, i64>,
    /// Edges deleted with them.
    pub edges_deleted: i64,
    /// Rows kept (see [`ProjectRollback::kept`]).
    pub kept: i64,
}

impl RunRollback {
    /// Rows deleted over every table, which is also the number of mappings deleted.
    pub fn rows(&self) -> i64 {
        self.rows_deleted.values().sum()
    }
}

/// Why a run's rollback stopped.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// One project's transaction failed; the projects before it are rolled back.
    #[error(
        "rollback of project {project_id} failed: {source}; projects before it are rolled back, run the command again to finish"
    )]
    Project {
        /// The project.
        project_id: Uuid,
        /// The failure.
        source: ControlError,
    },
    /// Reading the run's items or recording the result failed.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// Roll back every project of the run, each in its own transaction ([`rollback_project`]), and
/// record the totals in the run's `summary.rolled_back`. Running it again deletes nothing more.
pub async fn rollback_run(
    pool: &PgPool,
    run_id: Uuid,
    by: &str,
) -> Result<RunRollback, RollbackError> {
    let projects: Vec<Uuid> = sqlx::query_scalar(
        "SELECT project_id FROM migration_run_items WHERE run_id = $1 ORDER BY project_id",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await
    .map_err(ControlError::from)?;
    let mut total = RunRollback {
        by: by.to_owned(),
        projects: projects.len(),
        ..RunRollback::default()
    };
    for &project_id in &projects {
        let one = async {
            let mut tx = pool.begin().await?;
            let r = rollback_project(&mut tx, run_id, project_id, by).await?;
            tx.commit().await?;
            Ok::<_, ControlError>(r)
        }
        .await
        .map_err(|source| RollbackError::Project { project_id, source })?;
        total.projects_changed += usize::from(!one.deleted.is_empty());
        for (t, n) in one.deleted {
            *total.rows_deleted.entry(t).or_default() += n;
        }
        total.edges_deleted += one.edges_deleted;
        total.kept += one.kept;
    }
    let summary = serde_json::to_value(&total).unwrap_or_default();
    sqlx::query(
        "UPDATE migration_runs SET summary = summary || jsonb_build_object('rolled_back', $2::jsonb || jsonb_build_object('at', now())) WHERE id = $1",
    )
    .bind(run_id)
    .bind(&summary)
    .execute(pool)
    .await
    .map_err(ControlError::from)?;
    Ok(total)
}
