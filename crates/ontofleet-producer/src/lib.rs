//! Plans a run: selects the legacy projects of the requested scope, then creates the run, its
//! items and one queue job per project in one transaction (bulk inserts), taking the platform
//! lock for platform-wide runs. A run with zero projects completes at once. The operator's
//! `jobs retry`, `jobs kill` and `enqueue` ([`operator`]) change runs the same way: items, run
//! and queue rows in one transaction.

pub mod operator;
pub mod statistics;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ontofleet_control::sync::{Depth, ProjectFilter};
use ontofleet_core::{ProjectJob, RetryPolicies, RunScope, RunStatus};
use ontofleet_db::ledger::{self, NewRun};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Which projects a run covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every project.
    All,
    /// One user's projects.
    User(Uuid),
    /// An explicit list.
    Projects(Vec<Uuid>),
}

impl Selection {
    fn scope(&self) -> RunScope {
        match self {
            Self::All => RunScope::Platform,
            Self::User(_) => RunScope::User,
            Self::Projects(_) => RunScope::Projects,
        }
    }

    /// The projects it names, for the catch-up queries.
    pub fn filter(&self, include_archived: bool) -> ProjectFilter {
        let (user, projects) = match self {
            Self::All => (None, None),
            Self::User(u) => (Some(*u), None),
            Self::Projects(p) => (None, Some(p.clone())),
        };
        ProjectFilter {
            user,
            projects,
            include_archived,
        }
    }

    /// The selection as the run's options and the audit record it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::All => json!({"all": true}),
            Self::User(u) => json!({"user": u}),
            Self::Projects(p) => {
                let mut ids = p.clone();
                ids.sort();
                ids.dedup();
                json!({"projects": ids})
            }
        }
    }
}

/// A request to start a run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Scope.
    pub selection: Selection,
    /// Include archived projects.
    pub include_archived: bool,
    /// Include `done` tasks.
    pub include_completed_tasks: bool,
    /// Include already-migrated projects; the ledger decides per entity.
    pub resync: bool,
    /// Preview through the queue; no ontology, mapping or log writes.
    pub dry_run: bool,
    /// Start a scoped run even while a platform run holds the lock.
    pub force: bool,
    /// Who asked (recorded on the run).
    pub initiated_by: String,
    /// The run's error budget; `None`: the settings' default (`[runs]`).
    pub error_budget: Option<ErrorBudget>,
    /// A catch-up pass: only the projects that changed since then (SPEC §15).
    pub changed_since: Option<ChangedSince>,
    /// Let a project's pass delete more than `runs.max_delete_share` of its rows.
    pub allow_mass_delete: bool,
}

/// `run start --changed-since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedSince {
    /// The start of the last completed pass covering the selection, minus
    /// `runs.incremental_overlap`.
    Last,
    /// An explicit watermark.
    At(DateTime<Utc>),
}

/// A run's error budget (SPEC §14): it pauses itself when more than `max_failure_rate` % of its
/// last `failure_window` finished items failed or were skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorBudget {
    /// Percent, (0, 100]; 0 given by an operator means no budget.
    pub max_failure_rate: f64,
    /// Finished items looked at.
    pub failure_window: i32,
}

impl ErrorBudget {
    /// The budget to store: `None` for a rate of 0 (none).
    pub fn effective(self) -> Option<Self> {
        (self.max_failure_rate > 0.0).then_some(self)
    }
}

/// Producer settings.
#[derive(Debug, Clone, Copy)]
pub struct ProducerSettings {
    /// Lease of the platform lock.
    pub lease: Duration,
    /// Retry policy; the queue row's `max_attempts` must cover it.
    pub policies: RetryPolicies,
    /// `ANALYZE` legacy tables with missing or stale statistics before enqueuing
    /// ([`statistics::refresh_legacy_statistics`]).
    pub analyze_legacy_tables: bool,
    /// The error budget of runs started without one (`[runs]`).
    pub error_budget: Option<ErrorBudget>,
    /// `runs.incremental_overlap`: how far before the last pass's start `--changed-since last`
    /// looks (clock skew, transactions still open then).
    pub incremental_overlap: Duration,
    /// `runs.max_delete_share` (%): the mass-delete guard, stored in each run's options.
    pub max_delete_share: f64,
}

/// A started run.
#[derive(Debug, Clone)]
pub struct StartedRun {
    /// Run id.
    pub run_id: Uuid,
    /// Items enqueued.
    pub total_items: usize,
    /// Status after the producer's transaction.
    pub status: String,
    /// A run whose expired lease was taken over (now cancelled).
    pub superseded: Option<Uuid>,
}

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    /// The platform lock is held.
    #[error(transparent)]
    LockHeld(ontofleet_control::LockError),
    /// An equivalent run is already active.
    #[error(
        "run {0} with the same scope is still active; watch it with `ontofleet run watch {0}` or cancel it first"
    )]
    AlreadyActive(Uuid),
    /// A referenced user or project does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `--changed-since last`, but no completed pass covers the selection.
    #[error(
        "no completed run covers these projects yet, so there is no `last` watermark: run a full pass first (`ontofleet run start --all`) or give --changed-since a timestamp"
    )]
    NoPass,
    /// Database failure.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Ledger failure.
    #[error(transparent)]
    Db(#[from] ontofleet_db::DbError),
    /// Queue failure.
    #[error(transparent)]
    Queue(#[from] ontofleet_queue::QueueError),
    /// Control failure.
    #[error(transparent)]
    Control(#[from] ontofleet_control::ControlError),
    /// An operator change to a run was refused.
    #[error(transparent)]
    Operator(ontofleet_control::OperatorError),
    /// No job has this id.
    #[error("job {0} does not exist; list jobs with `ontofleet jobs list`")]
    UnknownJob(String),
    /// The jobs a retry preview selected are no longer the ones the filter selects.
    #[error(
        "the selection changed since its preview (jobs finished, were retried or failed since); preview it again"
    )]
    SelectionChanged,
    /// The job's item is not finished, or succeeded.
    #[error("job {job_id} cannot be retried: {reason}")]
    NotRetryable {
        /// The job.
        job_id: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The job is not waiting.
    #[error("job {job_id} cannot be killed: {reason}")]
    NotKillable {
        /// The job.
        job_id: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The project already waits or runs in the run.
    #[error(
        "project {project_id} is already {status} in run {run_id}; watch it with `ontofleet run watch {run_id}`"
    )]
    AlreadyQueued {
        /// The project.
        project_id: Uuid,
        /// The run.
        run_id: Uuid,
        /// Its item status.
        status: String,
    },
}

impl From<ontofleet_control::OperatorError> for ProducerError {
    fn from(e: ontofleet_control::OperatorError) -> Self {
        match e {
            ontofleet_control::OperatorError::Control(c) => Self::Control(c),
            other => Self::Operator(other),
        }
    }
}

/// Extra queue attempts beyond the policy, absorbing the +1 that apalis adds on each orphan or
/// shutdown requeue; the policy, not the queue, decides when to give up.
const QUEUE_ATTEMPT_HEADROOM: u32 = 16;

/// The queue row's `max_attempts` for a project job under `policies`.
pub fn queue_max_attempts(policies: &RetryPolicies) -> u32 {
    policies.max_attempts() + QUEUE_ATTEMPT_HEADROOM
}

/// Whether an insert into `migration_runs` failed on the one-active-platform-run index.
fn is_second_platform_run(e: &ontofleet_db::DbError) -> bool {
    match e {
        ontofleet_db::DbError::Sqlx(sqlx::Error::Database(d)) => {
            d.is_unique_violation() && d.constraint() == Some("migration_runs_one_active_platform")
        }
        _ => false,
    }
}

/// Start a run: everything in one transaction, so a crash leaves either the whole run or nothing.
/// `audit` is written in that transaction with the number of items.
pub async fn start_run(
    pool: &PgPool,
    req: &RunRequest,
    settings: &ProducerSettings,
    audit: Option<&ontofleet_db::admin::AuditEntry>,
) -> Result<StartedRun, ProducerError> {
    let scope = req.selection.scope();
    let selection = req.selection.to_json();
    if settings.analyze_legacy_tables && !req.dry_run {
        statistics::refresh_legacy_statistics(pool).await?;
    }
    let mut tx = pool.begin().await?;

    // Platform runs are arbitrated by the lock alone: an active platform run with an expired
    // lease must be taken over, not reported as a duplicate.
    if !req.dry_run && scope != RunScope::Platform {
        let sql = format!(
            "SELECT id FROM migration_runs WHERE status IN ({}) AND NOT dry_run \
               AND scope = $1 AND options -> 'selection' = $2 LIMIT 1",
            ontofleet_core::sql_list(RunStatus::ACTIVE)
        );
        let active: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(scope.as_str())
            .bind(&selection)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(id) = active {
            return Err(ProducerError::AlreadyActive(id));
        }
    }
    check_selection(&mut tx, &req.selection).await?;

    let run_id = Uuid::new_v4();
    let options = json!({
        "selection": selection,
        "include_archived": req.include_archived,
        "include_completed_tasks": req.include_completed_tasks,
        "resync": req.resync,
        "force": req.force,
        "allow_mass_delete": req.allow_mass_delete,
        "max_delete_share": settings.max_delete_share,
    });
    // The lock first: a concurrent platform start waits on the lock row and then sees it held;
    // an expired holder is cancelled before this run's row exists (one active platform run).
    let mut superseded = None;
    let mut token = None;
    if scope == RunScope::Platform && !req.dry_run {
        let holder = format!("{} (run {run_id})", req.initiated_by);
        let acquired =
            ontofleet_control::acquire_platform_lock(&mut tx, run_id, &holder, settings.lease)
                .await
                .map_err(|e| match e {
                    ontofleet_control::LockError::Control(c) => ProducerError::Control(c),
                    held => ProducerError::LockHeld(held),
                })?;
        token = Some(acquired.token);
        if let Some(old) = acquired.previous_run.filter(|old| *old != run_id) {
            ontofleet_queue::kill_jobs_of_run(&mut tx, old).await?;
            ontofleet_control::cancel_run(&mut tx, old).await?;
            tracing::warn!(%old, new = %run_id, "took over an expired platform lock; the old run is cancelled");
            superseded = Some(old);
        }
    }
    let inserted = ledger::insert_run(
        &mut tx,
        &NewRun {
            id: run_id,
            scope: scope.as_str(),
            dry_run: req.dry_run,
            options,
            initiated_by: &req.initiated_by,
            lock_token: token,
            error_budget: req
                .error_budget
                .or(settings.error_budget)
                .and_then(ErrorBudget::effective)
                .map(|b| (b.max_failure_rate, b.failure_window)),
        },
    )
    .await;
    if let Err(e) = inserted {
        // Backstop: the partial unique index admits one active platform run. Should two platform
        // starts ever get past the lock, the second insert fails here; for the operator that
        // is the held lock (exit 4).
        if is_second_platform_run(&e) {
            drop(tx);
            let mut conn = pool.acquire().await?;
            return Err(ProducerError::LockHeld(
                ontofleet_control::lock_status(&mut conn).await?.held(),
            ));
        }
        return Err(e.into());
    }

    if scope != RunScope::Platform && !req.dry_run && !req.force {
        let status = ontofleet_control::lock_status(&mut tx).await?;
        if status.is_locked {
            return Err(ProducerError::LockHeld(status.held()));
        }
    }

    let (project_ids, catch_up) = match req.changed_since {
        None => (
            select_projects(&mut tx, &req.selection, req.include_archived, req.resync).await?,
            json!({}),
        ),
        Some(since) => {
            let filter = req.selection.filter(req.include_archived);
            let (watermark, after) = match since {
                ChangedSince::At(at) => (at, None),
                ChangedSince::Last => {
                    let pass = ontofleet_control::sync::last_pass(&mut tx, &filter)
                        .await?
                        .ok_or(ProducerError::NoPass)?;
                    let overlap = chrono::Duration::from_std(settings.incremental_overlap)
                        .unwrap_or_else(|_| chrono::Duration::zero());
                    (pass.started_at - overlap, Some(pass.run_id))
                }
            };
            let changes = ontofleet_control::sync::changed_since(
                &mut tx,
                Some(watermark),
                &filter,
                Depth::Ledger,
            )
            .await?;
            let requested = match since {
                ChangedSince::Last => json!("last"),
                ChangedSince::At(at) => json!(at),
            };
            (
                changes.projects,
                json!({"changed_since": {
                    "requested": requested,
                    "watermark": watermark,
                    "after_run": after,
                    "oldest_change_at": changes.oldest_change_at,
                }}),
            )
        }
    };

    let jobs: Vec<ProjectJob> = project_ids
        .iter()
        .map(|p| ProjectJob::new(run_id, *p))
        .collect();
    let max_attempts = queue_max_attempts(&settings.policies);
    let job_ids = ontofleet_queue::enqueue_projects(&mut tx, &jobs, max_attempts).await?;
    ledger::insert_items(&mut tx, run_id, &project_ids, &job_ids).await?;
    let status: String = sqlx::query_scalar(
        "UPDATE migration_runs SET status = 'running', started_at = now(), total_items = $2, options = options || $3 \
          WHERE id = $1 RETURNING status",
    )
    .bind(run_id)
    .bind(project_ids.len() as i32)
    .bind(&catch_up)
    .fetch_one(&mut *tx)
    .await?;
    let status = match ontofleet_control::finish_run_if_done(&mut tx, run_id).await? {
        Some(done) => done.as_str().to_owned(),
        None => status,
    };
    if let (Some(token), "running") = (token, status.as_str()) {
        // Enqueueing a large run can outlast the lease it started with.
        ontofleet_control::renew(&mut tx, run_id, token, settings.lease).await?;
    }
    if let Some(entry) = audit {
        let mut entry = entry.clone();
        entry.filter["run_id"] = serde_json::json!(run_id);
        ontofleet_db::admin::record_audit(&mut tx, &entry, Some(project_ids.len() as i64)).await?;
    }
    tx.commit().await?;
    tracing::info!(%run_id, scope = scope.as_str(), items = project_ids.len(), dry_run = req.dry_run, "run started");
    Ok(StartedRun {
        run_id,
        total_items: project_ids.len(),
        status,
        superseded,
    })
}

/// Refuse a selection that names a legacy user or project that does not exist
/// ([`ProducerError::NotFound`]); `--all` always passes.
pub async fn check_selection(
    conn: &mut PgConnection,
    selection: &Selection,
) -> Result<(), ProducerError> {
    match selection {
        Selection::User(u) => {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)")
                    .bind(u)
                    .fetch_one(&mut *conn)
                    .await?;
            if !exists {
                return Err(ProducerError::NotFound(format!(
                    "user {u} does not exist in the legacy users table"
                )));
            }
        }
        Selection::Projects(ids) => {
            let missing: Vec<Uuid> = sqlx::query_scalar(
                "SELECT i FROM unnest($1::uuid[]) AS i WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = i)",
            )
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
            if let Some(first) = missing.first() {
                return Err(ProducerError::NotFound(format!(
                    "project {first} does not exist in the legacy projects table ({} unknown id(s))",
                    missing.len()
                )));
            }
        }
        Selection::All => {}
    }
    Ok(())
}

/// The legacy projects a run over `selection` covers (SPEC §4.2), ordered by id: archived ones
/// only with `include_archived`, already-migrated ones (a project mapping exists) only with
/// `resync` — and then also migrated projects whose legacy row is gone, whose pass deletes
/// them from the target (SPEC §15). `run start` enqueues exactly these; `run preview`
/// previews them.
pub async fn select_projects(
    conn: &mut PgConnection,
    selection: &Selection,
    include_archived: bool,
    resync: bool,
) -> Result<Vec<Uuid>, sqlx::Error> {
    let (user, projects) = match selection {
        Selection::All => (None, None),
        Selection::User(u) => (Some(*u), None),
        Selection::Projects(p) => (None, Some(p.clone())),
    };
    sqlx::query_scalar(
        "SELECT p.id FROM projects p \
          WHERE ($1::uuid IS NULL OR p.user_id = $1) \
            AND ($2::uuid[] IS NULL OR p.id = ANY($2)) \
            AND ($3 OR p.status <> 'archived') \
            AND ($4 OR NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m \
                                    WHERE m.legacy_table = 'projects' AND m.legacy_id = p.id)) \
         UNION \
         SELECT m.legacy_id FROM legacy_entity_mappings m JOIN onto_projects o ON o.id = m.onto_id \
           JOIN onto_actors a ON a.id = o.created_by \
          WHERE $4 AND m.legacy_table = 'projects' AND m.deleted_at IS NULL \
            AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = m.legacy_id) \
            AND ($1::uuid IS NULL OR a.user_id = $1) \
            AND ($2::uuid[] IS NULL OR m.legacy_id = ANY($2)) \
          ORDER BY 1",
    )
    .bind(user)
    .bind(projects)
    .bind(include_archived)
    .bind(resync)
    .fetch_all(&mut *conn)
    .await
}
