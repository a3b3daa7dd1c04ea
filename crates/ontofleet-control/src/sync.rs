//! Catch-up (SPEC §15): which legacy projects changed since a watermark, the watermark itself
//! (the start of the last completed pass), and the lag `sync status` reports.
//!
//! Two kinds of change are found two ways:
//! - a row created, updated or soft-deleted carries a timestamp: one index range scan per
//!   legacy table over the change indexes (`ontofleet_db::change_index`), so the cost follows
//!   the number of changed rows, not the size of the tables. A changed task, phase or event
//!   also selects the project its ontology row sits under, which differs when it moved;
//! - a row hard-deleted, or a phase link removed, leaves nothing to scan for. The ledger
//!   remembers each project's shape (`migration_project_sync`: its task, phase, event and link
//!   counts at its last pass); a project whose counts no longer match lost rows. Comparing them
//!   reads the four tables' project indexes once ([`Depth::Ledger`]: seconds at 1M tasks on
//!   the development VM), so a pass and `cutover check` do it and `sync status`, which is
//!   polled, does not. A project without a recorded shape — never migrated, or failed or
//!   skipped since (the failure deletes it) — is selected too. A project deleted whole is found
//!   through its mapping (a few thousand primary-key probes), always.
//!
//! Writers that change a row without touching its timestamps, or update a `phase_tasks` row in
//! place, are invisible to both; the periodic `--resync` pass finds those.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ControlError;

/// Which projects a question is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFilter {
    /// One legacy user's projects.
    pub user: Option<Uuid>,
    /// These legacy projects.
    pub projects: Option<Vec<Uuid>>,
    /// Archived projects too.
    pub include_archived: bool,
}

/// A completed pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Pass {
    /// Its run.
    pub run_id: Uuid,
    /// When it started: changes before this are in the target (unless its item failed).
    pub started_at: DateTime<Utc>,
}

/// The last completed live run that covers `filter`'s projects: a platform run covers every
/// project, a user run its user's, a projects run the projects it listed.
pub async fn last_pass(
    conn: &mut PgConnection,
    filter: &ProjectFilter,
) -> Result<Option<Pass>, ControlError> {
    let projects = filter
        .projects
        .as_ref()
        .map(|p| serde_json::to_value(p).unwrap_or_default());
    let row: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, started_at FROM migration_runs \
          WHERE status IN ('completed', 'completed_with_errors') AND NOT dry_run AND started_at IS NOT NULL \
            AND (scope = 'platform' \
                 OR ($1::uuid IS NOT NULL AND scope = 'user' AND options -> 'selection' ->> 'user' = $1::text) \
                 OR ($2::jsonb IS NOT NULL AND scope = 'projects' \
                     AND options -> 'selection' -> 'projects' @> $2::jsonb)) \
          ORDER BY started_at DESC LIMIT 1",
    )
    .bind(filter.user)
    .bind(projects)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(run_id, started_at)| Pass { run_id, started_at }))
}

/// How hard to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Timestamped changes and projects deleted whole: cheap, for polling.
    Timestamps,
    /// Also the ledger's shapes (rows hard-deleted, links removed) and projects without one
    /// (never migrated, or failed or skipped since: a failure forgets the shape): what a
    /// catch-up pass and the cut-over check need.
    Ledger,
}

/// What changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The legacy projects to migrate again, by id (deleted ones included).
    pub projects: Vec<Uuid>,
    /// The oldest timestamped change among them.
    pub oldest_change_at: Option<DateTime<Utc>>,
}

/// Rows created, updated or soft-deleted after `$1`, as (legacy project, when): the project
/// a row belongs to now and the project its ontology row sits under.
const TIMESTAMPED: &str = "\
  SELECT p.id, greatest(p.created_at, p.updated_at) FROM projects p \
   WHERE greatest(p.created_at, p.updated_at) > $1 \
  UNION ALL SELECT ph.project_id, greatest(ph.created_at, ph.updated_at) FROM phases ph \
   WHERE greatest(ph.created_at, ph.updated_at) > $1 \
  UNION ALL SELECT (SELECT mp.legacy_id FROM legacy_entity_mappings m JOIN onto_plans o ON o.id = m.onto_id \
                      JOIN legacy_entity_mappings mp ON mp.onto_table = 'onto_projects' AND mp.onto_id = o.project_id \
                     WHERE m.legacy_table = 'phases' AND m.legacy_id = ph.id), greatest(ph.created_at, ph.updated_at) \
     FROM phases ph WHERE greatest(ph.created_at, ph.updated_at) > $1 \
  UNION ALL SELECT t.project_id, greatest(t.created_at, t.updated_at, t.deleted_at) FROM tasks t \
   WHERE greatest(t.created_at, t.updated_at, t.deleted_at) > $1 \
  UNION ALL SELECT (SELECT mp.legacy_id FROM legacy_entity_mappings m JOIN onto_tasks o ON o.id = m.onto_id \
                      JOIN legacy_entity_mappings mp ON mp.onto_table = 'onto_projects' AND mp.onto_id = o.project_id \
                     WHERE m.legacy_table = 'tasks' AND m.legacy_id = t.id), greatest(t.created_at, t.updated_at, t.deleted_at) \
     FROM tasks t WHERE greatest(t.created_at, t.updated_at, t.deleted_at) > $1 \
  UNION ALL SELECT ph.project_id, pt.created_at FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id \
   WHERE pt.created_at > $1 \
  UNION ALL SELECT t.project_id, pt.created_at FROM phase_tasks pt JOIN tasks t ON t.id = pt.task_id \
   WHERE pt.created_at > $1 \
  UNION ALL SELECT t.project_id, greatest(e.created_at, e.updated_at) FROM task_calendar_events e \
     JOIN tasks t ON t.id = e.task_id WHERE greatest(e.created_at, e.updated_at) > $1 \
  UNION ALL SELECT (SELECT mp.legacy_id FROM legacy_entity_mappings m JOIN onto_events o ON o.id = m.onto_id \
                      JOIN legacy_entity_mappings mp ON mp.onto_table = 'onto_projects' AND mp.onto_id = o.project_id \
                     WHERE m.legacy_table = 'task_calendar_events' AND m.legacy_id = e.id), \
                   greatest(e.created_at, e.updated_at) \
     FROM task_calendar_events e WHERE greatest(e.created_at, e.updated_at) > $1";

/// Migrated projects whose legacy row is gone (a few thousand probes by primary key).
const VANISHED: &str = "\
  SELECT m.legacy_id, NULL::timestamptz FROM legacy_entity_mappings m \
   WHERE m.legacy_table = 'projects' AND m.deleted_at IS NULL \
     AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = m.legacy_id) \
     AND EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id)";

/// Projects whose rows no longer add up to the shape their last pass recorded (counted as
/// `ontofleet_pipeline::load::Shape` counts them), or without one: reads the project indexes
/// of tasks, phases, events and links once.
const RESHAPED: &str = "\
  SELECT p.id, NULL::timestamptz FROM projects p \
    LEFT JOIN migration_project_sync s ON s.project_id = p.id \
    LEFT JOIN (SELECT project_id, count(*) AS n FROM tasks WHERE project_id IS NOT NULL GROUP BY 1) ct \
           ON ct.project_id = p.id \
    LEFT JOIN (SELECT project_id, count(*) AS n FROM phases GROUP BY 1) cp ON cp.project_id = p.id \
    LEFT JOIN (SELECT t.project_id, count(*) AS n FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id \
                WHERE t.project_id IS NOT NULL AND t.deleted_at IS NULL GROUP BY 1) ce ON ce.project_id = p.id \
    LEFT JOIN (SELECT t.project_id, count(*) AS n FROM phase_tasks pt JOIN tasks t ON t.id = pt.task_id \
                WHERE t.project_id IS NOT NULL AND t.deleted_at IS NULL GROUP BY 1) cl ON cl.project_id = p.id \
   WHERE s.project_id IS NULL OR s.tasks <> coalesce(ct.n, 0) OR s.phases <> coalesce(cp.n, 0) \
      OR s.events <> coalesce(ce.n, 0) OR s.links <> coalesce(cl.n, 0)";

/// The projects of `filter` with a change after `since` (`None`: every project), see the
/// module docs. Plans go by index: the session may not scan the legacy tables sequentially,
/// whatever their statistics (a freshly loaded database has none).
pub async fn changed_since(
    conn: &mut PgConnection,
    since: Option<DateTime<Utc>>,
    filter: &ProjectFilter,
    depth: Depth,
) -> Result<Changes, ControlError> {
    let reshaped = match depth {
        Depth::Ledger => RESHAPED,
        Depth::Timestamps => "SELECT NULL::uuid, NULL::timestamptz WHERE false",
    };
    // `None`: since the beginning of time (which no bound parameter can say).
    let timestamped = TIMESTAMPED.replace("$1", "coalesce($1::timestamptz, '-infinity')");
    let sql = format!(
        "WITH c(project_id, at) AS ({timestamped} UNION ALL {VANISHED} UNION ALL {reshaped}) \
         SELECT c.project_id, min(c.at) FROM c LEFT JOIN projects p ON p.id = c.project_id \
          WHERE c.project_id IS NOT NULL \
            AND (p.id IS NULL OR $2 OR p.status <> 'archived') \
            AND ($3::uuid IS NULL OR p.user_id = $3 \
                 OR (p.id IS NULL AND EXISTS (SELECT 1 FROM legacy_entity_mappings m \
                        JOIN onto_projects o ON o.id = m.onto_id JOIN onto_actors a ON a.id = o.created_by \
                       WHERE m.legacy_table = 'projects' AND m.legacy_id = c.project_id AND a.user_id = $3))) \
            AND ($4::uuid[] IS NULL OR c.project_id = ANY($4)) \
          GROUP BY c.project_id ORDER BY c.project_id"
    );
    // Index paths, whatever the statistics; and no JIT compilation, which costs more than this
    // statement's index scans save (seconds at 1M tasks).
    // (JIT stays off for the rest of the caller's transaction: nothing there needs it.)
    sqlx::raw_sql("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
        .execute(&mut *conn)
        .await?;
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(since)
        .bind(filter.include_archived)
        .bind(filter.user)
        .bind(filter.projects.as_deref())
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query("SET LOCAL enable_seqscan = on")
        .execute(&mut *conn)
        .await?;
    Ok(Changes {
        oldest_change_at: rows.iter().filter_map(|(_, at)| *at).min(),
        projects: rows.into_iter().map(|(p, _)| p).collect(),
    })
}

/// The catch-up lag (`sync status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SyncStatus {
    /// Projects with a change the target does not have yet (timestamped changes since the
    /// watermark and projects deleted whole; before any completed platform pass, every project
    /// not yet migrated).
    pub pending_projects: i64,
    /// The oldest of those changes.
    pub oldest_change_at: Option<DateTime<Utc>>,
    /// The start of the last completed platform pass; `None` before the first.
    pub watermark: Option<DateTime<Utc>>,
    /// When this was measured.
    pub checked_at: DateTime<Utc>,
}

/// The lag over every project: cheap enough to poll ([`Depth::Timestamps`]). Runs in its own
/// transaction on `conn` (the session setting of [`changed_since`] is local to it).
pub async fn sync_status(conn: &mut PgConnection) -> Result<SyncStatus, ControlError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let filter = ProjectFilter::default();
    let pass = last_pass(&mut tx, &filter).await?;
    let checked_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let status = match pass {
        Some(pass) => {
            let changes =
                changed_since(&mut tx, Some(pass.started_at), &filter, Depth::Timestamps).await?;
            SyncStatus {
                pending_projects: changes.projects.len() as i64,
                oldest_change_at: changes.oldest_change_at,
                watermark: Some(pass.started_at),
                checked_at,
            }
        }
        None => {
            let (pending, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                "SELECT count(*), min(p.created_at) FROM projects p WHERE p.status <> 'archived' \
                   AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m \
                                    WHERE m.legacy_table = 'projects' AND m.legacy_id = p.id)",
            )
            .fetch_one(&mut *tx)
            .await?;
            SyncStatus {
                pending_projects: pending,
                oldest_change_at: oldest,
                watermark: None,
                checked_at,
            }
        }
    };
    tx.commit().await?;
    Ok(status)
}

/// Live runs still active (`cutover check`), oldest first: (run, status).
pub async fn active_runs(conn: &mut PgConnection) -> Result<Vec<(Uuid, String)>, ControlError> {
    let sql = format!(
        "SELECT id, status FROM migration_runs WHERE status IN ({}) AND NOT dry_run ORDER BY created_at",
        ontofleet_core::sql_list(ontofleet_core::RunStatus::ACTIVE)
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?)
}

/// Projects whose latest item (over every live run) failed or was skipped, counted by that
/// item's run: what the target is missing until an operator retries or fixes them.
pub async fn unresolved_items(conn: &mut PgConnection) -> Result<Vec<(Uuid, i64)>, ControlError> {
    Ok(sqlx::query_as(
        "SELECT run_id, count(*) FROM ( \
           SELECT DISTINCT ON (i.project_id) i.project_id, i.run_id, i.status \
             FROM migration_run_items i JOIN migration_runs r ON r.id = i.run_id \
            WHERE NOT r.dry_run ORDER BY i.project_id, r.created_at DESC) latest \
          WHERE status IN ('failed', 'skipped') GROUP BY run_id ORDER BY run_id",
    )
    .fetch_all(conn)
    .await?)
}

/// The migrated projects a validation covers after the pass `run_id` — every project mapped and
/// still in the source, archived ones only if that pass included them — and whether that pass
/// migrated done tasks.
pub async fn migrated_projects(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<(Vec<Uuid>, bool), ControlError> {
    let (include_archived, include_done): (bool, bool) = sqlx::query_as(
        "SELECT coalesce((options ->> 'include_archived')::boolean, false), \
                coalesce((options ->> 'include_completed_tasks')::boolean, false) \
           FROM migration_runs WHERE id = $1",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or((false, false));
    let projects = sqlx::query_scalar(
        "SELECT m.legacy_id FROM legacy_entity_mappings m JOIN projects p ON p.id = m.legacy_id \
          WHERE m.legacy_table = 'projects' AND m.deleted_at IS NULL AND ($1 OR p.status <> 'archived') \
          ORDER BY 1",
    )
    .bind(include_archived)
    .fetch_all(conn)
    .await?;
    Ok((projects, include_done))
}
