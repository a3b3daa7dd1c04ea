//! Deletions (SPEC §15): a migrated legacy row that is gone, soft-deleted or no longer
//! migratable (a task without a project, an event of a deleted task, an emptied context) loses
//! its ontology row and that row's edges, in the project's transaction, with a `migration_log`
//! row (`operation = delete`); its mapping stays, marked deleted, so a row that comes back is
//! recreated. A row that moved to another legacy project is not deleted here: that project's
//! pass moves it.
//!
//! Finding them costs nothing for a project whose rows all still map: the load counts the rows
//! under the onto project, and only when there are more than the outline accounts for are their
//! ids read and the extra ones looked up. A pass that would delete too large a share of a
//! project ([`DeletePolicy`]) stops as a data error instead of emptying the target because a
//! source looked empty.

use std::collections::HashSet;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::load::{Mappings, Outline};
use crate::transform::ProjectPlan;

/// How much a pass may delete of one project (`[runs]`, stored in the run's options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletePolicy {
    /// `--allow-mass-delete`: no limit.
    pub allow_mass_delete: bool,
    /// `runs.max_delete_share`, in percent of the project's mapped rows.
    pub max_share: f64,
}

impl Default for DeletePolicy {
    fn default() -> Self {
        Self {
            allow_mass_delete: false,
            max_share: DEFAULT_MAX_DELETE_SHARE,
        }
    }
}

/// Default of `runs.max_delete_share` (%).
pub const DEFAULT_MAX_DELETE_SHARE: f64 = 50.0;

/// A deletion of at most this many rows is never refused.
pub const MASS_DELETE_FLOOR: usize = 10;

impl DeletePolicy {
    /// The policy a run was started with (its `options`: `allow_mass_delete`,
    /// `max_delete_share`); runs started before these options existed get the default.
    pub fn from_run_options(options: &serde_json::Value) -> Self {
        Self {
            allow_mass_delete: options["allow_mass_delete"].as_bool().unwrap_or(false),
            max_share: options["max_delete_share"]
                .as_f64()
                .unwrap_or(DEFAULT_MAX_DELETE_SHARE),
        }
    }

    /// `Err(message)` when deleting `doomed` of `mapped` rows is a mass delete this policy refuses.
    pub fn check(&self, doomed: usize, mapped: usize) -> Result<(), String> {
        if self.allow_mass_delete || doomed <= MASS_DELETE_FLOOR {
            return Ok(());
        }
        if doomed as f64 * 100.0 > self.max_share * mapped.max(1) as f64 {
            return Err(format!(
                "refusing to delete {} of {} rows: use --allow-mass-delete",
                crate::thousands(doomed as u64),
                crate::thousands(mapped as u64)
            ));
        }
        Ok(())
    }
}

/// One ontology row to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doomed {
    /// Ontology table.
    pub onto_table: &'static str,
    /// Ontology id.
    pub onto_id: Uuid,
    /// Its mapping's legacy table (`None`: an unmapped row under a deleted project).
    pub legacy_table: Option<String>,
    /// Its mapping's legacy id.
    pub legacy_id: Option<Uuid>,
}

impl Doomed {
    /// The entity kind of the counts and the edges (`project`, `document`, `plan`, `task`,
    /// `event`).
    pub fn kind(&self) -> &'static str {
        ontofleet_core::onto_kind(self.onto_table)
    }
}

/// `migration_log.entity_type` of a kind (the names the writes log under).
fn log_entity(onto_table: &str) -> &'static str {
    match onto_table {
        "onto_plans" => "phase",
        "onto_events" => "calendar",
        other => ontofleet_core::onto_kind(other),
    }
}

/// Child tables under an onto project, with the legacy table their rows map from.
const CHILD_TABLES: [(&str, &str); 3] = [
    ("onto_plans", "phases"),
    ("onto_tasks", "tasks"),
    ("onto_events", "task_calendar_events"),
];

/// The onto ids the outline accounts for under the project: its mappings at home.
fn at_home(mappings: &Mappings, legacy_table: &str) -> HashSet<Uuid> {
    mappings
        .iter()
        .filter(|((t, _), m)| *t == legacy_table && m.home)
        .map(|(_, m)| m.onto_id)
        .collect()
}

/// Where the legacy row of a mapping `m` can still be migrated from: the legacy project it
/// belongs to now, NULL when it is gone, soft-deleted or under no project.
const ALIVE_IN_SQL: &str = "CASE m.legacy_table \
    WHEN 'tasks' THEN (SELECT t.project_id FROM tasks t WHERE t.id = m.legacy_id AND t.deleted_at IS NULL) \
    WHEN 'phases' THEN (SELECT ph.project_id FROM phases ph WHERE ph.id = m.legacy_id) \
    WHEN 'task_calendar_events' THEN (SELECT t.project_id FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id \
                                       WHERE e.id = m.legacy_id AND t.deleted_at IS NULL) \
    END";

/// The rows of a still-existing project to delete: rows under its onto project that the outline
/// does not account for and whose legacy row cannot be migrated from anywhere any more, and the
/// context document of a project whose context was emptied.
pub async fn find(
    conn: &mut PgConnection,
    outline: &Outline,
    plan: &ProjectPlan,
) -> Result<Vec<Doomed>, sqlx::Error> {
    let Some(onto) = outline.onto else {
        return Ok(Vec::new());
    };
    let mut doomed = Vec::new();
    let project_id = outline.project.data.id;
    if plan.document.is_none()
        && let Some(m) = outline.mappings.get(&("projects.context", project_id))
        && m.home
    {
        doomed.push(Doomed {
            onto_table: "onto_documents",
            onto_id: m.onto_id,
            legacy_table: Some("projects.context".to_owned()),
            legacy_id: Some(project_id),
        });
    }
    let mut extra: Vec<(&'static str, Uuid)> = Vec::new();
    for (onto_table, legacy_table) in CHILD_TABLES {
        let home = at_home(&outline.mappings, legacy_table);
        let under = match onto_table {
            "onto_plans" => onto.plans,
            "onto_tasks" => onto.tasks,
            _ => onto.events,
        };
        if under <= home.len() as i64 {
            continue;
        }
        // The table name is one of the constants above.
        let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {onto_table} WHERE project_id = $1"
        )))
        .bind(onto.id)
        .fetch_all(&mut *conn)
        .await?;
        extra.extend(
            ids.into_iter()
                .filter(|id| !home.contains(id))
                .map(|id| (onto_table, id)),
        );
    }
    if extra.is_empty() {
        return Ok(doomed);
    }
    let sql = format!(
        "SELECT u.t, u.id, m.legacy_table, m.legacy_id, {ALIVE_IN_SQL} AS alive_in \
           FROM unnest($1::text[], $2::uuid[]) AS u(t, id) \
           JOIN legacy_entity_mappings m ON m.onto_table = u.t AND m.onto_id = u.id"
    );
    let rows: Vec<(String, Uuid, String, Uuid, Option<Uuid>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(extra.iter().map(|(t, _)| *t).collect::<Vec<_>>())
            .bind(extra.iter().map(|(_, id)| *id).collect::<Vec<_>>())
            .fetch_all(&mut *conn)
            .await?;
    // A row without a mapping is not ours to judge; a row whose legacy row lives on (here, or
    // in the project it moved to) is kept.
    for (t, id, legacy_table, legacy_id, alive_in) in rows {
        if alive_in.is_some() {
            continue;
        }
        let Some((onto_table, _)) = CHILD_TABLES.iter().find(|(ot, _)| *ot == t) else {
            continue;
        };
        doomed.push(Doomed {
            onto_table,
            onto_id: id,
            legacy_table: Some(legacy_table),
            legacy_id: Some(legacy_id),
        });
    }
    Ok(doomed)
}

/// Rows the project has in the ledger before this pass: the outline's mappings at home plus the
/// doomed rows it no longer accounts for (the mass-delete guard's denominator).
pub fn mapped_rows(mappings: &Mappings, doomed: &[Doomed]) -> usize {
    let home = mappings.values().filter(|m| m.home).count();
    // The context document's mapping is in the outline even when the context was emptied.
    home + doomed
        .iter()
        .filter(|d| d.onto_table != "onto_documents")
        .count()
}

/// The project a vanished legacy project had in the target: its onto id and the legacy user
/// who owned it (for the log rows). `None` when it was never migrated or already deleted.
pub async fn vanished_project(
    conn: &mut PgConnection,
    project_id: Uuid,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, a.user_id FROM legacy_entity_mappings m JOIN onto_projects o ON o.id = m.onto_id \
           JOIN onto_actors a ON a.id = o.created_by \
          WHERE m.legacy_table = 'projects' AND m.legacy_id = $1 AND a.user_id IS NOT NULL",
    )
    .bind(project_id)
    .fetch_optional(conn)
    .await
}

/// Every row of an onto project, itself included, with its mapping if any.
pub async fn everything_under(
    conn: &mut PgConnection,
    onto_project: Uuid,
) -> Result<Vec<Doomed>, sqlx::Error> {
    let rows: Vec<(String, Uuid, Option<String>, Option<Uuid>)> = sqlx::query_as(
        "WITH r AS (SELECT 'onto_projects'::text AS t, id FROM onto_projects WHERE id = $1 \
                    UNION ALL SELECT 'onto_documents', id FROM onto_documents WHERE project_id = $1 \
                    UNION ALL SELECT 'onto_plans', id FROM onto_plans WHERE project_id = $1 \
                    UNION ALL SELECT 'onto_tasks', id FROM onto_tasks WHERE project_id = $1 \
                    UNION ALL SELECT 'onto_events', id FROM onto_events WHERE project_id = $1) \
         SELECT r.t, r.id, m.legacy_table, m.legacy_id FROM r \
           LEFT JOIN legacy_entity_mappings m ON m.onto_table = r.t AND m.onto_id = r.id",
    )
    .bind(onto_project)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, id, legacy_table, legacy_id)| {
            let onto_table = [
                "onto_projects",
                "onto_documents",
                "onto_plans",
                "onto_tasks",
                "onto_events",
            ]
            .into_iter()
            .find(|x| *x == t)?;
            Some(Doomed {
                onto_table,
                onto_id: id,
                legacy_table,
                legacy_id,
            })
        })
        .collect())
}

/// The deleting statement: edges from and to the rows, the rows (children first; sync rows go
/// by cascade), the mappings marked, a log row each — one round trip. Returns the edges deleted.
const DELETE_SQL: &str = "\
WITH d AS (SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[]) \
                  AS u(t, id, lt, li, et, k)), \
     es AS (DELETE FROM onto_edges WHERE src_id = ANY($2) RETURNING 1), \
     ed AS (DELETE FROM onto_edges WHERE (dst_kind, dst_id) IN (SELECT k, id FROM d) AND NOT (src_id = ANY($2)) RETURNING 1), \
     x1 AS (DELETE FROM onto_events WHERE id IN (SELECT id FROM d WHERE t = 'onto_events')), \
     x2 AS (DELETE FROM onto_tasks WHERE id IN (SELECT id FROM d WHERE t = 'onto_tasks')), \
     x3 AS (DELETE FROM onto_plans WHERE id IN (SELECT id FROM d WHERE t = 'onto_plans')), \
     x4 AS (DELETE FROM onto_documents WHERE id IN (SELECT id FROM d WHERE t = 'onto_documents')), \
     x5 AS (DELETE FROM onto_projects WHERE id IN (SELECT id FROM d WHERE t = 'onto_projects')), \
     mk AS (UPDATE legacy_entity_mappings m SET deleted_at = now(), run_id = $7, updated_at = now() \
              FROM d WHERE m.onto_table = d.t AND m.onto_id = d.id), \
     lg AS (INSERT INTO migration_log (run_id, user_id, entity_type, operation, legacy_table, legacy_id, \
                   onto_table, onto_id, status, metadata) \
            SELECT $7, $8, d.et, 'delete', d.lt, d.li, d.t, d.id, 'completed', jsonb_build_object('project_id', $9::uuid) \
              FROM d) \
SELECT (SELECT count(*) FROM es) + (SELECT count(*) FROM ed)";

/// Delete `doomed` (see [`DELETE_SQL`]) for legacy project `project_id` of legacy user
/// `user_id`, in run `run_id`. Returns the number of edges deleted with the rows.
pub async fn apply(
    conn: &mut PgConnection,
    doomed: &[Doomed],
    run_id: Uuid,
    user_id: Uuid,
    project_id: Uuid,
) -> Result<usize, sqlx::Error> {
    if doomed.is_empty() {
        return Ok(0);
    }
    let edges: i64 = sqlx::query_scalar(DELETE_SQL)
        .bind(doomed.iter().map(|d| d.onto_table).collect::<Vec<_>>())
        .bind(doomed.iter().map(|d| d.onto_id).collect::<Vec<_>>())
        .bind(
            doomed
                .iter()
                .map(|d| d.legacy_table.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(doomed.iter().map(|d| d.legacy_id).collect::<Vec<_>>())
        .bind(
            doomed
                .iter()
                .map(|d| log_entity(d.onto_table))
                .collect::<Vec<_>>(),
        )
        .bind(doomed.iter().map(Doomed::kind).collect::<Vec<_>>())
        .bind(run_id)
        .bind(user_id)
        .bind(project_id)
        .fetch_one(conn)
        .await?;
    Ok(edges as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_a_large_share_above_the_floor() {
        let policy = DeletePolicy::default();
        assert_eq!(policy.check(10, 10), Ok(()), "ten rows or fewer: always");
        assert_eq!(policy.check(6, 12), Ok(()));
        assert_eq!(
            policy.check(30, 60),
            Ok(()),
            "exactly half is not more than half"
        );
        assert_eq!(
            policy.check(1_203, 1_250),
            Err("refusing to delete 1,203 of 1,250 rows: use --allow-mass-delete".to_owned())
        );
        assert!(policy.check(31, 60).is_err());
        let allowed = DeletePolicy {
            allow_mass_delete: true,
            ..policy
        };
        assert_eq!(allowed.check(1_250, 1_250), Ok(()));
        let strict = DeletePolicy {
            allow_mass_delete: false,
            max_share: 10.0,
        };
        assert!(strict.check(11, 100).is_err());
        assert_eq!(strict.check(11, 110), Ok(()));
    }

    #[test]
    fn log_rows_use_the_write_path_entity_names() {
        assert_eq!(
            [
                "onto_projects",
                "onto_documents",
                "onto_plans",
                "onto_tasks",
                "onto_events"
            ]
            .map(log_entity),
            ["project", "document", "phase", "task", "calendar"]
        );
    }
}
