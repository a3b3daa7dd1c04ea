//! Executing a [`ChangeSet`] inside the project transaction: one multi-row statement per table
//! and action (`INSERT … SELECT FROM unnest(…)`, `UPDATE … FROM unnest(…)`), never a statement
//! per row.

mod edges;

pub use edges::diff_edges;

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::transform::{
    Action, DocumentRow, Edge, Entity, EventRow, PlanRow, Problem, ProjectRow, RunContext, SyncRow,
    TaskRow,
};

/// One write statement's worth of a project: the project-level entities come with the first
/// batch only; every batch carries a chunk's tasks and events, its problems, and a share of the
/// missing edges.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The project (first batch only).
    pub project: Option<&'a Entity<ProjectRow>>,
    /// The context document (first batch only).
    pub document: Option<&'a Entity<DocumentRow>>,
    /// Plans (first batch only).
    pub plans: &'a [Entity<PlanRow>],
    /// Tasks of the chunk.
    pub tasks: &'a [Entity<TaskRow>],
    /// Events of the chunk.
    pub events: &'a [Entity<EventRow>],
    /// Problems to log.
    pub problems: &'a [Problem],
    /// Edges to insert.
    pub edges: &'a [&'a Edge],
    /// The project's shape, when the ledger's record of it must change (first batch only).
    pub shape: Option<&'a crate::load::Shape>,
}

/// Who and what a project's rows belong to.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// Onto id of the project (the `project_id` of its child rows).
    pub project_onto: Uuid,
    /// Legacy project id.
    pub project_legacy: Uuid,
    /// Actor that creates the rows.
    pub actor: Uuid,
    /// Legacy user of the log rows.
    pub user_id: Uuid,
}

/// Create the actor of a legacy user if needed and return its id. A user without a name gets
/// the local part of the email (the original failed on NULL names).
pub async fn ensure_actor(
    conn: &mut PgConnection,
    user: &crate::load::User,
) -> Result<Uuid, sqlx::Error> {
    let name = user
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            user.email
                .split('@')
                .next()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| format!("user-{}", user.id));
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "WITH ins AS (INSERT INTO onto_actors (kind, name, email, user_id) VALUES ('human', $2, $3, $1) \
                      ON CONFLICT (user_id) DO NOTHING RETURNING id) \
         SELECT id FROM ins UNION ALL SELECT id FROM onto_actors WHERE user_id = $1 LIMIT 1",
    )
    .bind(user.id)
    .bind(name)
    .bind(&user.email)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        // A concurrent project of the same user inserted the actor after this statement's
        // snapshot was taken: ON CONFLICT waited for it, and a new statement sees it.
        None => {
            sqlx::query_scalar("SELECT id FROM onto_actors WHERE user_id = $1")
                .bind(user.id)
                .fetch_one(conn)
                .await
        }
    }
}

/// Write one batch: resynced rows are updated in place first (rare: legacy rows that changed
/// since the last run), then everything new — inserted and recreated rows, sync rows, edges,
/// mappings and log rows — goes in [`INSERT_SQL`], one statement. A first migration of an
/// ordinary project is that one statement: per-statement round trips, not rows, are what a
/// project costs.
pub async fn write_batch(
    conn: &mut PgConnection,
    batch: &Batch<'_>,
    owner: &Owner,
    ctx: &RunContext,
) -> Result<(), sqlx::Error> {
    update_resynced(conn, batch, owner).await?;
    let rows = written(batch);
    if !rows.is_empty()
        || !batch.edges.is_empty()
        || !batch.problems.is_empty()
        || batch.shape.is_some()
    {
        insert_new(conn, batch, &rows, owner, ctx).await?;
    }
    Ok(())
}

fn fresh<T>(e: &Entity<T>) -> bool {
    matches!(e.action, Action::Insert | Action::Recreate)
}

/// JSON binds by reference: `Json<&Value>` encodes as `jsonb` without cloning the props.
fn json_refs<'a, T>(
    rows: &[&'a Entity<T>],
    props: impl Fn(&'a T) -> &'a Value,
) -> Vec<Json<&'a Value>> {
    rows.iter().map(|e| Json(props(&e.row))).collect()
}

/// Inserts of every table (each `unnest` of possibly empty arrays, so the statement text is
/// fixed and prepared once per connection), then the ledger. Foreign keys between the CTEs are
/// checked at the end of the statement, when every sibling's rows are visible.
const INSERT_SQL: &str = "\
WITH p AS (INSERT INTO onto_projects (id, name, description, type_key, state_key, props, facet_context, facet_scale, \
                  facet_stage, start_at, end_at, created_by) \
           SELECT u.*, $12 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], \
                  $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[]) AS u), \
     d AS (INSERT INTO onto_documents (id, project_id, title, type_key, state_key, props, created_by) \
           SELECT u.id, $13, u.title, 'document.context.project', 'published', u.props, $12 \
             FROM unnest($14::uuid[], $15::text[], $16::jsonb[]) AS u(id, title, props)), \
     pl AS (INSERT INTO onto_plans (id, project_id, name, type_key, state_key, props, created_by) \
           SELECT u.id, $13, u.name, u.tk, u.sk, u.props, $12 \
             FROM unnest($17::uuid[], $18::text[], $19::text[], $20::text[], $21::jsonb[]) AS u(id, name, tk, sk, props)), \
     t AS (INSERT INTO onto_tasks (id, project_id, title, type_key, state_key, priority, due_at, props, created_by) \
           SELECT u.id, $13, u.title, u.tk, u.sk, u.pr, u.due, u.props, $12 \
             FROM unnest($22::uuid[], $23::text[], $24::text[], $25::text[], $26::int[], $27::timestamptz[], $28::jsonb[]) \
                  AS u(id, title, tk, sk, pr, due, props)), \
     ev AS (INSERT INTO onto_events (id, project_id, owner_entity_type, owner_entity_id, type_key, state_key, title, \
                  start_at, end_at, all_day, recurrence, external_link, props, created_by) \
           SELECT u.id, $13, 'task', u.owner, 'event.task_work', u.sk, u.title, u.st, u.en, false, u.rec, u.link, u.props, $12 \
             FROM unnest($29::uuid[], $30::uuid[], $31::text[], $32::text[], $33::timestamptz[], $34::timestamptz[], \
                  $35::jsonb[], $36::text[], $37::jsonb[]) AS u(id, owner, sk, title, st, en, rec, link, props)), \
     sy AS (INSERT INTO onto_event_sync (event_id, calendar_id, provider, external_event_id, sync_status, sync_error, last_synced_at) \
           SELECT * FROM unnest($38::uuid[], $39::uuid[], $40::text[], $41::text[], $42::text[], $43::text[], $44::timestamptz[]) \
           ON CONFLICT (calendar_id, provider, external_event_id) DO NOTHING), \
     e AS (INSERT INTO onto_edges (id, src_kind, src_id, rel, dst_kind, dst_id) \
           SELECT * FROM unnest($70::uuid[], $45::text[], $46::uuid[], $47::text[], $48::text[], $49::uuid[])), \
     m AS (INSERT INTO legacy_entity_mappings (legacy_table, legacy_id, onto_table, onto_id, checksum, run_id, metadata) \
           SELECT u.lt, u.li, u.ot, u.oi, u.cs, $56, jsonb_build_object('type_key', u.tk) \
             FROM unnest($50::text[], $51::uuid[], $52::text[], $53::uuid[], $54::text[], $55::text[]) AS u(lt, li, ot, oi, cs, tk) \
           ON CONFLICT (legacy_table, legacy_id) DO UPDATE SET onto_table = excluded.onto_table, \
                  onto_id = excluded.onto_id, checksum = excluded.checksum, run_id = excluded.run_id, \
                  metadata = legacy_entity_mappings.metadata || excluded.metadata, updated_at = now(), \
                  deleted_at = NULL), \
     sh AS (INSERT INTO migration_project_sync (project_id, tasks, phases, events, links, run_id) \
           SELECT u.*, $56 FROM unnest($71::uuid[], $72::int[], $73::int[], $74::int[], $75::int[]) AS u \
           ON CONFLICT (project_id) DO UPDATE SET tasks = excluded.tasks, phases = excluded.phases, \
                  events = excluded.events, links = excluded.links, run_id = excluded.run_id, synced_at = now()) \
INSERT INTO migration_log (run_id, user_id, entity_type, operation, legacy_table, legacy_id, onto_table, onto_id, \
       status, error_category, error_message, metadata) \
SELECT $56, $57, u.et, u.op, u.lt, u.li, u.ot, u.oi, u.st, u.ec, u.em, \
       CASE WHEN u.ec IS NULL THEN jsonb_build_object('type_key', u.tk, 'fallback', $58::bool) \
            ELSE jsonb_build_object('project_id', $59::uuid) END \
  FROM unnest($60::text[], $61::text[], $62::text[], $63::uuid[], $64::text[], $65::uuid[], \
       $66::text[], $67::text[], $68::text[], $69::text[]) AS u(et, op, lt, li, ot, oi, st, ec, em, tk)";

/// Execute [`INSERT_SQL`] for the change set's new rows and its ledger rows.
async fn insert_new(
    conn: &mut PgConnection,
    batch: &Batch<'_>,
    rows: &[Written<'_>],
    owner: &Owner,
    ctx: &RunContext,
) -> Result<(), sqlx::Error> {
    let edges = batch.edges;
    let project: Vec<&Entity<ProjectRow>> =
        batch.project.into_iter().filter(|e| fresh(e)).collect();
    let docs: Vec<&Entity<DocumentRow>> = batch.document.into_iter().filter(|e| fresh(e)).collect();
    let plans: Vec<&Entity<PlanRow>> = batch.plans.iter().filter(|e| fresh(e)).collect();
    let tasks: Vec<&Entity<TaskRow>> = batch.tasks.iter().filter(|e| fresh(e)).collect();
    let events: Vec<&Entity<EventRow>> = batch.events.iter().filter(|e| fresh(e)).collect();
    // Sync rows of every written event: a resynced event's were deleted by `update_resynced`.
    let syncs: Vec<(Uuid, &SyncRow)> = batch
        .events
        .iter()
        .filter(|e| e.action.writes())
        .filter_map(|e| e.row.sync.as_ref().map(|s| (e.onto_id, s)))
        .collect();
    let log = LogRows::new(batch.problems, rows);
    sqlx::query(INSERT_SQL)
        // p: $1–$11, actor $12, project onto id $13
        .bind(project.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(
            project
                .iter()
                .map(|e| e.row.name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            project
                .iter()
                .map(|e| e.row.description.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            project
                .iter()
                .map(|e| e.row.type_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(project.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(json_refs(&project, |r| &r.props))
        .bind(
            project
                .iter()
                .map(|e| e.row.facet_context)
                .collect::<Vec<_>>(),
        )
        .bind(
            project
                .iter()
                .map(|e| e.row.facet_scale)
                .collect::<Vec<_>>(),
        )
        .bind(
            project
                .iter()
                .map(|e| e.row.facet_stage)
                .collect::<Vec<_>>(),
        )
        .bind(project.iter().map(|e| e.row.start_at).collect::<Vec<_>>())
        .bind(project.iter().map(|e| e.row.end_at).collect::<Vec<_>>())
        .bind(owner.actor)
        .bind(owner.project_onto)
        // d: $14–$16
        .bind(docs.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(
            docs.iter()
                .map(|e| e.row.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(json_refs(&docs, |r| &r.props))
        // pl: $17–$21
        .bind(plans.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(
            plans
                .iter()
                .map(|e| e.row.name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            plans
                .iter()
                .map(|e| e.row.type_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(plans.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(json_refs(&plans, |r| &r.props))
        // t: $22–$28
        .bind(tasks.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(
            tasks
                .iter()
                .map(|e| e.row.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            tasks
                .iter()
                .map(|e| e.row.type_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(tasks.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.priority).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.due_at).collect::<Vec<_>>())
        .bind(json_refs(&tasks, |r| &r.props))
        // ev: $29–$37
        .bind(events.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.owner_task).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|e| e.row.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(events.iter().map(|e| e.row.start_at).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.end_at).collect::<Vec<_>>())
        .bind(json_refs(&events, |r| &r.recurrence))
        .bind(
            events
                .iter()
                .map(|e| e.row.external_link.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(json_refs(&events, |r| &r.props))
        // sy: $38–$44
        .bind(syncs.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.calendar_id).collect::<Vec<_>>())
        .bind(
            syncs
                .iter()
                .map(|(_, s)| s.provider.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            syncs
                .iter()
                .map(|(_, s)| s.external_event_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            syncs
                .iter()
                .map(|(_, s)| s.sync_status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            syncs
                .iter()
                .map(|(_, s)| s.sync_error.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            syncs
                .iter()
                .map(|(_, s)| s.last_synced_at)
                .collect::<Vec<_>>(),
        )
        // e: $45–$49
        .bind(edges.iter().map(|e| e.src_kind).collect::<Vec<_>>())
        .bind(edges.iter().map(|e| e.src_id).collect::<Vec<_>>())
        .bind(edges.iter().map(|e| e.rel).collect::<Vec<_>>())
        .bind(edges.iter().map(|e| e.dst_kind).collect::<Vec<_>>())
        .bind(edges.iter().map(|e| e.dst_id).collect::<Vec<_>>())
        // m: $50–$55
        .bind(rows.iter().map(|r| r.legacy_table).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.legacy_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.onto_table).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.onto_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.checksum).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.type_key).collect::<Vec<_>>())
        // run $56, user $57, fallback $58, legacy project $59, log $60–$69
        .bind(ctx.run_id)
        .bind(owner.user_id)
        .bind(ctx.fallback)
        .bind(owner.project_legacy)
        .bind(log.entity_type)
        .bind(log.operation)
        .bind(log.legacy_table)
        .bind(log.legacy_id)
        .bind(log.onto_table)
        .bind(log.onto_id)
        .bind(log.status)
        .bind(log.category)
        .bind(log.message)
        .bind(log.type_key)
        // e ids: $70
        .bind(edges.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        // sh: $71–$75 (none, or the project's new shape)
        .bind(
            batch
                .shape
                .iter()
                .map(|_| owner.project_legacy)
                .collect::<Vec<_>>(),
        )
        .bind(batch.shape.iter().map(|s| s.tasks).collect::<Vec<_>>())
        .bind(batch.shape.iter().map(|s| s.phases).collect::<Vec<_>>())
        .bind(batch.shape.iter().map(|s| s.events).collect::<Vec<_>>())
        .bind(batch.shape.iter().map(|s| s.links).collect::<Vec<_>>())
        .execute(conn)
        .await?;
    Ok(())
}

/// `migration_log` rows as columns: one per written entity, one per problem.
struct LogRows<'a> {
    entity_type: Vec<&'a str>,
    operation: Vec<&'a str>,
    legacy_table: Vec<&'a str>,
    legacy_id: Vec<Uuid>,
    onto_table: Vec<Option<&'a str>>,
    onto_id: Vec<Option<Uuid>>,
    status: Vec<&'a str>,
    category: Vec<Option<&'a str>>,
    message: Vec<Option<&'a str>>,
    type_key: Vec<Option<&'a str>>,
}

impl<'a> LogRows<'a> {
    fn new(problems: &'a [Problem], rows: &[Written<'a>]) -> Self {
        let n = rows.len() + problems.len();
        let mut log = Self {
            entity_type: Vec::with_capacity(n),
            operation: Vec::with_capacity(n),
            legacy_table: Vec::with_capacity(n),
            legacy_id: Vec::with_capacity(n),
            onto_table: Vec::with_capacity(n),
            onto_id: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            category: Vec::with_capacity(n),
            message: Vec::with_capacity(n),
            type_key: Vec::with_capacity(n),
        };
        for r in rows {
            log.entity_type.push(r.entity_type);
            log.operation.push(r.action.operation());
            log.legacy_table.push(r.legacy_table);
            log.legacy_id.push(r.legacy_id);
            log.onto_table.push(Some(r.onto_table));
            log.onto_id.push(Some(r.onto_id));
            log.status.push("completed");
            log.category.push(None);
            log.message.push(None);
            log.type_key.push(r.type_key);
        }
        for p in problems {
            log.entity_type.push(p.entity_type);
            log.operation.push("skip");
            log.legacy_table.push(p.legacy_table);
            log.legacy_id.push(p.legacy_id);
            log.onto_table.push(p.onto.map(|(t, _)| t));
            log.onto_id.push(p.onto.map(|(_, id)| id));
            log.status.push(p.status);
            log.category.push(Some(p.category.as_str()));
            log.message.push(Some(p.message.as_str()));
            log.type_key.push(None);
        }
        log
    }
}

/// Update the resynced rows in place (same onto id) and drop the sync rows of resynced events
/// (re-derived by [`insert_new`]). Each row is (re)attached to this project's onto project: a
/// row whose legacy row moved here from another project moves with it.
async fn update_resynced(
    conn: &mut PgConnection,
    batch: &Batch<'_>,
    owner: &Owner,
) -> Result<(), sqlx::Error> {
    let resync = |a: Action| a == Action::Resync;
    if let Some(project) = batch.project.filter(|p| resync(p.action)) {
        let r = &project.row;
        sqlx::query(
            "UPDATE onto_projects SET name = $2, description = $3, type_key = $4, state_key = $5, props = $6, \
             facet_context = $7, facet_scale = $8, facet_stage = $9, start_at = $10, end_at = $11, updated_at = now() \
             WHERE id = $1",
        )
        .bind(project.onto_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.type_key)
        .bind(r.state_key)
        .bind(Json(&r.props))
        .bind(r.facet_context)
        .bind(r.facet_scale)
        .bind(r.facet_stage)
        .bind(r.start_at)
        .bind(r.end_at)
        .execute(&mut *conn)
        .await?;
    }
    let project_id = owner.project_onto;
    let docs: Vec<&Entity<DocumentRow>> = batch
        .document
        .into_iter()
        .filter(|e| resync(e.action))
        .collect();
    if !docs.is_empty() {
        sqlx::query(
            "UPDATE onto_documents o SET project_id = $4, title = u.title, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(id, title, props) \
              WHERE o.id = u.id",
        )
        .bind(docs.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(
            docs.iter()
                .map(|e| e.row.title.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(json_refs(&docs, |r| &r.props))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    let plans: Vec<_> = batch.plans.iter().filter(|e| resync(e.action)).collect();
    if !plans.is_empty() {
        sqlx::query(
            "UPDATE onto_plans o SET project_id = $6, name = u.name, type_key = u.tk, state_key = u.sk, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(id, name, tk, sk, props) \
              WHERE o.id = u.id",
        )
        .bind(plans.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(plans.iter().map(|e| e.row.name.as_str()).collect::<Vec<_>>())
        .bind(plans.iter().map(|e| e.row.type_key.as_str()).collect::<Vec<_>>())
        .bind(plans.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(json_refs(&plans, |r| &r.props))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    let tasks: Vec<_> = batch.tasks.iter().filter(|e| resync(e.action)).collect();
    if !tasks.is_empty() {
        sqlx::query(
            "UPDATE onto_tasks o SET project_id = $8, title = u.title, type_key = u.tk, state_key = u.sk, priority = u.pr, due_at = u.due, \
                    props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::jsonb[]) \
                    AS u(id, title, tk, sk, pr, due, props) \
              WHERE o.id = u.id",
        )
        .bind(tasks.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.title.as_str()).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.type_key.as_str()).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.priority).collect::<Vec<_>>())
        .bind(tasks.iter().map(|e| e.row.due_at).collect::<Vec<_>>())
        .bind(json_refs(&tasks, |r| &r.props))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    let events: Vec<_> = batch.events.iter().filter(|e| resync(e.action)).collect();
    if !events.is_empty() {
        sqlx::query(
            "WITH s AS (DELETE FROM onto_event_sync WHERE event_id = ANY($1)) \
             UPDATE onto_events o SET project_id = $10, owner_entity_id = u.owner, state_key = u.sk, title = u.title, start_at = u.st, \
                    end_at = u.en, recurrence = u.rec, external_link = u.link, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], \
                           $7::jsonb[], $8::text[], $9::jsonb[]) AS u(id, owner, sk, title, st, en, rec, link, props) \
              WHERE o.id = u.id",
        )
        .bind(events.iter().map(|e| e.onto_id).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.owner_task).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.title.as_str()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.start_at).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.row.end_at).collect::<Vec<_>>())
        .bind(json_refs(&events, |r| &r.recurrence))
        .bind(events.iter().map(|e| e.row.external_link.as_deref()).collect::<Vec<_>>())
        .bind(json_refs(&events, |r| &r.props))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The entity kinds edges connect.
const KINDS: [&str; 5] = ["project", "document", "plan", "task", "event"];

fn kind(s: &str) -> Option<&'static str> {
    KINDS.iter().find(|k| **k == s).copied()
}

/// One written entity, flattened for the ledger statements.
struct Written<'a> {
    entity_type: &'static str,
    legacy_table: &'static str,
    legacy_id: Uuid,
    onto_table: &'static str,
    onto_id: Uuid,
    action: Action,
    checksum: &'a str,
    type_key: Option<&'a str>,
}

fn written<'a>(batch: &Batch<'a>) -> Vec<Written<'a>> {
    fn each<'a, T>(
        out: &mut Vec<Written<'a>>,
        entities: impl IntoIterator<Item = &'a Entity<T>>,
        entity_type: &'static str,
        onto_table: &'static str,
        type_key: impl Fn(&'a T) -> Option<&'a str>,
    ) where
        T: 'a,
    {
        for e in entities.into_iter().filter(|e| e.action.writes()) {
            out.push(Written {
                entity_type,
                legacy_table: e.legacy_table,
                legacy_id: e.legacy_id,
                onto_table,
                onto_id: e.onto_id,
                action: e.action,
                checksum: &e.checksum,
                type_key: type_key(&e.row),
            });
        }
    }
    let mut out = Vec::new();
    each(&mut out, batch.project, "project", "onto_projects", |r| {
        Some(r.type_key.as_str())
    });
    each(
        &mut out,
        batch.document,
        "document",
        "onto_documents",
        |_| Some("document.context.project"),
    );
    each(&mut out, batch.plans, "phase", "onto_plans", |r| {
        Some(r.type_key.as_str())
    });
    each(&mut out, batch.tasks, "task", "onto_tasks", |r| {
        Some(r.type_key.as_str())
    });
    each(&mut out, batch.events, "calendar", "onto_events", |_| {
        Some("event.task_work")
    });
    out
}
