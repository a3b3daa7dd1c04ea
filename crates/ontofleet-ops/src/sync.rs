//! Catch-up and cut-over (SPEC §15): `sync status` (the lag), `cutover check` (is there
//! anything left to do), and one pass of `follow`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontofleet_control::sync::{Depth, ProjectFilter};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;
use crate::runs::RunView;

pub use ontofleet_control::sync::SyncStatus;

/// `sync status`: projects with changes the target does not have yet and the oldest such
/// change (timestamped changes since the last completed platform pass, and projects deleted
/// whole; rows hard-deleted inside a project are found by the next pass and `cutover check`).
pub async fn status(pool: &PgPool) -> Result<SyncStatus, OpsError> {
    let mut conn = pool.acquire().await?;
    Ok(ontofleet_control::sync::sync_status(&mut conn).await?)
}

/// What stands between the target and the cut-over.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Blocker {
    /// `no_pass`, `active_run`, `pending_changes`, `unresolved_items`, `validation`, `lock_held`.
    pub kind: String,
    /// What is wrong.
    pub message: String,
    /// The command that clears it.
    pub command: String,
}

/// The response of `cutover check`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cutover {
    /// Nothing is left to do: the application can switch to the ontology.
    pub ready: bool,
    /// Everything that is not done yet (empty when ready).
    pub blockers: Vec<Blocker>,
    /// The last completed platform pass (the watermark of the pending changes).
    pub last_pass: Option<ontofleet_control::sync::Pass>,
    /// Projects with changes since it (rows hard-deleted and links removed included).
    pub pending_projects: i64,
    /// Migrated projects validated, and their mismatches.
    pub validated_projects: i64,
    /// Mismatches found by that validation.
    pub mismatches: i64,
    /// When this was checked.
    pub checked_at: DateTime<Utc>,
}

/// `cutover check` (SPEC §15): ready only when no run is active, no change is pending (the
/// ledger's shapes included), no failed or skipped item is left unresolved (a project whose
/// latest item failed or was skipped), the migrated projects validate without mismatch and the
/// platform lock is free. Read-only.
pub async fn cutover_check(pool: &PgPool) -> Result<Cutover, OpsError> {
    let mut conn = pool.acquire().await?;
    let checked_at: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *conn)
        .await?;
    let mut blockers = Vec::new();
    let mut block = |kind: &str, message: String, command: String| {
        blockers.push(Blocker {
            kind: kind.to_owned(),
            message,
            command,
        });
    };
    let active = ontofleet_control::sync::active_runs(&mut conn).await?;
    for run in &active {
        block(
            "active_run",
            format!("run {} is {}", run.0, run.1),
            format!(
                "ontofleet run watch {} (or ontofleet run cancel {})",
                run.0, run.0
            ),
        );
    }
    let lock = ontofleet_control::lock_status(&mut conn).await?;
    // A lock held by an active run is that run's blocker; one held by nothing active is stuck.
    if lock.is_locked
        && !lock
            .run_id
            .is_some_and(|r| active.iter().any(|(a, _)| *a == r))
    {
        block(
            "lock_held",
            format!(
                "the platform lock is held by {}",
                lock.holder.as_deref().unwrap_or("?")
            ),
            "wait for its run, or ontofleet lock release".to_owned(),
        );
    }
    let filter = ProjectFilter::default();
    let last_pass = ontofleet_control::sync::last_pass(&mut conn, &filter).await?;
    let mut pending_projects = 0;
    let (mut validated_projects, mut mismatches) = (0, 0);
    match last_pass {
        None => block(
            "no_pass",
            "no platform pass has completed yet".to_owned(),
            "ontofleet run start --all --watch".to_owned(),
        ),
        Some(pass) => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let changes = ontofleet_control::sync::changed_since(
                &mut tx,
                Some(pass.started_at),
                &filter,
                Depth::Ledger,
            )
            .await?;
            tx.commit().await?;
            pending_projects = changes.projects.len() as i64;
            if pending_projects > 0 {
                block(
                    "pending_changes",
                    format!(
                        "{pending_projects} project(s) changed since the last pass (run {}, started {}){}",
                        pass.run_id,
                        pass.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        changes
                            .oldest_change_at
                            .map(|t| format!(
                                "; oldest change {}",
                                t.format("%Y-%m-%d %H:%M:%S UTC")
                            ))
                            .unwrap_or_default()
                    ),
                    "ontofleet run start --all --changed-since last --watch".to_owned(),
                );
            }
        }
    }
    for (run_id, n) in ontofleet_control::sync::unresolved_items(&mut conn).await? {
        block(
            "unresolved_items",
            format!("{n} project(s) whose latest item in run {run_id} failed or was skipped"),
            format!(
                "ontofleet jobs list --run {run_id} --status failed, then ontofleet jobs retry --run {run_id}"
            ),
        );
    }
    if let Some(pass) = last_pass {
        let (projects, include_done) =
            ontofleet_control::sync::migrated_projects(&mut conn, pass.run_id).await?;
        let v = ontofleet_control::validate::validate_projects(&mut conn, &projects, include_done)
            .await?;
        validated_projects = v.projects;
        mismatches = v.mismatches();
        if mismatches > 0 {
            let kinds: Vec<String> = [
                (
                    "missing",
                    v.entities.values().map(|e| e.missing).sum::<i64>(),
                ),
                ("dangling", v.entities.values().map(|e| e.dangling).sum()),
                ("missing edges", v.edges_missing),
                ("orphans", v.orphans),
                ("stale", v.stale),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
            block(
                "validation",
                format!(
                    "{mismatches} mismatch(es) in the {validated_projects} migrated project(s): {}",
                    kinds.join(", ")
                ),
                "ontofleet run start --all --resync --watch (a full pass), then check again"
                    .to_owned(),
            );
        }
    }
    Ok(Cutover {
        ready: blockers.is_empty(),
        blockers,
        last_pass,
        pending_projects,
        validated_projects,
        mismatches,
        checked_at,
    })
}

/// One pass of `follow`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowPass {
    /// The lag before the pass.
    pub before: SyncStatus,
    /// The pass's run, when there was anything to do.
    pub run: Option<RunView>,
    /// The lag after it.
    pub after: SyncStatus,
    /// The run paused itself on its error budget: `follow` stops.
    pub budget_exhausted: bool,
}

/// How `follow` starts its passes.
#[derive(Debug, Clone)]
pub struct FollowRequest {
    /// Who starts them (recorded on each run).
    pub initiated_by: String,
    /// `--allow-mass-delete` for every pass.
    pub allow_mass_delete: bool,
}

/// Whether anything is pending for a catch-up pass over every project (the pass's own selection,
/// without starting it).
async fn anything_pending(pool: &PgPool, overlap: Duration) -> Result<bool, OpsError> {
    let mut tx = pool.begin().await?;
    let filter = ProjectFilter::default();
    let Some(pass) = ontofleet_control::sync::last_pass(&mut tx, &filter).await? else {
        return Ok(true);
    };
    let since =
        pass.started_at - chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::zero());
    let changes =
        ontofleet_control::sync::changed_since(&mut tx, Some(since), &filter, Depth::Ledger)
            .await?;
    tx.rollback().await?;
    Ok(!changes.projects.is_empty())
}

/// One catch-up pass over every project (`run start --all --changed-since last`, or a full
/// first pass when none has completed), followed to its end: the run finishes, or pauses itself
/// on its error budget. No run is started when nothing is pending. `progress` sees the run as
/// it goes.
pub async fn follow_pass(
    pool: &PgPool,
    req: &FollowRequest,
    producer: &ontofleet_producer::ProducerSettings,
    actor: &Actor,
    mut progress: impl FnMut(&RunView),
) -> Result<FollowPass, OpsError> {
    let before = status(pool).await?;
    if !anything_pending(pool, producer.incremental_overlap).await? {
        return Ok(FollowPass {
            after: before.clone(),
            before,
            run: None,
            budget_exhausted: false,
        });
    }
    let first = before.watermark.is_none();
    let request = ontofleet_producer::RunRequest {
        selection: ontofleet_producer::Selection::All,
        include_archived: false,
        include_completed_tasks: false,
        resync: false,
        dry_run: false,
        force: false,
        initiated_by: req.initiated_by.clone(),
        error_budget: None,
        changed_since: (!first).then_some(ontofleet_producer::ChangedSince::Last),
        allow_mass_delete: req.allow_mass_delete,
    };
    let started = crate::runs::start(pool, &request, producer, actor).await?;
    let (run, budget_exhausted) = wait(pool, started.run_id, &mut progress).await?;
    let after = status(pool).await?;
    Ok(FollowPass {
        before,
        run: Some(run),
        after,
        budget_exhausted,
    })
}

/// Follow `run_id` until it is terminal or paused by its error budget (`true`).
async fn wait(
    pool: &PgPool,
    run_id: Uuid,
    progress: &mut impl FnMut(&RunView),
) -> Result<(RunView, bool), OpsError> {
    let mut listener = crate::runs::completion_listener(pool).await;
    loop {
        let run: RunView = crate::runs::get(pool, run_id).await?.into();
        progress(&run);
        if !run.is_active() {
            return Ok((run, false));
        }
        if run.status == "paused" {
            let control = crate::controls::control_view(pool, run_id, &run.status).await?;
            if control.pause_kind.as_deref() == Some("error_budget") {
                return Ok((run, true));
            }
        }
        crate::runs::wait_for_completion(&mut listener, Duration::from_millis(500)).await;
    }
}
