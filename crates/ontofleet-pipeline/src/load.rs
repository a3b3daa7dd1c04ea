//! Loading what one project needs in a handful of queries. Rows come back as `to_jsonb(row)`
//! so the same value feeds both the typed fields and the checksum of the whole legacy row.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PipelineError;

/// A legacy row: typed view plus the raw row for checksums.
#[derive(Debug, Clone)]
pub struct Row<T> {
    /// Typed fields the pipeline uses.
    pub data: T,
    /// The full row as JSON.
    pub raw: Value,
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
#[derive(Debug, Clone, sqlx::FromRow)]
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
#[derive(Debug, Clone, sqlx::FromRow)]
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

/// The owner of a project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    /// `users.id`.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Display name (may be NULL).
    pub name: Option<String>,
}

fn typed<T: serde::de::DeserializeOwned>(table: &str, raw: Value) -> Result<Row<T>, PipelineError> {
    match serde_json::from_value::<T>(raw.clone()) {
        Ok(data) => Ok(Row { data, raw }),
        Err(e) => Err(PipelineError::Unreadable(format!(
            "{table} row {}: {e}",
            raw.get("id").unwrap_or(&Value::Null)
        ))),
    }
}

/// Load a project and everything under it; `None` if the project no longer exists.
pub async fn load_project(
    conn: &mut PgConnection,
    project_id: Uuid,
) -> Result<Option<LegacyProject>, PipelineError> {
    let Some(raw) =
        sqlx::query_scalar::<_, Value>("SELECT to_jsonb(p) FROM projects p WHERE p.id = $1")
            .bind(project_id)
            .fetch_optional(&mut *conn)
            .await?
    else {
        return Ok(None);
    };
    let project: Row<Project> = typed("projects", raw)?;
    let user: User = sqlx::query_as("SELECT id, email, name FROM users WHERE id = $1")
        .bind(project.data.user_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| {
            PipelineError::Unreadable(format!(
                "owner {} of project {project_id} does not exist",
                project.data.user_id
            ))
        })?;
    let phases = sqlx::query_scalar::<_, Value>(
        "SELECT to_jsonb(ph) FROM phases ph WHERE ph.project_id = $1 ORDER BY ph.\"order\", ph.id",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|raw| typed("phases", raw))
    .collect::<Result<Vec<Row<Phase>>, _>>()?;
    let tasks = sqlx::query_scalar::<_, Value>(
        "SELECT to_jsonb(t) FROM tasks t WHERE t.project_id = $1 AND t.deleted_at IS NULL ORDER BY t.created_at, t.id",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|raw| typed("tasks", raw))
    .collect::<Result<Vec<Row<Task>>, _>>()?;
    let task_ids: Vec<Uuid> = tasks.iter().map(|t| t.data.id).collect();
    let links: Vec<PhaseLink> = sqlx::query_as(
        "SELECT pt.id, pt.phase_id, pt.task_id, ph.project_id AS phase_project_id \
           FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id \
          WHERE pt.task_id = ANY($1) ORDER BY pt.id",
    )
    .bind(&task_ids)
    .fetch_all(&mut *conn)
    .await?;
    let events = sqlx::query_scalar::<_, Value>(
        "SELECT to_jsonb(e) FROM task_calendar_events e WHERE e.task_id = ANY($1) ORDER BY e.event_start NULLS LAST, e.id",
    )
    .bind(&task_ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|raw| typed("task_calendar_events", raw))
    .collect::<Result<Vec<Row<Event>>, _>>()?;

    let mut legacy_ids = vec![project_id];
    legacy_ids.extend(phases.iter().map(|p| p.data.id));
    legacy_ids.extend(task_ids.iter().copied());
    legacy_ids.extend(events.iter().map(|e| e.data.id));
    let mappings: Vec<Mapping> = sqlx::query_as(
        "SELECT m.legacy_table, m.legacy_id, m.onto_id, m.checksum, \
                CASE m.onto_table \
                    WHEN 'onto_projects' THEN EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id) \
                    WHEN 'onto_plans' THEN EXISTS (SELECT 1 FROM onto_plans o WHERE o.id = m.onto_id) \
                    WHEN 'onto_tasks' THEN EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id) \
                    WHEN 'onto_events' THEN EXISTS (SELECT 1 FROM onto_events o WHERE o.id = m.onto_id) \
                    WHEN 'onto_documents' THEN EXISTS (SELECT 1 FROM onto_documents o WHERE o.id = m.onto_id) \
                    ELSE false END AS present \
           FROM legacy_entity_mappings m WHERE m.legacy_id = ANY($1)",
    )
    .bind(&legacy_ids)
    .fetch_all(&mut *conn)
    .await?;
    let mappings = mappings
        .into_iter()
        .map(|m| ((m.legacy_table.clone(), m.legacy_id), m))
        .collect();
    let deleted_task_ids = sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM tasks WHERE project_id = $1 AND deleted_at IS NOT NULL",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(Some(LegacyProject {
        project,
        user,
        phases,
        tasks,
        links,
        events,
        mappings,
        deleted_task_ids,
    }))
}
