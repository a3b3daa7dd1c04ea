//! Loading what one project needs in one query. Rows come back as JSON (`to_json(row)`)
//! so the same value feeds both the typed fields and the checksum of the whole legacy row.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use ontofleet_core::ItemStatus;

use crate::PipelineError;

/// A legacy row: typed view plus the raw row for checksums.
#[derive(Debug, Clone)]
pub struct Row<T> {
    /// Typed fields the pipeline uses.
    pub data: T,
    /// The full row as JSON.
    pub raw: Value,
    /// SHA-256 of the row's canonical JSON, computed once at load (the ledger compares it).
    pub checksum: String,
}

/// `projects`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // Fields mirror the legacy columns of the same name.
pub struct Project {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub status: String,
    pub context: Option<String>,
    pub executive_summary: Option<String>,
    pub tags: Option<Vec<String>>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub calendar_color_id: Option<String>,
    pub calendar_settings: Option<Value>,
    pub calendar_sync_enabled: Option<bool>,
    pub source: Option<String>,
    pub source_metadata: Option<Value>,
}

/// The nine `core_*` columns of `projects`.
pub const CORE_VALUE_COLUMNS: [&str; 9] = [
    "core_goals_momentum",
    "core_harmony_integration",
    "core_integrity_ideals",
    "core_meaning_identity",
    "core_opportunity_freedom",
    "core_people_bonds",
    "core_power_resources",
    "core_reality_understanding",
    "core_trust_safeguards",
];

/// `phases`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // Fields mirror the legacy columns of the same name.
pub struct Phase {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub order: i32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub scheduling_method: Option<String>,
}

/// `tasks`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // Fields mirror the legacy columns of the same name.
pub struct Task {
    pub id: Uuid,
    pub parent_task_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub details: Option<String>,
    pub task_steps: Option<String>,
    pub status: String,
    pub priority: String,
    pub task_type: String,
    pub start_date: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i32>,
    pub recurrence_pattern: Option<String>,
    pub recurrence_ends: Option<NaiveDate>,
    pub recurrence_end_source: Option<String>,
    pub dependencies: Option<Vec<String>>,
    pub outdated: Option<bool>,
    pub source: Option<String>,
    pub source_calendar_event_id: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// `task_calendar_events`.
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)] // Fields mirror the legacy columns of the same name.
pub struct Event {
    pub id: Uuid,
    pub task_id: Uuid,
    pub calendar_id: String,
    pub calendar_event_id: String,
    pub project_calendar_id: Option<Uuid>,
    pub event_title: Option<String>,
    pub event_start: Option<DateTime<Utc>>,
    pub event_end: Option<DateTime<Utc>>,
    pub event_link: Option<String>,
    pub attendees: Option<Value>,
    pub organizer_email: Option<String>,
    pub organizer_display_name: Option<String>,
    pub organizer_self: Option<bool>,
    pub recurrence_rule: Option<String>,
    pub recurrence_master_id: Option<String>,
    pub recurrence_instance_date: Option<String>,
    pub is_master_event: Option<bool>,
    pub is_exception: Option<bool>,
    pub exception_type: Option<String>,
    pub original_start_time: Option<String>,
    pub series_update_scope: Option<String>,
    pub sync_status: String,
    pub sync_source: Option<String>,
    pub sync_error: Option<String>,
    pub sync_version: Option<i32>,
    pub last_synced_at: Option<DateTime<Utc>>,
}

/// A `phase_tasks` link of a selected task.
#[derive(Debug, Clone, Deserialize)]
pub struct PhaseLink {
    /// `phase_tasks.id`.
    pub id: Uuid,
    /// Linked phase.
    pub phase_id: Uuid,
    /// Linked task.
    pub task_id: Uuid,
    /// Project of the phase (may differ from the task's: a data error).
    pub phase_project_id: Uuid,
}

/// An existing ledger mapping.
#[derive(Debug, Clone, Deserialize)]
pub struct Mapping {
    /// Legacy table name.
    pub legacy_table: String,
    /// Legacy id.
    pub legacy_id: Uuid,
    /// Onto id it points at.
    pub onto_id: Uuid,
    /// Checksum of the legacy row when last written.
    pub checksum: String,
    /// Whether the onto row still exists.
    pub present: bool,
}

/// Everything the transform needs for one project.
#[derive(Debug, Clone)]
pub struct LegacyProject {
    /// The project row.
    pub project: Row<Project>,
    /// Owner.
    pub user: User,
    /// Phases of the project.
    pub phases: Vec<Row<Phase>>,
    /// Non-deleted tasks of the project, done ones included (the transform filters).
    pub tasks: Vec<Row<Task>>,
    /// Phase links of those tasks.
    pub links: Vec<PhaseLink>,
    /// Calendar events of those tasks.
    pub events: Vec<Row<Event>>,
    /// Existing mappings keyed by (legacy table, legacy id).
    pub mappings: HashMap<(String, Uuid), Mapping>,
    /// Soft-deleted tasks of the project: references to them are excluded, not errors.
    pub deleted_task_ids: std::collections::HashSet<Uuid>,
}

/// What [`load_project`] found.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// The project and everything under it.
    Project(Box<LegacyProject>),
    /// The project no longer exists.
    Gone,
    /// With the item gate: the run's item for the project is missing or already terminal (read
    /// by the load statement, so after the project lock). Nothing else was decoded.
    ItemFinished,
}

/// The owner of a project.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// `users.id`.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// The onto actor of this user, when one exists already (it is created on first write).
    #[serde(default)]
    pub actor_id: Option<Uuid>,
    /// Display name (may be NULL).
    pub name: Option<String>,
}

fn typed<T: serde::de::DeserializeOwned>(table: &str, raw: Value) -> Result<Row<T>, PipelineError> {
    // Deserialise from a borrow: the raw row is kept for the checksum and the props.
    match T::deserialize(&raw) {
        Ok(data) => Ok(Row {
            checksum: crate::checksum::checksum(&raw),
            data,
            raw,
        }),
        Err(e) => Err(PipelineError::Unreadable(format!(
            "{table} row {}: {e}",
            raw.get("id").unwrap_or(&Value::Null)
        ))),
    }
}

/// Everything one project needs, in one statement: rows as JSON (the checksum input; `json`, not
/// `jsonb`, because the canonical form sorts keys anyway and `json` is cheaper to build),
/// aggregated per table. One round trip instead of eight matters at thousands of projects/s.
const LOAD_SQL: &str = "\
WITH t AS (SELECT * FROM tasks WHERE project_id = $1 AND deleted_at IS NULL), \
     ph AS (SELECT * FROM phases WHERE project_id = $1), \
     e AS (SELECT * FROM task_calendar_events WHERE task_id IN (SELECT id FROM t)), \
     l AS (SELECT pt.id, pt.phase_id, pt.task_id, x.project_id AS phase_project_id \
             FROM phase_tasks pt JOIN phases x ON x.id = pt.phase_id WHERE pt.task_id IN (SELECT id FROM t)) \
SELECT json_build_object( \
  'item', (SELECT i.status FROM migration_run_items i WHERE i.run_id = $2 AND i.project_id = $1), \
  'project', (SELECT to_json(p) FROM projects p WHERE p.id = $1), \
  'user', (SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, \
                    'actor_id', (SELECT a.id FROM onto_actors a WHERE a.user_id = u.id)) \
             FROM users u JOIN projects p ON p.user_id = u.id WHERE p.id = $1), \
  'phases', coalesce((SELECT json_agg(ph ORDER BY ph.\"order\", ph.id) FROM ph), '[]'::json), \
  'tasks', coalesce((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM t), '[]'::json), \
  'links', coalesce((SELECT json_agg(l ORDER BY l.id) FROM l), '[]'::json), \
  'events', coalesce((SELECT json_agg(e ORDER BY e.event_start NULLS LAST, e.id) FROM e), '[]'::json), \
  'deleted', coalesce((SELECT json_agg(d.id) FROM tasks d WHERE d.project_id = $1 AND d.deleted_at IS NOT NULL), '[]'::json), \
  'mappings', coalesce((SELECT json_agg(json_build_object('legacy_table', m.legacy_table, 'legacy_id', m.legacy_id, \
        'onto_id', m.onto_id, 'checksum', m.checksum, 'present', CASE m.onto_table \
            WHEN 'onto_projects' THEN EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id) \
            WHEN 'onto_plans' THEN EXISTS (SELECT 1 FROM onto_plans o WHERE o.id = m.onto_id) \
            WHEN 'onto_tasks' THEN EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id) \
            WHEN 'onto_events' THEN EXISTS (SELECT 1 FROM onto_events o WHERE o.id = m.onto_id) \
            WHEN 'onto_documents' THEN EXISTS (SELECT 1 FROM onto_documents o WHERE o.id = m.onto_id) \
            ELSE false END)) \
     FROM legacy_entity_mappings m \
    WHERE (m.legacy_table IN ('projects', 'projects.context') AND m.legacy_id = $1) \
       OR (m.legacy_table = 'phases' AND m.legacy_id = ANY (ARRAY(SELECT id FROM ph))) \
       OR (m.legacy_table = 'tasks' AND m.legacy_id = ANY (ARRAY(SELECT id FROM t))) \
       OR (m.legacy_table = 'task_calendar_events' AND m.legacy_id = ANY (ARRAY(SELECT id FROM e)))), '[]'::json))";

fn rows<T: serde::de::DeserializeOwned>(
    table: &str,
    doc: &mut Value,
    key: &str,
) -> Result<Vec<Row<T>>, PipelineError> {
    match doc.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items.into_iter().map(|raw| typed(table, raw)).collect(),
        _ => Ok(Vec::new()),
    }
}

fn plain<T: serde::de::DeserializeOwned>(doc: &mut Value, key: &str) -> Result<T, PipelineError> {
    serde_json::from_value(doc.get_mut(key).map(Value::take).unwrap_or(Value::Null))
        .map_err(|e| PipelineError::Unreadable(format!("{key}: {e}")))
}

/// Load a project and everything under it. With `item_gate`, first check `run_id`'s item for the
/// project, and stop if it is missing or terminal.
pub async fn load_project(
    conn: &mut PgConnection,
    project_id: Uuid,
    run_id: Uuid,
    item_gate: bool,
) -> Result<Loaded, PipelineError> {
    let mut doc: Value = sqlx::query_scalar(LOAD_SQL)
        .bind(project_id)
        .bind(run_id)
        .fetch_one(&mut *conn)
        .await?;
    let raw = doc
        .get_mut("project")
        .map(Value::take)
        .unwrap_or(Value::Null);
    if item_gate {
        let item: Option<String> = plain(&mut doc, "item")?;
        if ItemStatus::stops_execution(item.as_deref()) {
            return Ok(Loaded::ItemFinished);
        }
    }
    if raw.is_null() {
        return Ok(Loaded::Gone);
    }
    let project: Row<Project> = typed("projects", raw)?;
    let user: Option<User> = plain(&mut doc, "user")?;
    let user = user.ok_or_else(|| {
        PipelineError::Unreadable(format!(
            "owner {} of project {project_id} does not exist",
            project.data.user_id
        ))
    })?;
    let phases = rows("phases", &mut doc, "phases")?;
    let tasks = rows("tasks", &mut doc, "tasks")?;
    let events = rows("task_calendar_events", &mut doc, "events")?;
    let links: Vec<PhaseLink> = plain(&mut doc, "links")?;
    let mappings: Vec<Mapping> = plain(&mut doc, "mappings")?;
    let deleted: Vec<Uuid> = plain(&mut doc, "deleted")?;
    let mappings = mappings
        .into_iter()
        .map(|m| ((m.legacy_table.clone(), m.legacy_id), m))
        .collect();
    Ok(Loaded::Project(Box::new(LegacyProject {
        project,
        user,
        phases,
        tasks,
        links,
        events,
        mappings,
        deleted_task_ids: deleted.into_iter().collect(),
    })))
}
