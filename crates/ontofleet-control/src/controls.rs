//! Run controls (SPEC §14): pause and resume, fleet-wide limits and the error budget. Everything
//! is a row the claims read (`migration_runs`), so a control holds for one worker or forty and
//! survives every restart; the caller's transaction also carries the audit row.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ControlError;

/// Why a run is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    /// By an operator (`run pause`).
    Operator,
    /// By its error budget.
    ErrorBudget,
}

impl PauseKind {
    /// `operator` or `error_budget`, as stored and as the metrics' reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::ErrorBudget => "error_budget",
        }
    }
}

/// The run's status before a pause or a resume, when it applied.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Changed {
    /// The status the change found.
    pub previous_status: String,
    /// When the pause began (for a resume: the one that ended).
    pub paused_at: Option<DateTime<Utc>>,
}

/// Pause a `pending` or `running` run: no job of it starts from now on (claims skip it, and a
/// job claimed before finds it paused when it would start and goes back unstarted); jobs in
/// flight finish. `None` when the run is not in a state that can be paused.
pub async fn pause(
    conn: &mut PgConnection,
    run_id: Uuid,
    kind: PauseKind,
    by: &str,
    reason: &str,
) -> Result<Option<Changed>, ControlError> {
    let changed: Option<Changed> = sqlx::query_as(
        "WITH old AS (SELECT status FROM migration_runs WHERE id = $1 FOR UPDATE), \
              upd AS (UPDATE migration_runs r SET status = 'paused', pause_kind = $2, paused_by = $3, \
                             pause_reason = $4, paused_at = clock_timestamp() \
                        FROM old WHERE r.id = $1 AND old.status IN ('pending', 'running') \
                      RETURNING old.status AS previous_status, r.paused_at), \
              log AS (INSERT INTO migration_run_pauses (run_id, started_at, kind, paused_by, reason) \
                      SELECT $1, paused_at, $2, $3, $4 FROM upd) \
         SELECT previous_status, paused_at FROM upd",
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(by)
    .bind(reason)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(changed)
}

/// Resume a paused run: its jobs are claimed again, exactly what was left. `None` when it was
/// not paused. The caller wakes the workers.
pub async fn resume(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<Option<Changed>, ControlError> {
    let changed: Option<Changed> = sqlx::query_as(
        "WITH upd AS (UPDATE migration_runs SET status = 'running', pause_kind = NULL, paused_by = NULL, \
                             pause_reason = NULL, paused_at = NULL, recent_outcomes = B'' \
                       WHERE id = $1 AND status = 'paused' RETURNING id), \
              log AS (UPDATE migration_run_pauses SET ended_at = clock_timestamp() \
                       WHERE run_id = $1 AND ended_at IS NULL AND EXISTS (SELECT 1 FROM upd) \
                      RETURNING started_at) \
         SELECT 'paused'::text AS previous_status, (SELECT max(started_at) FROM log) AS paused_at FROM upd",
    )
    .bind(run_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(changed)
}

/// End the open pause of a run that leaves `paused` another way (cancelled).
pub(crate) async fn end_pause(conn: &mut PgConnection, run_id: Uuid) -> Result<(), ControlError> {
    sqlx::query(
        "UPDATE migration_run_pauses SET ended_at = clock_timestamp() WHERE run_id = $1 AND ended_at IS NULL",
    )
    .bind(run_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A run's fleet-wide limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Limits {
    /// Items of the run running at once across the fleet.
    pub max_inflight: Option<i32>,
    /// Projects started per second (over any 10 s window).
    pub max_rate: Option<i32>,
    /// Until when (`None`: until cleared).
    pub until: Option<DateTime<Utc>>,
}

/// Set (or, with all `None`, clear) an active run's limits; they take effect at the next claim.
/// Returns the limits before, or `None` when the run is not active.
pub async fn set_limits(
    conn: &mut PgConnection,
    run_id: Uuid,
    limits: Limits,
    by: &str,
) -> Result<Option<Limits>, ControlError> {
    let before: Option<Limits> = sqlx::query_as(
        "WITH old AS (SELECT max_inflight, max_rate, limit_until FROM migration_runs \
                       WHERE id = $1 AND status IN ('pending', 'running', 'paused', 'cancelling') FOR UPDATE), \
              upd AS (UPDATE migration_runs SET max_inflight = $2, max_rate = $3, limit_until = $4, \
                             limit_set_by = CASE WHEN $2::int IS NULL AND $3::int IS NULL THEN NULL ELSE $5 END, \
                             limit_set_at = CASE WHEN $2::int IS NULL AND $3::int IS NULL THEN NULL ELSE clock_timestamp() END \
                       WHERE id = $1 AND EXISTS (SELECT 1 FROM old) RETURNING id) \
         SELECT old.max_inflight, old.max_rate, old.limit_until AS until FROM old, upd",
    )
    .bind(run_id)
    .bind(limits.max_inflight)
    .bind(limits.max_rate)
    .bind(limits.until)
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(before)
}

/// The error budget spent: the run pauses itself (an item commit found it), naming the share
/// and the categories of the last `window` finished items. Runs in the item's transaction.
pub(crate) async fn spend_error_budget(
    conn: &mut PgConnection,
    run_id: Uuid,
    rate: f64,
    window: i32,
    failures: i64,
) -> Result<(), ControlError> {
    let by_category: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT error_category, count(*) FROM ( \
            SELECT status, error_category FROM migration_run_items \
             WHERE run_id = $1 AND status IN ('succeeded', 'partial', 'failed', 'skipped') \
             ORDER BY finished_at DESC NULLS LAST LIMIT $2) last \
          WHERE status IN ('failed', 'skipped') GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    .bind(run_id)
    .bind(i64::from(window))
    .fetch_all(&mut *conn)
    .await?;
    let categories = by_category
        .iter()
        .map(|(c, n)| format!("{}: {n}", c.as_deref().unwrap_or("none")))
        .collect::<Vec<_>>()
        .join(", ");
    let share = failures as f64 * 100.0 / f64::from(window.max(1));
    let reason = format!(
        "error budget: {share:.0} % of the last {window} items failed ({categories}; budget {rate} %)"
    );
    tracing::warn!(%run_id, %reason, "run paused by its error budget");
    pause(
        conn,
        run_id,
        PauseKind::ErrorBudget,
        "error budget",
        &reason,
    )
    .await?;
    Ok(())
}

/// What a run's controls are now, for `run show` and the dashboard.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ControlState {
    /// `operator` or `error_budget` while paused.
    pub pause_kind: Option<String>,
    /// Who paused it.
    pub paused_by: Option<String>,
    /// Why.
    pub pause_reason: Option<String>,
    /// Since when.
    pub paused_at: Option<DateTime<Utc>>,
    /// In-flight limit (unexpired or not: see `limit_until`).
    pub max_inflight: Option<i32>,
    /// Rate limit.
    pub max_rate: Option<i32>,
    /// Until when the limits hold.
    pub limit_until: Option<DateTime<Utc>>,
    /// Who set them.
    pub limit_set_by: Option<String>,
    /// The error budget (%), if any.
    pub max_failure_rate: Option<f64>,
    /// Its window.
    pub failure_window: Option<i32>,
    /// Seconds spent paused, by kind (`{"operator": 12.5}`), open pauses counted to now.
    pub paused_secs: Value,
    /// Seconds the governor held the fleet below `ok` during the run, by reason.
    pub throttled_secs: Value,
}

/// A run's controls and the time it spent paused and throttled.
pub async fn control_state(
    conn: &mut PgConnection,
    run_id: Uuid,
) -> Result<Option<ControlState>, ControlError> {
    Ok(sqlx::query_as(
        "SELECT r.pause_kind, r.paused_by, r.pause_reason, r.paused_at, r.max_inflight, r.max_rate, r.limit_until, \
                r.limit_set_by, r.max_failure_rate, r.failure_window, \
                coalesce((SELECT jsonb_object_agg(kind, secs) FROM ( \
                    SELECT kind, round(sum(extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at))::numeric, 1)::float8 AS secs \
                      FROM migration_run_pauses WHERE run_id = r.id GROUP BY kind) p), '{}'::jsonb) AS paused_secs, \
                coalesce((SELECT jsonb_object_agg(reason, secs) FROM ( \
                    SELECT coalesce(g.reasons -> 0 ->> 'metric_reason', g.level) AS reason, \
                           round(sum(extract(epoch FROM least(coalesce(g.ended_at, clock_timestamp()), coalesce(r.finished_at, clock_timestamp())) \
                                                      - greatest(g.started_at, coalesce(r.started_at, r.created_at))))::numeric, 1)::float8 AS secs \
                      FROM migration_governor_log g \
                     WHERE g.started_at < coalesce(r.finished_at, clock_timestamp()) \
                       AND coalesce(g.ended_at, clock_timestamp()) > coalesce(r.started_at, r.created_at) \
                     GROUP BY 1) t), '{}'::jsonb) AS throttled_secs \
           FROM migration_runs r WHERE r.id = $1",
    )
    .bind(run_id)
    .fetch_optional(conn)
    .await?)
}
