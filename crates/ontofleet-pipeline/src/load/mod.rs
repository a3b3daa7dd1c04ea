//! Loading what one project needs. A project of at most `chunk` tasks comes in one statement
//! ([`head`]); a bigger one is read through a cursor ([`stream`]), so that its rows arrive in
//! bounded chunks while every row still comes from one snapshot. Rows come back as JSON
//! (`to_json(row)`), so the same value feeds both the typed fields and the checksum of the whole
//! legacy row.
//!
//! What the transform needs of the whole project before it reads any task row — ids, parents,
//! dependencies, statuses, phase links, event keys and the ledger's mappings — is the
//! [`Outline`]; the full task and event rows follow in [`Chunk`]s.

mod head;
mod stream;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PipelineError;

pub use stream::TaskStream;

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

impl Task {
    /// What a classifier sees of the task.
    pub fn text(&self) -> crate::classify::TaskText<'_> {
        crate::classify::TaskText {
            title: &self.title,
            description: self.description.as_deref(),
            details: self.details.as_deref(),
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Onto id it points at.
    pub onto_id: Uuid,
    /// Checksum of the legacy row when last written.
    pub checksum: String,
    /// Whether the onto row still exists.
    pub present: bool,
    /// Whether the onto row exists under this project's onto project (a row whose legacy row
    /// moved here from another project exists elsewhere: it is moved, not recreated).
    pub home: bool,
}

/// The legacy tables a mapping can name (`legacy_entity_mappings.legacy_table`).
pub const MAPPED_TABLES: [&str; 5] = [
    "projects",
    "projects.context",
    "phases",
    "tasks",
    "task_calendar_events",
];

/// Existing mappings keyed by (legacy table, legacy id); the table is one of [`MAPPED_TABLES`].
pub type Mappings = HashMap<(&'static str, Uuid), Mapping>;

/// A mapping row as the load statements return it.
#[derive(Debug, Clone, Deserialize, sqlx::FromRow)]
pub(crate) struct MappingRow {
    legacy_table: String,
    legacy_id: Uuid,
    onto_id: Uuid,
    checksum: String,
    /// The onto project its onto row sits under (for a project, the row itself); `None` when
    /// the onto row is gone.
    under: Option<Uuid>,
}

/// Index the mapping rows of project `project_id`: the project's own mapping names its onto
/// project, which decides which of the other rows are at home.
pub(crate) fn index_mappings(
    rows: impl IntoIterator<Item = MappingRow>,
    project_id: Uuid,
) -> Mappings {
    let rows: Vec<MappingRow> = rows.into_iter().collect();
    let project_onto = rows
        .iter()
        .find(|m| m.legacy_table == "projects" && m.legacy_id == project_id)
        .and_then(|m| m.under);
    rows.into_iter()
        .filter_map(|m| {
            let table = MAPPED_TABLES.iter().find(|t| **t == m.legacy_table)?;
            Some((
                (*table, m.legacy_id),
                Mapping {
                    onto_id: m.onto_id,
                    checksum: m.checksum,
                    present: m.under.is_some(),
                    home: m.under.is_some() && m.under == project_onto,
                },
            ))
        })
        .collect()
}

/// The onto project a mapping row `m`'s onto row sits under (the row itself for a project),
/// NULL when that row is gone (index lookups by primary key).
pub(crate) const MAPPING_UNDER_SQL: &str = "CASE m.onto_table \
            WHEN 'onto_projects' THEN (SELECT o.id FROM onto_projects o WHERE o.id = m.onto_id) \
            WHEN 'onto_plans' THEN (SELECT o.project_id FROM onto_plans o WHERE o.id = m.onto_id) \
            WHEN 'onto_tasks' THEN (SELECT o.project_id FROM onto_tasks o WHERE o.id = m.onto_id) \
            WHEN 'onto_events' THEN (SELECT o.project_id FROM onto_events o WHERE o.id = m.onto_id) \
            WHEN 'onto_documents' THEN (SELECT o.project_id FROM onto_documents o WHERE o.id = m.onto_id) \
            END";

/// The mappings of `table` for the ids of the uuid array expression `ids`. Each id is looked up on
/// its own through the unique key: `LIMIT 1` keeps the lateral sub-select from being flattened
/// into a join, which the planner may otherwise run as a scan of every mapping of the table (a
/// generic plan chosen while the mapping table was small, say). The mapping table grows by
/// every entity migrated, so the per-id path is the only one whose cost stays flat.
pub(crate) fn mappings_by_id(table: &str, ids: &str) -> String {
    format!(
        "SELECT m.* FROM unnest({ids}) AS k(id) \
         CROSS JOIN LATERAL (SELECT m.legacy_table, m.legacy_id, m.onto_id, m.checksum, \
                                    {MAPPING_UNDER_SQL} AS under \
                               FROM legacy_entity_mappings m \
                              WHERE m.legacy_table = '{table}' AND m.legacy_id = k.id LIMIT 1) m"
    )
}

/// What the outline keeps of a task: enough to resolve references, find parent cycles and
/// assign onto ids before the task's full row is read.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskRef {
    /// `tasks.id`.
    pub id: Uuid,
    /// `tasks.parent_task_id`.
    pub parent_task_id: Option<Uuid>,
    /// `tasks.dependencies` (uuid strings, possibly malformed).
    pub dependencies: Option<Vec<String>>,
    /// `tasks.status`.
    pub status: String,
}

impl From<&Task> for TaskRef {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id,
            parent_task_id: t.parent_task_id,
            dependencies: t.dependencies.clone(),
            status: t.status.clone(),
        }
    }
}

/// What the outline keeps of a calendar event: its owner, whether it can become an onto event,
/// and the key its sync row would take.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRef {
    /// `task_calendar_events.id`.
    pub id: Uuid,
    /// Owner task.
    pub task_id: Uuid,
    /// `event_start` (an event without one is not migrated).
    pub event_start: Option<DateTime<Utc>>,
    /// Calendar of the sync row.
    pub project_calendar_id: Option<Uuid>,
    /// Provider of the sync row (`google` when NULL).
    pub sync_source: Option<String>,
    /// External event id of the sync row.
    pub calendar_event_id: String,
}

impl From<&Event> for EventRef {
    fn from(e: &Event) -> Self {
        Self {
            id: e.id,
            task_id: e.task_id,
            event_start: e.event_start,
            project_calendar_id: e.project_calendar_id,
            sync_source: e.sync_source.clone(),
            calendar_event_id: e.calendar_event_id.clone(),
        }
    }
}

/// Sort by time (none last), then id: events in the order the transform claims sync keys in
/// (by start), tasks in the order they are handled (by creation).
pub(crate) fn sort_by_time<T>(items: &mut [T], key: impl Fn(&T) -> (Option<DateTime<Utc>>, Uuid)) {
    items.sort_by(|a, b| {
        let (a, b) = (key(a), key(b));
        match (a.0, b.0) {
            (Some(x), Some(y)) => x.cmp(&y).then(a.1.cmp(&b.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.1.cmp(&b.1),
        }
    });
}

/// Everything the transform needs of a project before it reads any full task row.
#[derive(Debug, Clone)]
pub struct Outline {
    /// The project row.
    pub project: Row<Project>,
    /// Owner.
    pub user: User,
    /// Phases of the project, by `order`, then id.
    pub phases: Vec<Row<Phase>>,
    /// Non-deleted tasks of the project, done ones included (the transform filters).
    pub tasks: Vec<TaskRef>,
    /// Phase links of those tasks, by id.
    pub links: Vec<PhaseLink>,
    /// Calendar events of those tasks, in start, then id.
    pub events: Vec<EventRef>,
    /// Existing mappings of the project, its phases, tasks and events.
    pub mappings: Mappings,
    /// Soft-deleted tasks of the project: references to them are excluded, not errors.
    pub deleted_task_ids: HashSet<Uuid>,
    /// The shape the ledger recorded (`migration_project_sync`), if any.
    pub recorded_shape: Option<Shape>,
    /// The project's onto project and how many rows sit under it.
    pub onto: Option<OntoRows>,
}

impl Outline {
    /// The project's shape in the load's snapshot, counted from what the load read anyway.
    pub fn shape(&self) -> Shape {
        let n = |len: usize| i32::try_from(len).unwrap_or(i32::MAX);
        Shape {
            tasks: n(self.tasks.len() + self.deleted_task_ids.len()),
            phases: n(self.phases.len()),
            events: n(self.events.len()),
            links: n(self.links.len()),
        }
    }
}

/// How many rows of each kind a legacy project has: what a deletion, which leaves no timestamp,
/// changes (`migration_project_sync`; `ontofleet_control::sync` counts the same). Every task
/// row (soft-deleted ones too), every phase, and the calendar events and phase links of the
/// tasks not deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Shape {
    /// Task rows with `project_id` = the project.
    pub tasks: i32,
    /// Phases.
    pub phases: i32,
    /// Calendar events of the tasks not deleted.
    pub events: i32,
    /// `phase_tasks` rows of the tasks not deleted.
    pub links: i32,
}

/// The onto project of a legacy project (through its mapping) and its row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct OntoRows {
    /// `onto_projects.id` (the row may be gone).
    pub id: Uuid,
    /// `onto_plans` under it.
    pub plans: i64,
    /// `onto_tasks` under it.
    pub tasks: i64,
    /// `onto_events` under it.
    pub events: i64,
}

/// Full task rows and the calendar events of those tasks.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// Task rows (their raw JSON is dropped once the checksum is taken).
    pub tasks: Vec<Row<Task>>,
    /// Events of these tasks, in start, then id.
    pub events: Vec<Row<Event>>,
}

/// The full rows of a project's tasks, whole or still to be read chunk by chunk.
#[derive(Debug)]
pub enum Rows {
    /// Every task and event row, read by the one load statement.
    Whole(Chunk),
    /// A big project: rows arrive through a cursor, `chunk` tasks at a time.
    Stream(TaskStream),
}

impl Rows {
    /// The next chunk of rows, `None` once every row was handed out.
    pub async fn next(&mut self, conn: &mut PgConnection) -> Result<Option<Chunk>, PipelineError> {
        match self {
            Self::Whole(chunk) if chunk.tasks.is_empty() && chunk.events.is_empty() => Ok(None),
            Self::Whole(chunk) => Ok(Some(std::mem::take(chunk))),
            Self::Stream(stream) => stream.next(conn).await,
        }
    }
}

/// A loaded project: its outline and its rows.
#[derive(Debug)]
pub struct LoadedProject {
    /// What the transform needs first.
    pub outline: Outline,
    /// The full rows.
    pub rows: Rows,
}

/// What [`load_project`] found.
#[derive(Debug)]
pub enum Loaded {
    /// The project.
    Project(Box<LoadedProject>),
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

/// A task or event row: typed and checksummed; the raw JSON is not kept (nothing reads it
/// again, and it is most of a row's memory).
fn lean<T: serde::de::DeserializeOwned>(table: &str, raw: Value) -> Result<Row<T>, PipelineError> {
    let mut row = typed(table, raw)?;
    row.raw = Value::Null;
    Ok(row)
}

fn rows<T: serde::de::DeserializeOwned>(
    table: &str,
    doc: &mut Value,
    key: &str,
    keep_raw: bool,
) -> Result<Vec<Row<T>>, PipelineError> {
    let decode = if keep_raw { typed::<T> } else { lean::<T> };
    match doc.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items.into_iter().map(|raw| decode(table, raw)).collect(),
        _ => Ok(Vec::new()),
    }
}

fn plain<T: serde::de::DeserializeOwned>(doc: &mut Value, key: &str) -> Result<T, PipelineError> {
    serde_json::from_value(doc.get_mut(key).map(Value::take).unwrap_or(Value::Null))
        .map_err(|e| PipelineError::Unreadable(format!("{key}: {e}")))
}

/// The project-level part of a load document.
struct ProjectPart {
    project: Row<Project>,
    user: User,
    phases: Vec<Row<Phase>>,
    deleted_task_ids: HashSet<Uuid>,
    recorded_shape: Option<Shape>,
    onto: Option<OntoRows>,
}

/// The project row, its owner, phases and deleted task ids of a load document. `None` when the
/// project does not exist.
fn project_part(doc: &mut Value, project_id: Uuid) -> Result<Option<ProjectPart>, PipelineError> {
    let raw = doc
        .get_mut("project")
        .map(Value::take)
        .unwrap_or(Value::Null);
    if raw.is_null() {
        return Ok(None);
    }
    let project: Row<Project> = typed("projects", raw)?;
    let user: Option<User> = plain(doc, "user")?;
    let user = user.ok_or_else(|| {
        PipelineError::Unreadable(format!(
            "owner {} of project {project_id} does not exist",
            project.data.user_id
        ))
    })?;
    let phases = rows("phases", doc, "phases", true)?;
    let deleted: Vec<Uuid> = plain(doc, "deleted")?;
    Ok(Some(ProjectPart {
        project,
        user,
        phases,
        deleted_task_ids: deleted.into_iter().collect(),
        recorded_shape: plain(doc, "recorded")?,
        onto: plain(doc, "onto")?,
    }))
}

/// The JSON of a project's row, owner (with its actor), phases, deleted task ids, recorded
/// shape and onto project with its row counts, for a project id `$1`: shared by the load
/// statement and the cursor.
pub(crate) const PROJECT_PART_SQL: &str = "\
  'project', (SELECT to_json(p) FROM projects p WHERE p.id = $1), \
  'user', (SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, \
                    'actor_id', (SELECT a.id FROM onto_actors a WHERE a.user_id = u.id)) \
             FROM projects p JOIN users u ON u.id = p.user_id WHERE p.id = $1), \
  'phases', coalesce((SELECT json_agg(ph ORDER BY ph.\"order\", ph.id) FROM phases ph WHERE ph.project_id = $1), '[]'::json), \
  'deleted', coalesce((SELECT json_agg(d.id) FROM tasks d WHERE d.project_id = $1 AND d.deleted_at IS NOT NULL), '[]'::json), \
  'recorded', (SELECT json_build_object('tasks', s.tasks, 'phases', s.phases, 'events', s.events, 'links', s.links) \
                 FROM migration_project_sync s WHERE s.project_id = $1), \
  'onto', (SELECT json_build_object('id', m.onto_id, \
                    'plans', (SELECT count(*) FROM onto_plans o WHERE o.project_id = m.onto_id), \
                    'tasks', (SELECT count(*) FROM onto_tasks o WHERE o.project_id = m.onto_id), \
                    'events', (SELECT count(*) FROM onto_events o WHERE o.project_id = m.onto_id)) \
             FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects' AND m.legacy_id = $1)";

/// Load a project: one statement when it has at most `chunk` tasks, else its outline now and
/// its rows through a cursor. With `item_gate`, first check `run_id`'s item for the project,
/// and stop if it is missing or terminal.
pub async fn load_project(
    conn: &mut PgConnection,
    project_id: Uuid,
    run_id: Uuid,
    item_gate: bool,
    chunk: usize,
) -> Result<Loaded, PipelineError> {
    let chunk = chunk.max(1);
    match head::load(conn, project_id, run_id, item_gate, chunk).await? {
        head::Head::Whole(loaded) => Ok(loaded),
        head::Head::Big => stream::open(conn, project_id, chunk).await,
    }
}
