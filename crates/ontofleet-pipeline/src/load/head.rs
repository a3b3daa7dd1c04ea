//! The load statement: the run item's status, the project, and — when the project has at most
//! `chunk` tasks — everything under it, in one round trip.
//!
//! Its plan must not depend on planner statistics (a freshly loaded legacy database has none,
//! and the target tables grow from empty during a run): every row set is reached from the
//! project id by index, and the per-task look-ups go through `= ANY (ARRAY(…))` of the task ids
//! or a correlated primary-key sub-select, never through `IN (SELECT …)`, which the planner may
//! turn into a hash join over a sequential scan of the whole table.

use ontofleet_core::ItemStatus;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Chunk, Event, EventRef, Loaded, LoadedProject, MappingRow, Outline, PROJECT_PART_SQL,
    PhaseLink, ProjectPart, Row, Rows, Task, TaskRef, index_mappings, mappings_by_id, plain,
    project_part, rows, sort_by_time,
};
use crate::PipelineError;

/// What the load statement found.
pub(super) enum Head {
    /// A finished answer: the whole project, gone, or stopped by the item gate.
    Whole(Loaded),
    /// The project has more than `chunk` tasks: read it through the cursor.
    Big,
}

/// The load statement text: `$1` project, `$2` run, `$3` the most tasks read at once. Tasks
/// (and what hangs off them) are read only when there are at most `$3`; the count is an index
/// scan of the project's tasks.
pub(crate) fn sql() -> String {
    let projects = mappings_by_id("projects", "ARRAY[$1::uuid]");
    let context = mappings_by_id("projects.context", "ARRAY[$1::uuid]");
    let phases = mappings_by_id(
        "phases",
        "ARRAY(SELECT id FROM phases WHERE project_id = $1)",
    );
    let tasks = mappings_by_id("tasks", "(SELECT a FROM ids)::uuid[]");
    let events = mappings_by_id("task_calendar_events", "ARRAY(SELECT id FROM e)");
    format!(
        "WITH n AS (SELECT count(*) AS n FROM tasks WHERE project_id = $1 AND deleted_at IS NULL), \
     t AS (SELECT * FROM tasks WHERE project_id = $1 AND deleted_at IS NULL AND (SELECT n.n FROM n) <= $3), \
     ids AS (SELECT ARRAY(SELECT id FROM t) AS a), \
     e AS (SELECT * FROM task_calendar_events WHERE task_id = ANY ((SELECT a FROM ids)::uuid[])), \
     l AS (SELECT pt.id, pt.phase_id, pt.task_id, \
                  (SELECT x.project_id FROM phases x WHERE x.id = pt.phase_id) AS phase_project_id \
             FROM phase_tasks pt WHERE pt.task_id = ANY ((SELECT a FROM ids)::uuid[])), \
     m AS ({projects} UNION ALL {context} UNION ALL {phases} UNION ALL {tasks} UNION ALL {events}) \
SELECT json_build_object( \
  'tasks_total', (SELECT n.n FROM n), \
  'item', (SELECT i.status FROM migration_run_items i WHERE i.run_id = $2 AND i.project_id = $1), \
  {PROJECT_PART_SQL}, \
  'tasks', coalesce((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM t), '[]'::json), \
  'links', coalesce((SELECT json_agg(l ORDER BY l.id) FROM l), '[]'::json), \
  'events', coalesce((SELECT json_agg(e ORDER BY e.event_start NULLS LAST, e.id) FROM e), '[]'::json), \
  'mappings', coalesce((SELECT json_agg(m) FROM m), '[]'::json))"
    )
}

/// Statement text, built once per process (it is prepared once per connection by sqlx).
fn statement() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(sql)
}

pub(super) async fn load(
    conn: &mut PgConnection,
    project_id: Uuid,
    run_id: Uuid,
    item_gate: bool,
    chunk: usize,
) -> Result<Head, PipelineError> {
    let mut doc: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(statement()))
        .bind(project_id)
        .bind(run_id)
        .bind(i64::try_from(chunk).unwrap_or(i64::MAX))
        .fetch_one(&mut *conn)
        .await?;
    if item_gate {
        let item: Option<String> = plain(&mut doc, "item")?;
        if ItemStatus::stops_execution(item.as_deref()) {
            return Ok(Head::Whole(Loaded::ItemFinished));
        }
    }
    let total: i64 = plain(&mut doc, "tasks_total")?;
    let Some(ProjectPart {
        project,
        user,
        phases,
        deleted_task_ids,
        recorded_shape,
        onto,
    }) = project_part(&mut doc, project_id)?
    else {
        return Ok(Head::Whole(Loaded::Gone));
    };
    if total > chunk as i64 {
        return Ok(Head::Big);
    }
    let tasks: Vec<Row<Task>> = rows("tasks", &mut doc, "tasks", false)?;
    let events: Vec<Row<Event>> = rows("task_calendar_events", &mut doc, "events", false)?;
    let links: Vec<PhaseLink> = plain(&mut doc, "links")?;
    let mappings: Vec<MappingRow> = plain(&mut doc, "mappings")?;
    let mut event_refs: Vec<EventRef> = events.iter().map(|e| EventRef::from(&e.data)).collect();
    // Already in this order (the statement sorts); kept explicit because sync keys depend on it.
    sort_by_time(&mut event_refs, |e| (e.event_start, e.id));
    let outline = Outline {
        project,
        user,
        phases,
        tasks: tasks.iter().map(|t| TaskRef::from(&t.data)).collect(),
        links,
        events: event_refs,
        mappings: index_mappings(mappings, project_id),
        deleted_task_ids,
        recorded_shape,
        onto,
    };
    Ok(Head::Whole(Loaded::Project(Box::new(LoadedProject {
        outline,
        rows: Rows::Whole(Chunk { tasks, events }),
    }))))
}
