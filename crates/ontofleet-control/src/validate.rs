//! `run validate`: reconcile a run's projects, source against target. Every legacy entity the
//! run selected (SPEC §4: the project, its context, phases, live tasks — done ones only with
//! `include_completed_tasks` — and their calendar events) must have a mapping whose ontology row
//! exists, or a logged failure explaining why not; every edge its mapped entities imply must
//! exist; no ontology row under the run's projects may lack a mapping, nor stand for a legacy
//! row the source deleted (SPEC §15: a pass deletes those; their mappings stay, marked); every
//! item must have migrated its project. Read-only; set-based over batches of projects.
//! [`validate_projects`] does the same for any set of projects (`cutover check`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ControlError;

/// Projects per validation statement: bounds each statement's work on platform runs.
const BATCH: usize = 500;
/// Ids listed per kind of mismatch.
const SAMPLES: usize = 5;

/// Entities of one legacy table, by reconciliation state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EntityCheck {
    /// Selected by the run's rules.
    pub selected: i64,
    /// Mapped, and the ontology row exists.
    pub ok: i64,
    /// Not mapped, with a logged failure (`migration_log` failed/skipped) saying why.
    pub explained: i64,
    /// Not mapped and nothing explains it.
    pub missing: i64,
    /// Mapped, but the ontology row is gone.
    pub dangling: i64,
}

/// One mismatch, for the operator to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mismatch {
    /// `missing`, `dangling`, `missing_edge`, `orphan`, `stale`, `not_migrated`.
    pub kind: String,
    /// Legacy table (or, for an orphan or an edge, the ontology table / relation).
    pub table: String,
    /// Legacy id (for an orphan, the ontology id; for an edge, its source).
    pub id: Uuid,
}

/// The reconciliation of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Validation {
    /// Projects (items) of the run.
    pub projects: i64,
    /// Items whose project did not migrate (failed, skipped, cancelled or unfinished).
    pub not_migrated: i64,
    /// By legacy table.
    pub entities: BTreeMap<String, EntityCheck>,
    /// Edges implied by mapped entities.
    pub edges_expected: i64,
    /// Of those, absent from `onto_edges`.
    pub edges_missing: i64,
    /// Ontology rows under the run's projects that no mapping points to.
    pub orphans: i64,
    /// Ontology rows whose legacy row the source deleted (gone, soft-deleted, a task left
    /// without a project, an emptied context): a pass should have deleted them.
    pub stale: i64,
    /// A few examples of each kind of mismatch.
    pub samples: Vec<Mismatch>,
}

impl Validation {
    /// Everything that does not reconcile; zero means the run's target matches its source.
    pub fn mismatches(&self) -> i64 {
        self.not_migrated
            + self
                .entities
                .values()
                .map(|e| e.missing + e.dangling)
                .sum::<i64>()
            + self.edges_missing
            + self.orphans
            + self.stale
    }
}

/// The selected legacy entities of the projects in `$1`, as (legacy table, legacy id, onto table).
/// `$2` = include done tasks.
const SELECTED: &str = "\
sel AS ( \
  SELECT 'projects'::text AS lt, p.id AS li, 'onto_projects'::text AS ot FROM projects p WHERE p.id = ANY($1) \
  UNION ALL SELECT 'projects.context', p.id, 'onto_documents' FROM projects p \
   WHERE p.id = ANY($1) AND btrim(coalesce(p.context, '')) <> '' \
  UNION ALL SELECT 'phases', ph.id, 'onto_plans' FROM phases ph WHERE ph.project_id = ANY($1) \
  UNION ALL SELECT 'tasks', t.id, 'onto_tasks' FROM tasks t \
   WHERE t.project_id = ANY($1) AND t.deleted_at IS NULL AND ($2 OR t.status <> 'done') \
  UNION ALL SELECT 'task_calendar_events', e.id, 'onto_events' FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id \
   WHERE t.project_id = ANY($1) AND t.deleted_at IS NULL AND ($2 OR t.status <> 'done'))";

const ENTITY_SQL: &str = "\
WITH {SELECTED}, \
st AS ( \
  SELECT s.lt, s.li, CASE \
      WHEN m.id IS NULL THEN CASE WHEN EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_table = s.lt \
               AND l.legacy_id = s.li AND l.status IN ('failed', 'skipped')) THEN 'explained' ELSE 'missing' END \
      WHEN CASE m.onto_table \
             WHEN 'onto_projects' THEN EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id) \
             WHEN 'onto_documents' THEN EXISTS (SELECT 1 FROM onto_documents o WHERE o.id = m.onto_id) \
             WHEN 'onto_plans' THEN EXISTS (SELECT 1 FROM onto_plans o WHERE o.id = m.onto_id) \
             WHEN 'onto_tasks' THEN EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id) \
             WHEN 'onto_events' THEN EXISTS (SELECT 1 FROM onto_events o WHERE o.id = m.onto_id) \
             ELSE false END THEN 'ok' \
      ELSE 'dangling' END AS state \
    FROM sel s LEFT JOIN legacy_entity_mappings m ON m.legacy_table = s.lt AND m.legacy_id = s.li) \
SELECT lt, state, count(*), (array_agg(li ORDER BY li))[1:$3] FROM st GROUP BY lt, state";

/// The edges implied by the batch's mapped entities, and which are absent. `m` is inlined (not
/// materialized) so each join is a lookup on the mappings' unique key, not a copy of the table.
const EDGE_SQL: &str = "\
WITH t AS (SELECT id, project_id, parent_task_id, dependencies FROM tasks \
            WHERE project_id = ANY($1) AND deleted_at IS NULL AND ($2 OR status <> 'done')), \
m AS NOT MATERIALIZED (SELECT legacy_table, legacy_id, onto_id FROM legacy_entity_mappings), \
x AS ( \
  SELECT 'project'::text AS sk, mp.onto_id AS s, 'has_plan'::text AS r, 'plan'::text AS dk, mph.onto_id AS d \
    FROM phases ph JOIN m mp ON mp.legacy_table = 'projects' AND mp.legacy_id = ph.project_id \
    JOIN m mph ON mph.legacy_table = 'phases' AND mph.legacy_id = ph.id WHERE ph.project_id = ANY($1) \
  UNION ALL SELECT 'project', mp.onto_id, 'has_context_document', 'document', md.onto_id \
    FROM m mp JOIN m md ON md.legacy_table = 'projects.context' AND md.legacy_id = mp.legacy_id \
   WHERE mp.legacy_table = 'projects' AND mp.legacy_id = ANY($1) \
  UNION ALL SELECT 'plan', mph.onto_id, 'has_task', 'task', mt.onto_id \
    FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id JOIN t ON t.id = pt.task_id AND t.project_id = ph.project_id \
    JOIN m mph ON mph.legacy_table = 'phases' AND mph.legacy_id = ph.id JOIN m mt ON mt.legacy_table = 'tasks' AND mt.legacy_id = t.id \
  UNION ALL SELECT 'task', mt.onto_id, 'belongs_to_plan', 'plan', mph.onto_id \
    FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id JOIN t ON t.id = pt.task_id AND t.project_id = ph.project_id \
    JOIN m mph ON mph.legacy_table = 'phases' AND mph.legacy_id = ph.id JOIN m mt ON mt.legacy_table = 'tasks' AND mt.legacy_id = t.id \
  UNION ALL SELECT 'task', mpar.onto_id, 'has_subtask', 'task', mt.onto_id \
    FROM t JOIN t par ON par.id = t.parent_task_id AND par.project_id = t.project_id AND par.id <> t.id \
    JOIN m mt ON mt.legacy_table = 'tasks' AND mt.legacy_id = t.id JOIN m mpar ON mpar.legacy_table = 'tasks' AND mpar.legacy_id = par.id \
  UNION ALL SELECT 'task', mt.onto_id, 'depends_on', 'task', mdep.onto_id \
    FROM t CROSS JOIN LATERAL unnest(t.dependencies) AS dep(v) \
    JOIN t target ON dep.v ~* '^[{]?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}[}]?$' \
                 AND target.id = dep.v::uuid AND target.project_id = t.project_id AND target.id <> t.id \
    JOIN m mt ON mt.legacy_table = 'tasks' AND mt.legacy_id = t.id JOIN m mdep ON mdep.legacy_table = 'tasks' AND mdep.legacy_id = target.id \
  UNION ALL SELECT 'task', mt.onto_id, 'has_event', 'event', me.onto_id \
    FROM task_calendar_events e JOIN t ON t.id = e.task_id \
    JOIN m mt ON mt.legacy_table = 'tasks' AND mt.legacy_id = t.id JOIN m me ON me.legacy_table = 'task_calendar_events' AND me.legacy_id = e.id), \
y AS (SELECT DISTINCT * FROM x) \
SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM onto_edges g WHERE g.src_id = y.s AND g.rel = y.r \
         AND g.dst_id = y.d AND g.src_kind = y.sk AND g.dst_kind = y.dk)), \
       coalesce((array_agg(y.s ORDER BY y.s) FILTER (WHERE NOT EXISTS (SELECT 1 FROM onto_edges g WHERE g.src_id = y.s \
         AND g.rel = y.r AND g.dst_id = y.d AND g.src_kind = y.sk AND g.dst_kind = y.dk)))[1:$3], '{}') \
  FROM y";

/// The ontology rows under the onto projects in `op(onto_id)`, as `(t = onto table, id)`: every
/// table with a `project_id`. Shared by the orphan check and `run rollback`.
pub(crate) const ROWS_UNDER_PROJECTS: &str = "\
SELECT 'onto_documents'::text AS t, id FROM onto_documents WHERE project_id IN (SELECT onto_id FROM op) \
UNION ALL SELECT 'onto_plans', id FROM onto_plans WHERE project_id IN (SELECT onto_id FROM op) \
UNION ALL SELECT 'onto_tasks', id FROM onto_tasks WHERE project_id IN (SELECT onto_id FROM op) \
UNION ALL SELECT 'onto_events', id FROM onto_events WHERE project_id IN (SELECT onto_id FROM op)";

static ORPHAN_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH op AS (SELECT onto_id FROM legacy_entity_mappings WHERE legacy_table = 'projects' AND legacy_id = ANY($1)), \
              r AS ({ROWS_UNDER_PROJECTS}), \
              o AS (SELECT r.t, r.id FROM r WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m \
                     WHERE m.onto_table = r.t AND m.onto_id = r.id)) \
         SELECT t, count(*), (array_agg(id ORDER BY id))[1:$2] FROM o GROUP BY t"
    )
});

/// Mapped ontology rows under the onto projects in `op(onto_id)` whose legacy row can no longer
/// be migrated (the criteria of the pipeline's deletions), by onto table.
static STALE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH op AS (SELECT onto_id FROM legacy_entity_mappings WHERE legacy_table = 'projects' AND legacy_id = ANY($1)), \
              r AS ({ROWS_UNDER_PROJECTS}), \
              s AS (SELECT r.t, r.id, CASE m.legacy_table \
                      WHEN 'tasks' THEN EXISTS (SELECT 1 FROM tasks t WHERE t.id = m.legacy_id \
                                                   AND t.deleted_at IS NULL AND t.project_id IS NOT NULL) \
                      WHEN 'phases' THEN EXISTS (SELECT 1 FROM phases ph WHERE ph.id = m.legacy_id) \
                      WHEN 'task_calendar_events' THEN EXISTS (SELECT 1 FROM task_calendar_events e \
                             JOIN tasks t ON t.id = e.task_id \
                            WHERE e.id = m.legacy_id AND t.deleted_at IS NULL AND t.project_id IS NOT NULL) \
                      WHEN 'projects.context' THEN EXISTS (SELECT 1 FROM projects p WHERE p.id = m.legacy_id \
                                                   AND btrim(coalesce(p.context, '')) <> '') \
                      ELSE true END AS alive \
                      FROM r JOIN legacy_entity_mappings m ON m.onto_table = r.t AND m.onto_id = r.id) \
         SELECT t, count(*), (array_agg(id ORDER BY id))[1:$2] FROM s WHERE NOT alive GROUP BY t"
    )
});

/// Reconcile the run's projects (see the module docs). The run's `include_completed_tasks`
/// option decides whether done tasks were selected.
pub async fn validate_run(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<Validation, ControlError> {
    let include_done: bool = sqlx::query_scalar(
        "SELECT coalesce((options ->> 'include_completed_tasks')::boolean, false) FROM migration_runs WHERE id = $1",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(false);
    let items: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT project_id, status FROM migration_run_items WHERE run_id = $1 ORDER BY project_id",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut v = Validation {
        projects: items.len() as i64,
        ..Validation::default()
    };
    for (project, status) in &items {
        if !matches!(status.as_str(), "succeeded" | "partial") {
            v.not_migrated += 1;
            sample(&mut v.samples, "not_migrated", status, *project);
        }
    }
    let projects: Vec<Uuid> = items.iter().map(|(p, _)| *p).collect();
    reconcile(conn, &projects, include_done, &mut v).await?;
    Ok(v)
}

/// Reconcile `projects` (legacy ids) as a run selecting them with `include_done` would have
/// migrated them; no item statuses are looked at (`cutover check`).
pub async fn validate_projects(
    conn: &mut PgConnection,
    projects: &[Uuid],
    include_done: bool,
) -> Result<Validation, ControlError> {
    let mut v = Validation {
        projects: projects.len() as i64,
        ..Validation::default()
    };
    reconcile(conn, projects, include_done, &mut v).await?;
    Ok(v)
}

async fn reconcile(
    conn: &mut PgConnection,
    projects: &[Uuid],
    include_done: bool,
    v: &mut Validation,
) -> Result<(), ControlError> {
    let entity_sql = ENTITY_SQL.replace("{SELECTED}", SELECTED);
    for ids in projects.chunks(BATCH) {
        let rows: Vec<(String, String, i64, Vec<Uuid>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(entity_sql.as_str()))
                .bind(ids)
                .bind(include_done)
                .bind(SAMPLES as i32)
                .fetch_all(&mut *conn)
                .await?;
        for (table, state, n, examples) in rows {
            let e = v.entities.entry(table.clone()).or_default();
            e.selected += n;
            match state.as_str() {
                "ok" => e.ok += n,
                "explained" => e.explained += n,
                "missing" => e.missing += n,
                _ => e.dangling += n,
            }
            if matches!(state.as_str(), "missing" | "dangling") {
                for id in examples {
                    sample(&mut v.samples, &state, &table, id);
                }
            }
        }
        let (expected, missing, examples): (i64, i64, Vec<Uuid>) = sqlx::query_as(EDGE_SQL)
            .bind(ids)
            .bind(include_done)
            .bind(SAMPLES as i32)
            .fetch_one(&mut *conn)
            .await?;
        v.edges_expected += expected;
        v.edges_missing += missing;
        for id in examples {
            sample(&mut v.samples, "missing_edge", "onto_edges", id);
        }
        let orphans: Vec<(String, i64, Vec<Uuid>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(ORPHAN_SQL.as_str()))
                .bind(ids)
                .bind(SAMPLES as i32)
                .fetch_all(&mut *conn)
                .await?;
        for (table, n, examples) in orphans {
            v.orphans += n;
            for id in examples {
                sample(&mut v.samples, "orphan", &table, id);
            }
        }
        let stale: Vec<(String, i64, Vec<Uuid>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(STALE_SQL.as_str()))
                .bind(ids)
                .bind(SAMPLES as i32)
                .fetch_all(&mut *conn)
                .await?;
        for (table, n, examples) in stale {
            v.stale += n;
            for id in examples {
                sample(&mut v.samples, "stale", &table, id);
            }
        }
    }
    Ok(())
}

/// Keep at most [`SAMPLES`] examples of each kind.
fn sample(samples: &mut Vec<Mismatch>, kind: &str, table: &str, id: Uuid) {
    if samples.iter().filter(|m| m.kind == kind).count() < SAMPLES {
        samples.push(Mismatch {
            kind: kind.to_owned(),
            table: table.to_owned(),
            id,
        });
    }
}
