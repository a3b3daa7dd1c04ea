//! A big project, read through one cursor. Every row comes from the cursor's snapshot, so the
//! outline and the full rows agree although they arrive over many round trips (separate
//! statements would each see a new snapshot in READ COMMITTED, and a task edited in between
//! could leave an edge pointing at a row that was never written).
//!
//! The cursor's rows come in kinds, in this order: the project part (0), one per task with
//! what the outline keeps of it (1), one per phase link (2), one per calendar event key (3),
//! then one per task with its full row and its events (4). The outline is complete when the
//! first kind-4 row arrives; a row out of that order fails the project instead of being guessed
//! at.

use std::collections::VecDeque;

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    Chunk, EventRef, Loaded, LoadedProject, MappingRow, Outline, PROJECT_PART_SQL, PhaseLink,
    ProjectPart, Row, Rows, TaskRef, index_mappings, lean, mappings_by_id, project_part,
    sort_by_time,
};
use crate::PipelineError;

const CURSOR: &str = "ontofleet_project_rows";

/// The cursor's query, `$1` the project.
pub(crate) fn declare_sql() -> String {
    format!(
        "DECLARE {CURSOR} NO SCROLL CURSOR FOR \
WITH ids AS (SELECT ARRAY(SELECT id FROM tasks WHERE project_id = $1 AND deleted_at IS NULL) AS a) \
SELECT 0::int2 AS kind, json_build_object({PROJECT_PART_SQL}) AS doc \
UNION ALL \
SELECT 1::int2, json_build_object('id', t.id, 'parent_task_id', t.parent_task_id, \
                'dependencies', t.dependencies, 'status', t.status, 'created_at', t.created_at) \
  FROM tasks t WHERE t.id = ANY ((SELECT a FROM ids)::uuid[]) \
UNION ALL \
SELECT 2::int2, json_build_object('id', pt.id, 'phase_id', pt.phase_id, 'task_id', pt.task_id, \
                'phase_project_id', (SELECT x.project_id FROM phases x WHERE x.id = pt.phase_id)) \
  FROM phase_tasks pt WHERE pt.task_id = ANY ((SELECT a FROM ids)::uuid[]) \
UNION ALL \
SELECT 3::int2, json_build_object('id', e.id, 'task_id', e.task_id, 'event_start', e.event_start, \
                'project_calendar_id', e.project_calendar_id, 'sync_source', e.sync_source, \
                'calendar_event_id', e.calendar_event_id) \
  FROM task_calendar_events e WHERE e.task_id = ANY ((SELECT a FROM ids)::uuid[]) \
UNION ALL \
SELECT 4::int2, json_build_object('task', to_json(t), 'events', \
                coalesce((SELECT json_agg(e) FROM task_calendar_events e WHERE e.task_id = t.id), '[]'::json)) \
  FROM tasks t WHERE t.id = ANY ((SELECT a FROM ids)::uuid[])"
    )
}

/// The mappings of a big project's entities (written only under the project's lock, so they
/// need not share the cursor's snapshot).
pub(crate) fn mappings_sql() -> String {
    [
        mappings_by_id("projects", "ARRAY[$1::uuid]"),
        mappings_by_id("projects.context", "ARRAY[$1::uuid]"),
        mappings_by_id("phases", "$2::uuid[]"),
        mappings_by_id("tasks", "$3::uuid[]"),
        mappings_by_id("task_calendar_events", "$4::uuid[]"),
    ]
    .join(" UNION ALL ")
}

fn fetch_sql(rows: usize) -> String {
    format!("FETCH FORWARD {rows} FROM {CURSOR}")
}

/// A task of the outline with its creation time, the order tasks are handled in.
#[derive(serde::Deserialize)]
struct OrderedTaskRef {
    #[serde(flatten)]
    task: TaskRef,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Full rows of a big project still to be read from the cursor.
#[derive(Debug)]
pub struct TaskStream {
    chunk: usize,
    /// Kind-4 rows fetched but not yet handed out.
    pending: VecDeque<Value>,
    exhausted: bool,
}

/// Declare the cursor, read the outline, look up the mappings.
pub(super) async fn open(
    conn: &mut PgConnection,
    project_id: Uuid,
    chunk: usize,
) -> Result<Loaded, PipelineError> {
    sqlx::query(sqlx::AssertSqlSafe(declare_sql()))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    let mut project_doc: Option<Value> = None;
    let mut tasks: Vec<OrderedTaskRef> = Vec::new();
    let mut links: Vec<PhaseLink> = Vec::new();
    let mut events: Vec<EventRef> = Vec::new();
    let mut stream = TaskStream {
        chunk,
        pending: VecDeque::new(),
        exhausted: false,
    };
    let mut last_kind = 0i16;
    while stream.pending.is_empty() && !stream.exhausted {
        for (kind, Json(doc)) in stream.fetch(conn).await? {
            if kind < last_kind {
                return Err(PipelineError::Unreadable(format!(
                    "project {project_id}: load cursor returned kind {kind} after kind {last_kind}"
                )));
            }
            last_kind = kind;
            let bad = |e: serde_json::Error| {
                PipelineError::Unreadable(format!("project {project_id}: {e}"))
            };
            match kind {
                0 => project_doc = Some(doc),
                1 => tasks.push(serde_json::from_value(doc).map_err(bad)?),
                2 => links.push(serde_json::from_value(doc).map_err(bad)?),
                3 => events.push(serde_json::from_value(doc).map_err(bad)?),
                _ => stream.pending.push_back(doc),
            }
        }
    }
    let mut doc = project_doc.unwrap_or(Value::Null);
    let Some(ProjectPart {
        project,
        user,
        phases,
        deleted_task_ids,
        recorded_shape,
        onto,
    }) = project_part(&mut doc, project_id)?
    else {
        return Ok(Loaded::Gone);
    };
    // The order of the one-statement load (created_at, id), so that everything that depends on
    // it — the onto ids' time order, where a cycle's message starts — is the same either way.
    sort_by_time(&mut tasks, |t| (t.created_at, t.task.id));
    let tasks: Vec<TaskRef> = tasks.into_iter().map(|t| t.task).collect();
    links.sort_by_key(|l| l.id);
    sort_by_time(&mut events, |e| (e.event_start, e.id));
    let mapping_rows: Vec<MappingRow> = sqlx::query_as(sqlx::AssertSqlSafe(mappings_sql()))
        .bind(project_id)
        .bind(phases.iter().map(|p| p.data.id).collect::<Vec<_>>())
        .bind(tasks.iter().map(|t| t.id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.id).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
    let outline = Outline {
        project,
        user,
        phases,
        tasks,
        links,
        events,
        mappings: index_mappings(mapping_rows, project_id),
        deleted_task_ids,
        recorded_shape,
        onto,
    };
    Ok(Loaded::Project(Box::new(LoadedProject {
        outline,
        rows: Rows::Stream(stream),
    })))
}

impl TaskStream {
    async fn fetch(
        &mut self,
        conn: &mut PgConnection,
    ) -> Result<Vec<(i16, Json<Value>)>, PipelineError> {
        let rows: Vec<(i16, Json<Value>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(fetch_sql(self.chunk)))
                .fetch_all(&mut *conn)
                .await?;
        if rows.len() < self.chunk {
            self.exhausted = true;
            // Closed now rather than at commit: a caller may load another project in the same
            // transaction (`run preview`), and the name is reused.
            sqlx::query(sqlx::AssertSqlSafe(format!("CLOSE {CURSOR}")))
                .execute(&mut *conn)
                .await?;
        }
        Ok(rows)
    }

    /// The next chunk: up to `chunk` tasks with their events.
    pub(super) async fn next(
        &mut self,
        conn: &mut PgConnection,
    ) -> Result<Option<Chunk>, PipelineError> {
        while self.pending.len() < self.chunk && !self.exhausted {
            for (kind, Json(doc)) in self.fetch(conn).await? {
                if kind != 4 {
                    return Err(PipelineError::Unreadable(format!(
                        "load cursor returned kind {kind} among the full task rows"
                    )));
                }
                self.pending.push_back(doc);
            }
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let take = self.pending.len().min(self.chunk);
        let mut chunk = Chunk::default();
        for mut doc in self.pending.drain(..take) {
            let task: Row<crate::load::Task> = lean(
                "tasks",
                doc.get_mut("task").map(Value::take).unwrap_or(Value::Null),
            )?;
            if let Some(Value::Array(events)) = doc.get_mut("events").map(Value::take) {
                for raw in events {
                    chunk.events.push(lean("task_calendar_events", raw)?);
                }
            }
            chunk.tasks.push(task);
        }
        sort_by_time(&mut chunk.events, |e| (e.data.event_start, e.data.id));
        Ok(Some(chunk))
    }
}
