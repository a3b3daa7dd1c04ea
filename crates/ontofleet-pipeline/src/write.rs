//! Executing a [`ChangeSet`] inside the project transaction: one multi-row statement per table
//! and action (`INSERT … SELECT FROM unnest(…)`, `UPDATE … FROM unnest(…)`), never a statement
//! per row.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::transform::{Action, ChangeSet, DERIVED_RELS, Edge, Entity, RunContext};

/// What the writer did beyond the entity rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteStats {
    /// Edges inserted.
    pub edges_inserted: usize,
    /// Edges deleted (no longer derived from the legacy data).
    pub edges_deleted: usize,
}

fn split<T>(entities: &[Entity<T>]) -> (Vec<&Entity<T>>, Vec<&Entity<T>>) {
    let inserts = entities
        .iter()
        .filter(|e| matches!(e.action, Action::Insert | Action::Recreate))
        .collect();
    let updates = entities
        .iter()
        .filter(|e| e.action == Action::Resync)
        .collect();
    (inserts, updates)
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

/// The id of an existing actor, without creating one (dry runs).
pub async fn find_actor(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM onto_actors WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

/// Write every entity, edge, mapping and log row of the change set.
pub async fn write(
    conn: &mut PgConnection,
    cs: &ChangeSet,
    ctx: &RunContext,
    actor: Uuid,
    user_id: Uuid,
) -> Result<WriteStats, sqlx::Error> {
    let project_id = cs.project.onto_id;
    write_project(conn, cs, actor).await?;
    if let Some(doc) = &cs.document {
        write_documents(conn, std::slice::from_ref(doc), project_id, actor).await?;
    }
    write_plans(conn, &cs.plans, project_id, actor).await?;
    write_tasks(conn, &cs.tasks, project_id, actor).await?;
    write_events(conn, &cs.events, project_id, actor).await?;
    let stats = write_edges(conn, cs).await?;
    let rows = written(cs);
    write_mappings(conn, &rows, ctx).await?;
    write_log(conn, cs, &rows, ctx, user_id).await?;
    Ok(stats)
}

async fn write_project(
    conn: &mut PgConnection,
    cs: &ChangeSet,
    actor: Uuid,
) -> Result<(), sqlx::Error> {
    let e = &cs.project;
    let r = &e.row;
    let sql = match e.action {
        Action::Unchanged => return Ok(()),
        Action::Insert | Action::Recreate => {
            "INSERT INTO onto_projects (id, name, description, type_key, state_key, props, facet_context, facet_scale, \
             facet_stage, start_at, end_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        }
        Action::Resync => {
            "UPDATE onto_projects SET name = $2, description = $3, type_key = $4, state_key = $5, props = $6, \
             facet_context = $7, facet_scale = $8, facet_stage = $9, start_at = $10, end_at = $11, updated_at = now() \
             WHERE id = $1 AND $12::uuid IS NOT NULL"
        }
    };
    sqlx::query(sql)
        .bind(e.onto_id)
        .bind(&r.name)
        .bind(&r.description)
        .bind(&r.type_key)
        .bind(r.state_key)
        .bind(&r.props)
        .bind(r.facet_context)
        .bind(r.facet_scale)
        .bind(r.facet_stage)
        .bind(r.start_at)
        .bind(r.end_at)
        .bind(actor)
        .execute(conn)
        .await?;
    Ok(())
}

async fn write_documents(
    conn: &mut PgConnection,
    docs: &[Entity<crate::transform::DocumentRow>],
    project_id: Uuid,
    actor: Uuid,
) -> Result<(), sqlx::Error> {
    let (inserts, updates) = split(docs);
    for (rows, sql) in [
        (
            inserts,
            "INSERT INTO onto_documents (id, project_id, title, type_key, state_key, props, created_by) \
             SELECT u.id, $4, u.title, 'document.context.project', 'published', u.props, $5 \
               FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(id, title, props)",
        ),
        (
            updates,
            "UPDATE onto_documents o SET title = u.title, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS u(id, title, props) \
              WHERE o.id = u.id AND o.project_id = $4 AND $5::uuid IS NOT NULL",
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(rows.iter().map(|e| e.onto_id).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|e| e.row.title.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|e| e.row.props.clone()).collect::<Vec<_>>())
            .bind(project_id)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn write_plans(
    conn: &mut PgConnection,
    plans: &[Entity<crate::transform::PlanRow>],
    project_id: Uuid,
    actor: Uuid,
) -> Result<(), sqlx::Error> {
    let (inserts, updates) = split(plans);
    for (rows, sql) in [
        (
            inserts,
            "INSERT INTO onto_plans (id, project_id, name, type_key, state_key, props, created_by) \
             SELECT u.id, $6, u.name, u.tk, u.sk, u.props, $7 \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(id, name, tk, sk, props)",
        ),
        (
            updates,
            "UPDATE onto_plans o SET name = u.name, type_key = u.tk, state_key = u.sk, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(id, name, tk, sk, props) \
              WHERE o.id = u.id AND o.project_id = $6 AND $7::uuid IS NOT NULL",
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(rows.iter().map(|e| e.onto_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.name.as_str()).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|e| e.row.type_key.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.props.clone()).collect::<Vec<_>>())
            .bind(project_id)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn write_tasks(
    conn: &mut PgConnection,
    tasks: &[Entity<crate::transform::TaskRow>],
    project_id: Uuid,
    actor: Uuid,
) -> Result<(), sqlx::Error> {
    let (inserts, updates) = split(tasks);
    for (rows, sql) in [
        (
            inserts,
            "INSERT INTO onto_tasks (id, project_id, title, type_key, state_key, priority, due_at, props, created_by) \
             SELECT u.id, $8, u.title, u.tk, u.sk, u.pr, u.due, u.props, $9 \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::jsonb[]) \
                    AS u(id, title, tk, sk, pr, due, props)",
        ),
        (
            updates,
            "UPDATE onto_tasks o SET title = u.title, type_key = u.tk, state_key = u.sk, priority = u.pr, due_at = u.due, \
                    props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], $7::jsonb[]) \
                    AS u(id, title, tk, sk, pr, due, props) \
              WHERE o.id = u.id AND o.project_id = $8 AND $9::uuid IS NOT NULL",
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(rows.iter().map(|e| e.onto_id).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|e| e.row.title.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|e| e.row.type_key.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.priority).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.due_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.props.clone()).collect::<Vec<_>>())
            .bind(project_id)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn write_events(
    conn: &mut PgConnection,
    events: &[Entity<crate::transform::EventRow>],
    project_id: Uuid,
    actor: Uuid,
) -> Result<(), sqlx::Error> {
    let (inserts, updates) = split(events);
    for (rows, sql) in [
        (
            &inserts,
            "INSERT INTO onto_events (id, project_id, owner_entity_type, owner_entity_id, type_key, state_key, title, \
                    start_at, end_at, all_day, recurrence, external_link, props, created_by) \
             SELECT u.id, $10, 'task', u.owner, 'event.task_work', u.sk, u.title, u.st, u.en, false, u.rec, u.link, \
                    u.props, $11 \
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], \
                           $7::jsonb[], $8::text[], $9::jsonb[]) AS u(id, owner, sk, title, st, en, rec, link, props)",
        ),
        (
            &updates,
            "UPDATE onto_events o SET owner_entity_id = u.owner, state_key = u.sk, title = u.title, start_at = u.st, \
                    end_at = u.en, recurrence = u.rec, external_link = u.link, props = u.props, updated_at = now() \
               FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], \
                           $7::jsonb[], $8::text[], $9::jsonb[]) AS u(id, owner, sk, title, st, en, rec, link, props) \
              WHERE o.id = u.id AND o.project_id = $10 AND $11::uuid IS NOT NULL",
        ),
    ] {
        if rows.is_empty() {
            continue;
        }
        sqlx::query(sql)
            .bind(rows.iter().map(|e| e.onto_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.owner_task).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.state_key).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|e| e.row.title.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|e| e.row.start_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|e| e.row.end_at).collect::<Vec<_>>())
            .bind(
                rows.iter()
                    .map(|e| e.row.recurrence.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                rows.iter()
                    .map(|e| e.row.external_link.as_deref())
                    .collect::<Vec<_>>(),
            )
            .bind(rows.iter().map(|e| e.row.props.clone()).collect::<Vec<_>>())
            .bind(project_id)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
    }
    // Sync rows are derived from the event row: replaced whenever the event is written.
    if !updates.is_empty() {
        sqlx::query("DELETE FROM onto_event_sync WHERE event_id = ANY($1)")
            .bind(updates.iter().map(|e| e.onto_id).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
    }
    let syncs: Vec<(Uuid, &crate::transform::SyncRow)> = inserts
        .iter()
        .chain(updates.iter())
        .filter_map(|e| e.row.sync.as_ref().map(|s| (e.onto_id, s)))
        .collect();
    if !syncs.is_empty() {
        sqlx::query(
            "INSERT INTO onto_event_sync (event_id, calendar_id, provider, external_event_id, sync_status, sync_error, \
                    last_synced_at) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) \
             ON CONFLICT (calendar_id, provider, external_event_id) DO NOTHING",
        )
        .bind(syncs.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.calendar_id).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.provider.as_str()).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.external_event_id.as_str()).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.sync_status.as_str()).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.sync_error.as_deref()).collect::<Vec<_>>())
        .bind(syncs.iter().map(|(_, s)| s.last_synced_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Make the project's derived edges equal to the desired set: insert the missing ones, delete
/// the ones the legacy data no longer implies. Unchanged data writes nothing.
async fn write_edges(conn: &mut PgConnection, cs: &ChangeSet) -> Result<WriteStats, sqlx::Error> {
    let existing: Vec<(Uuid, String, Uuid, String, String, Uuid)> = sqlx::query_as(
        "SELECT id, src_kind, src_id, rel, dst_kind, dst_id FROM onto_edges WHERE src_id = ANY($1) AND rel = ANY($2)",
    )
    .bind(cs.onto_ids())
    .bind(&DERIVED_RELS[..])
    .fetch_all(&mut *conn)
    .await?;
    let key = |e: &Edge| {
        (
            e.src_kind.to_owned(),
            e.src_id,
            e.rel.to_owned(),
            e.dst_kind.to_owned(),
            e.dst_id,
        )
    };
    let desired: BTreeSet<_> = cs.edges.iter().map(key).collect();
    let present: BTreeSet<_> = existing
        .iter()
        .map(|(_, sk, s, r, dk, d)| (sk.clone(), *s, r.clone(), dk.clone(), *d))
        .collect();
    let stale: Vec<Uuid> = existing
        .iter()
        .filter(|(_, sk, s, r, dk, d)| {
            !desired.contains(&(sk.clone(), *s, r.clone(), dk.clone(), *d))
        })
        .map(|(id, ..)| *id)
        .collect();
    let missing: Vec<&Edge> = cs
        .edges
        .iter()
        .filter(|e| !present.contains(&key(e)))
        .collect();
    if !stale.is_empty() {
        sqlx::query("DELETE FROM onto_edges WHERE id = ANY($1)")
            .bind(&stale)
            .execute(&mut *conn)
            .await?;
    }
    if !missing.is_empty() {
        sqlx::query(
            "INSERT INTO onto_edges (src_kind, src_id, rel, dst_kind, dst_id) \
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::uuid[]) \
             ON CONFLICT (src_kind, src_id, rel, dst_kind, dst_id) DO NOTHING",
        )
        .bind(missing.iter().map(|e| e.src_kind).collect::<Vec<_>>())
        .bind(missing.iter().map(|e| e.src_id).collect::<Vec<_>>())
        .bind(missing.iter().map(|e| e.rel).collect::<Vec<_>>())
        .bind(missing.iter().map(|e| e.dst_kind).collect::<Vec<_>>())
        .bind(missing.iter().map(|e| e.dst_id).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(WriteStats {
        edges_inserted: missing.len(),
        edges_deleted: stale.len(),
    })
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

fn written(cs: &ChangeSet) -> Vec<Written<'_>> {
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
    each(&mut out, [&cs.project], "project", "onto_projects", |r| {
        Some(r.type_key.as_str())
    });
    each(
        &mut out,
        cs.document.iter(),
        "document",
        "onto_documents",
        |_| Some("document.context.project"),
    );
    each(&mut out, &cs.plans, "phase", "onto_plans", |r| {
        Some(r.type_key.as_str())
    });
    each(&mut out, &cs.tasks, "task", "onto_tasks", |r| {
        Some(r.type_key.as_str())
    });
    each(&mut out, &cs.events, "calendar", "onto_events", |_| {
        Some("event.task_work")
    });
    out
}

async fn write_mappings(
    conn: &mut PgConnection,
    rows: &[Written<'_>],
    ctx: &RunContext,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO legacy_entity_mappings (legacy_table, legacy_id, onto_table, onto_id, checksum, run_id, metadata) \
         SELECT u.lt, u.li, u.ot, u.oi, u.cs, $6, jsonb_build_object('type_key', u.tk) \
           FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $7::text[]) AS u(lt, li, ot, oi, cs, tk) \
         ON CONFLICT (legacy_table, legacy_id) DO UPDATE SET onto_table = excluded.onto_table, \
                onto_id = excluded.onto_id, checksum = excluded.checksum, run_id = excluded.run_id, \
                metadata = legacy_entity_mappings.metadata || excluded.metadata, updated_at = now()",
    )
    .bind(rows.iter().map(|r| r.legacy_table).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.legacy_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.onto_table).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.onto_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.checksum).collect::<Vec<_>>())
    .bind(ctx.run_id)
    .bind(rows.iter().map(|r| r.type_key).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_log(
    conn: &mut PgConnection,
    cs: &ChangeSet,
    rows: &[Written<'_>],
    ctx: &RunContext,
    user_id: Uuid,
) -> Result<(), sqlx::Error> {
    let mut entity_type = Vec::new();
    let mut operation = Vec::new();
    let mut legacy_table = Vec::new();
    let mut legacy_id = Vec::new();
    let mut onto_table: Vec<Option<&str>> = Vec::new();
    let mut onto_id: Vec<Option<Uuid>> = Vec::new();
    let mut status = Vec::new();
    let mut category: Vec<Option<&str>> = Vec::new();
    let mut message: Vec<Option<&str>> = Vec::new();
    let mut metadata: Vec<Value> = Vec::new();
    for r in rows {
        entity_type.push(r.entity_type);
        operation.push(r.action.operation());
        legacy_table.push(r.legacy_table);
        legacy_id.push(r.legacy_id);
        onto_table.push(Some(r.onto_table));
        onto_id.push(Some(r.onto_id));
        status.push("completed");
        category.push(None);
        message.push(None);
        metadata.push(json!({"type_key": r.type_key, "fallback": ctx.fallback}));
    }
    for p in &cs.problems {
        entity_type.push(p.entity_type);
        operation.push("skip");
        legacy_table.push(p.legacy_table);
        legacy_id.push(p.legacy_id);
        onto_table.push(p.onto.map(|(t, _)| t));
        onto_id.push(p.onto.map(|(_, id)| id));
        status.push(p.status);
        category.push(Some(p.category.as_str()));
        message.push(Some(p.message.as_str()));
        metadata.push(json!({"project_id": cs.project.legacy_id}));
    }
    if entity_type.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO migration_log (run_id, user_id, entity_type, operation, legacy_table, legacy_id, onto_table, onto_id, \
                status, error_category, error_message, metadata) \
         SELECT $1, $2, u.* FROM unnest($3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::uuid[], \
                $9::text[], $10::text[], $11::text[], $12::jsonb[]) AS u",
    )
    .bind(ctx.run_id)
    .bind(user_id)
    .bind(entity_type)
    .bind(operation)
    .bind(legacy_table)
    .bind(legacy_id)
    .bind(onto_table)
    .bind(onto_id)
    .bind(status)
    .bind(category)
    .bind(message)
    .bind(metadata)
    .execute(conn)
    .await?;
    Ok(())
}
