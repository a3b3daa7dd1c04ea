//! Row types of the seven legacy tables and their batched insertion.
//!
//! Rows are buffered per table and written with one `INSERT … SELECT … FROM unnest($1, $2, …)`
//! statement per table per chunk (one bind parameter per column, holding an array). Enum columns
//! travel as `text[]` and are cast in the `SELECT`; `jsonb` columns travel as `text[]` of JSON;
//! `text[]` columns (tags, dependencies) travel as one JSON array string per row and are turned
//! back into `text[]` in SQL, because Postgres arrays cannot be ragged.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{SeedError, SeedReport};

/// Rows per statement.
pub(crate) const CHUNK: usize = 5_000;

/// A row of `users`.
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub is_admin: bool,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

/// A row of `projects`.
pub(crate) struct ProjectRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
    pub status: &'static str,
    pub context: Option<String>,
    pub executive_summary: Option<String>,
    pub tags: Option<Vec<String>>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// The nine `core_*` columns, in table order (`core_goals_momentum` … `core_trust_safeguards`).
    pub core: [Option<String>; 9],
    pub core_context_descriptions: Option<Value>,
    pub calendar_color_id: Option<String>,
    pub calendar_settings: Option<Value>,
    pub calendar_sync_enabled: Option<bool>,
    pub source: Option<String>,
    pub source_metadata: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `phases`.
pub(crate) struct PhaseRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub order: i32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub scheduling_method: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `phase_tasks`.
pub(crate) struct PhaseTaskRow {
    pub id: Uuid,
    pub phase_id: Uuid,
    pub task_id: Uuid,
    pub order: i32,
    pub assignment_reason: Option<String>,
    pub suggested_start_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// A row of `tasks`.
pub(crate) struct TaskRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub project_id: Option<Uuid>,
    pub parent_task_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub details: Option<String>,
    pub task_steps: Option<String>,
    pub status: &'static str,
    pub priority: &'static str,
    pub task_type: &'static str,
    pub start_date: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i32>,
    pub recurrence_pattern: Option<&'static str>,
    pub recurrence_ends: Option<NaiveDate>,
    pub recurrence_end_source: Option<&'static str>,
    pub dependencies: Option<Vec<String>>,
    pub outdated: Option<bool>,
    pub source: Option<String>,
    pub source_calendar_event_id: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `project_calendars`.
pub(crate) struct CalendarRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub calendar_id: String,
    pub calendar_name: String,
    pub color_id: Option<String>,
    pub hex_color: Option<String>,
    pub is_primary: bool,
    pub sync_enabled: bool,
    pub sync_status: Option<&'static str>,
    pub sync_error: Option<String>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub visibility: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `task_calendar_events`.
pub(crate) struct EventRow {
    pub id: Uuid,
    pub task_id: Uuid,
    pub user_id: Uuid,
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
    pub exception_type: Option<&'static str>,
    pub original_start_time: Option<String>,
    pub series_update_scope: Option<&'static str>,
    pub sync_status: &'static str,
    pub sync_source: Option<&'static str>,
    pub sync_error: Option<String>,
    pub sync_version: Option<i32>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Rows waiting to be written, per table.
#[derive(Default)]
pub(crate) struct Buffers {
    pub users: Vec<UserRow>,
    pub projects: Vec<ProjectRow>,
    pub phases: Vec<PhaseRow>,
    pub tasks: Vec<TaskRow>,
    pub phase_tasks: Vec<PhaseTaskRow>,
    pub calendars: Vec<CalendarRow>,
    pub events: Vec<EventRow>,
}

impl Buffers {
    /// Whether some table has a full chunk waiting.
    pub(crate) fn is_full(&self) -> bool {
        [
            self.users.len(),
            self.projects.len(),
            self.phases.len(),
            self.tasks.len(),
            self.phase_tasks.len(),
            self.calendars.len(),
            self.events.len(),
        ]
        .into_iter()
        .any(|n| n >= CHUNK)
    }

    /// Write every buffered row, parents before children (foreign keys are checked per
    /// statement), and add the counts to `report`.
    pub(crate) async fn flush(
        &mut self,
        tx: &mut Transaction<'static, Postgres>,
        report: &mut SeedReport,
        seed: u64,
    ) -> Result<(), SeedError> {
        let conn: &mut PgConnection = tx;
        let users = std::mem::take(&mut self.users);
        for chunk in users.chunks(CHUNK) {
            insert_users(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "users"))?;
            report.users += chunk.len() as u64;
        }
        let projects = std::mem::take(&mut self.projects);
        for chunk in projects.chunks(CHUNK) {
            insert_projects(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "projects"))?;
            report.projects += chunk.len() as u64;
        }
        let phases = std::mem::take(&mut self.phases);
        for chunk in phases.chunks(CHUNK) {
            insert_phases(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "phases"))?;
            report.phases += chunk.len() as u64;
        }
        let tasks = std::mem::take(&mut self.tasks);
        for chunk in tasks.chunks(CHUNK) {
            insert_tasks(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "tasks"))?;
            report.tasks += chunk.len() as u64;
        }
        let phase_tasks = std::mem::take(&mut self.phase_tasks);
        for chunk in phase_tasks.chunks(CHUNK) {
            insert_phase_tasks(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "phase_tasks"))?;
            report.phase_tasks += chunk.len() as u64;
        }
        let calendars = std::mem::take(&mut self.calendars);
        for chunk in calendars.chunks(CHUNK) {
            insert_calendars(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "project_calendars"))?;
            report.project_calendars += chunk.len() as u64;
        }
        let events = std::mem::take(&mut self.events);
        for chunk in events.chunks(CHUNK) {
            insert_events(conn, chunk)
                .await
                .map_err(|e| classify(e, seed, "task_calendar_events"))?;
            report.events += chunk.len() as u64;
        }
        tracing::debug!(?report, "flushed legacy rows");
        Ok(())
    }
}

/// A primary-key collision means this seed was already applied to the database.
fn classify(err: sqlx::Error, seed: u64, table: &'static str) -> SeedError {
    if let sqlx::Error::Database(db) = &err
        && db.code().as_deref() == Some("23505")
        && db.constraint().is_some_and(|c| c.ends_with("_pkey"))
    {
        return SeedError::AlreadySeeded { seed, table };
    }
    SeedError::Database(err)
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

fn json_array_text(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref()
        .map(|items| Value::from(items.clone()).to_string())
}

/// SQL turning a JSON array string into `text[]` (NULL stays NULL), keeping element order.
macro_rules! json_to_text_array {
    ($col:literal) => {
        concat!(
            "CASE WHEN u.",
            $col,
            " IS NULL THEN NULL ELSE ARRAY(SELECT e.v FROM jsonb_array_elements_text(u.",
            $col,
            "::jsonb) WITH ORDINALITY AS e(v, n) ORDER BY e.n) END"
        )
    };
}

async fn insert_users(conn: &mut PgConnection, rows: &[UserRow]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.users (id, email, name, is_admin, timezone, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::text[], \
         $6::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.is_admin).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.timezone.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_projects(conn: &mut PgConnection, rows: &[ProjectRow]) -> Result<(), sqlx::Error> {
    let core = |i: usize| {
        rows.iter()
            .map(|r| r.core[i].as_deref())
            .collect::<Vec<_>>()
    };
    sqlx::query(concat!(
        "INSERT INTO public.projects (id, user_id, name, slug, description, status, context, \
         executive_summary, tags, start_date, end_date, core_goals_momentum, \
         core_harmony_integration, core_integrity_ideals, core_meaning_identity, \
         core_opportunity_freedom, core_people_bonds, core_power_resources, \
         core_reality_understanding, core_trust_safeguards, core_context_descriptions, \
         calendar_color_id, calendar_settings, calendar_sync_enabled, source, source_metadata, \
         created_at, updated_at) \
         SELECT u.id, u.user_id, u.name, u.slug, u.description, u.status::public.project_status, \
         u.context, u.executive_summary, ",
        json_to_text_array!("tags"),
        ", u.start_date, u.end_date, u.c1, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7, u.c8, u.c9, \
         u.ccd::jsonb, u.color, u.settings::jsonb, u.sync_enabled, u.source, u.smeta::jsonb, \
         u.created_at, u.updated_at \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::date[], $11::date[], $12::text[], $13::text[], \
         $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
         $20::text[], $21::text[], $22::text[], $23::text[], $24::bool[], $25::text[], \
         $26::text[], $27::timestamptz[], $28::timestamptz[]) \
         AS u(id, user_id, name, slug, description, status, context, executive_summary, tags, \
         start_date, end_date, c1, c2, c3, c4, c5, c6, c7, c8, c9, ccd, color, settings, \
         sync_enabled, source, smeta, created_at, updated_at)"
    ))
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.slug.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.description.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.context.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.executive_summary.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| json_array_text(&r.tags))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.start_date).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.end_date).collect::<Vec<_>>())
    .bind(core(0))
    .bind(core(1))
    .bind(core(2))
    .bind(core(3))
    .bind(core(4))
    .bind(core(5))
    .bind(core(6))
    .bind(core(7))
    .bind(core(8))
    .bind(
        rows.iter()
            .map(|r| json_text(&r.core_context_descriptions))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.calendar_color_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| json_text(&r.calendar_settings))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.calendar_sync_enabled)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.source.as_deref()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| json_text(&r.source_metadata))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_phases(conn: &mut PgConnection, rows: &[PhaseRow]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.phases (id, project_id, user_id, name, description, \"order\", \
         start_date, end_date, scheduling_method, created_at, updated_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], \
         $6::int4[], $7::date[], $8::date[], $9::text[], $10::timestamptz[], $11::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.project_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.description.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.order).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.start_date).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.end_date).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.scheduling_method).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_tasks(conn: &mut PgConnection, rows: &[TaskRow]) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO public.tasks (id, user_id, project_id, parent_task_id, title, description, \
         details, task_steps, status, priority, task_type, start_date, duration_minutes, \
         recurrence_pattern, recurrence_ends, recurrence_end_source, dependencies, outdated, \
         source, source_calendar_event_id, completed_at, deleted_at, created_at, updated_at) \
         SELECT u.id, u.user_id, u.project_id, u.parent_task_id, u.title, u.description, \
         u.details, u.task_steps, u.status::public.task_status, \
         u.priority::public.priority_level, u.task_type::public.task_type, u.start_date, \
         u.duration_minutes, u.recurrence_pattern::public.recurrence_pattern, u.recurrence_ends, \
         u.recurrence_end_source::public.recurrence_end_reason, ",
        json_to_text_array!("dependencies"),
        ", u.outdated, u.source, u.source_calendar_event_id, u.completed_at, u.deleted_at, \
         u.created_at, u.updated_at \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], \
         $13::int4[], $14::text[], $15::date[], $16::text[], $17::text[], $18::bool[], \
         $19::text[], $20::text[], $21::timestamptz[], $22::timestamptz[], $23::timestamptz[], \
         $24::timestamptz[]) \
         AS u(id, user_id, project_id, parent_task_id, title, description, details, task_steps, \
         status, priority, task_type, start_date, duration_minutes, recurrence_pattern, \
         recurrence_ends, recurrence_end_source, dependencies, outdated, source, \
         source_calendar_event_id, completed_at, deleted_at, created_at, updated_at)"
    ))
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.project_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.parent_task_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.title.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.description.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.details.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.task_steps.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.status).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.priority).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.task_type).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.start_date).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.duration_minutes).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.recurrence_pattern)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.recurrence_ends).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.recurrence_end_source)
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| json_array_text(&r.dependencies))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.outdated).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.source.as_deref()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.source_calendar_event_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.completed_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.deleted_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_phase_tasks(
    conn: &mut PgConnection,
    rows: &[PhaseTaskRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.phase_tasks (id, phase_id, task_id, \"order\", assignment_reason, \
         suggested_start_date, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int4[], $5::text[], \
         $6::date[], $7::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.phase_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.task_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.order).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.assignment_reason.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.suggested_start_date)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_calendars(
    conn: &mut PgConnection,
    rows: &[CalendarRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.project_calendars (id, project_id, user_id, calendar_id, \
         calendar_name, color_id, hex_color, is_primary, sync_enabled, sync_status, sync_error, \
         last_synced_at, visibility, created_at, updated_at) \
         SELECT u.id, u.project_id, u.user_id, u.calendar_id, u.calendar_name, u.color_id, \
         u.hex_color, u.is_primary, u.sync_enabled, u.sync_status::public.calendar_sync_status, \
         u.sync_error, u.last_synced_at, u.visibility::public.calendar_visibility, u.created_at, \
         u.updated_at \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::bool[], $9::bool[], $10::text[], $11::text[], $12::timestamptz[], \
         $13::text[], $14::timestamptz[], $15::timestamptz[]) \
         AS u(id, project_id, user_id, calendar_id, calendar_name, color_id, hex_color, \
         is_primary, sync_enabled, sync_status, sync_error, last_synced_at, visibility, \
         created_at, updated_at)",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.project_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.calendar_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.calendar_name.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.color_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.hex_color.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.is_primary).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.sync_enabled).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.sync_status).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.sync_error.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.last_synced_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.visibility).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_events(conn: &mut PgConnection, rows: &[EventRow]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.task_calendar_events (id, task_id, user_id, calendar_id, \
         calendar_event_id, project_calendar_id, event_title, event_start, event_end, event_link, \
         attendees, organizer_email, organizer_display_name, organizer_self, recurrence_rule, \
         recurrence_master_id, recurrence_instance_date, is_master_event, is_exception, \
         exception_type, original_start_time, series_update_scope, sync_status, sync_source, \
         sync_error, sync_version, last_synced_at, created_at, updated_at) \
         SELECT u.id, u.task_id, u.user_id, u.calendar_id, u.calendar_event_id, \
         u.project_calendar_id, u.event_title, u.event_start, u.event_end, u.event_link, \
         u.attendees::jsonb, u.organizer_email, u.organizer_display_name, u.organizer_self, \
         u.recurrence_rule, u.recurrence_master_id, u.recurrence_instance_date, \
         u.is_master_event, u.is_exception, u.exception_type, u.original_start_time, \
         u.series_update_scope, u.sync_status::public.sync_status, u.sync_source, u.sync_error, \
         u.sync_version, u.last_synced_at, u.created_at, u.updated_at \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], \
         $7::text[], $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::bool[], $15::text[], $16::text[], $17::text[], $18::bool[], \
         $19::bool[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], \
         $25::text[], $26::int4[], $27::timestamptz[], $28::timestamptz[], $29::timestamptz[]) \
         AS u(id, task_id, user_id, calendar_id, calendar_event_id, project_calendar_id, \
         event_title, event_start, event_end, event_link, attendees, organizer_email, \
         organizer_display_name, organizer_self, recurrence_rule, recurrence_master_id, \
         recurrence_instance_date, is_master_event, is_exception, exception_type, \
         original_start_time, series_update_scope, sync_status, sync_source, sync_error, \
         sync_version, last_synced_at, created_at, updated_at)",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.task_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.calendar_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.calendar_event_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.project_calendar_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.event_title.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.event_start).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.event_end).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.event_link.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| json_text(&r.attendees))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.organizer_email.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.organizer_display_name.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.organizer_self).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.recurrence_rule.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.recurrence_master_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.recurrence_instance_date.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.is_master_event).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.is_exception).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.exception_type).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.original_start_time.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|r| r.series_update_scope)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.sync_status).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.sync_source).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.sync_error.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.sync_version).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_synced_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}
