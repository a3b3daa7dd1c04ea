//! `run pause`, `run resume` and `run limit` (SPEC §14): persisted in the run row the claims
//! read, audited in the same transaction, and shown by `run show` (`control`) with the time
//! spent paused and throttled.

use chrono::{DateTime, Utc};
use ontofleet_control::controls::{self, Limits, PauseKind};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;
use crate::runs::get;

/// What `run pause` is asked.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why (shown wherever the run is).
    #[serde(default)]
    pub reason: Option<String>,
    /// Also give back at once the jobs claimed by workers but not started yet (never one that
    /// started: those finish).
    #[serde(default)]
    pub now: bool,
}

/// The response of `run pause` and `run resume`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Paused {
    /// The run.
    pub run_id: Uuid,
    /// Its status now (`paused` or `running`).
    pub status: String,
    /// Its status before.
    pub previous_status: String,
    /// Who paused it.
    pub paused_by: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// Since when (the pause that a resume ended, for `run resume`).
    pub paused_at: Option<DateTime<Utc>>,
    /// Claimed-but-unstarted jobs given back (`--now`).
    pub jobs_given_back: u64,
    /// Items still running: they finish.
    pub items_still_running: i64,
}

/// `run pause RUN [--reason] [--now]`.
pub async fn pause(
    pool: &PgPool,
    run_id: Uuid,
    req: &PauseRequest,
    actor: &Actor,
) -> Result<Paused, OpsError> {
    let before = get(pool, run_id).await?;
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("paused by an operator")
        .to_owned();
    if reason.chars().count() > 500 {
        return Err(OpsError::Invalid(
            "the reason is longer than 500 characters".to_owned(),
        ));
    }
    let by = actor.initiated_by();
    let mut tx = pool.begin().await?;
    let changed = controls::pause(&mut tx, run_id, PauseKind::Operator, &by, &reason).await?;
    let Some(changed) = changed else {
        return Err(OpsError::Conflict(match before.status.as_str() {
            "paused" => format!(
                "run {run_id} is already paused by {} since {}: `ontofleet run resume {run_id}`",
                before.paused_by.as_deref().unwrap_or("?"),
                before.paused_at.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
            other => {
                format!("run {run_id} is {other}; only a pending or running run can be paused")
            }
        }));
    };
    let given_back = if req.now {
        ontofleet_queue::admin::give_back_unstarted(&mut tx, run_id).await?
    } else {
        0
    };
    let entry = actor.entry(
        "run.pause",
        json!({"run_id": run_id, "reason": reason, "now": req.now}),
    );
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(given_back as i64)).await?;
    tx.commit().await?;
    let run = get(pool, run_id).await?;
    Ok(Paused {
        run_id,
        status: run.status.clone(),
        previous_status: changed.previous_status,
        paused_by: Some(by),
        reason: Some(reason),
        paused_at: changed.paused_at,
        jobs_given_back: given_back,
        items_still_running: running_items(pool, run_id).await?,
    })
}

/// `run resume RUN`: the run's jobs are claimed again — exactly the items left.
pub async fn resume(pool: &PgPool, run_id: Uuid, actor: &Actor) -> Result<Paused, OpsError> {
    let before = get(pool, run_id).await?;
    let mut tx = pool.begin().await?;
    let Some(changed) = controls::resume(&mut tx, run_id).await? else {
        return Err(OpsError::Conflict(format!(
            "run {run_id} is {}, not paused; nothing to resume",
            before.status
        )));
    };
    let entry = actor.entry("run.resume", json!({"run_id": run_id}));
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(0)).await?;
    // Workers waiting for work hear of it now, not at their next poll.
    ontofleet_queue::admin::wake_run(&mut tx, run_id).await?;
    tx.commit().await?;
    let run = get(pool, run_id).await?;
    Ok(Paused {
        run_id,
        status: run.status,
        previous_status: changed.previous_status,
        paused_by: before.paused_by,
        reason: before.pause_reason,
        paused_at: changed.paused_at,
        jobs_given_back: 0,
        items_still_running: running_items(pool, run_id).await?,
    })
}

async fn running_items(pool: &PgPool, run_id: Uuid) -> Result<i64, OpsError> {
    Ok(crate::runs::items_by_status(pool, run_id)
        .await?
        .iter()
        .filter(|s| s.status == "running")
        .map(|s| s.count)
        .sum())
}

/// What `run limit` is asked.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    /// At most this many items of the run running at once across the fleet.
    #[serde(default)]
    pub max_inflight: Option<i32>,
    /// At most this many projects started per second (over any 10 s window).
    #[serde(default)]
    pub max_rate: Option<i32>,
    /// For this many seconds, then the limits lapse (default: until cleared).
    #[serde(default)]
    pub for_secs: Option<u64>,
    /// Remove the limits.
    #[serde(default)]
    pub clear: bool,
}

/// The response of `run limit`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Limited {
    /// The run.
    pub run_id: Uuid,
    /// The in-flight limit now.
    pub max_inflight: Option<i32>,
    /// The rate limit now.
    pub max_rate: Option<i32>,
    /// Until when.
    pub limit_until: Option<DateTime<Utc>>,
    /// Who set them.
    pub set_by: Option<String>,
    /// The limits before.
    pub previous: Value,
}

/// `run limit RUN [--max-inflight N] [--max-rate N] [--for DURATION] | --clear`: takes effect at
/// the next claim of every worker.
pub async fn limit(
    pool: &PgPool,
    run_id: Uuid,
    req: &LimitRequest,
    actor: &Actor,
) -> Result<Limited, OpsError> {
    let before = get(pool, run_id).await?;
    if req.clear && (req.max_inflight.is_some() || req.max_rate.is_some() || req.for_secs.is_some())
    {
        return Err(OpsError::Invalid(
            "--clear removes the limits: give it alone".to_owned(),
        ));
    }
    if !req.clear && req.max_inflight.is_none() && req.max_rate.is_none() {
        return Err(OpsError::Invalid(
            "give --max-inflight N and/or --max-rate N (or --clear)".to_owned(),
        ));
    }
    for (name, v) in [
        ("max_inflight", req.max_inflight),
        ("max_rate", req.max_rate),
    ] {
        if v.is_some_and(|n| !(1..=100_000).contains(&n)) {
            return Err(OpsError::Invalid(format!(
                "{name} must be between 1 and 100000"
            )));
        }
    }
    if req.for_secs.is_some_and(|s| s == 0 || s > 30 * 86_400) {
        return Err(OpsError::Invalid(
            "--for must be between 1 second and 30 days".to_owned(),
        ));
    }
    let until = req
        .for_secs
        .map(|s| Utc::now() + chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)));
    let limits = if req.clear {
        Limits::default()
    } else {
        Limits {
            max_inflight: req.max_inflight,
            max_rate: req.max_rate,
            until,
        }
    };
    let by = actor.initiated_by();
    let mut tx = pool.begin().await?;
    let Some(previous) = controls::set_limits(&mut tx, run_id, limits, &by).await? else {
        return Err(OpsError::Conflict(format!(
            "run {run_id} is {}; only an active run can be limited",
            before.status
        )));
    };
    let entry = actor.entry(
        "run.limit",
        json!({"run_id": run_id, "max_inflight": limits.max_inflight, "max_rate": limits.max_rate,
               "until": limits.until, "clear": req.clear}),
    );
    ontofleet_db::admin::record_audit(&mut tx, &entry, Some(0)).await?;
    if req.clear || previous.max_inflight.is_some() || previous.max_rate.is_some() {
        // Looser limits: waiting workers may claim now.
        ontofleet_queue::admin::wake_run(&mut tx, run_id).await?;
    }
    tx.commit().await?;
    Ok(Limited {
        run_id,
        max_inflight: limits.max_inflight,
        max_rate: limits.max_rate,
        limit_until: limits.until,
        set_by: (!req.clear).then_some(by),
        previous: json!({"max_inflight": previous.max_inflight, "max_rate": previous.max_rate,
                         "limit_until": previous.until}),
    })
}

/// A run's controls as `run show --json` (`control`) and the dashboard show them.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ControlView {
    /// Who paused it (while paused).
    pub paused_by: Option<String>,
    /// Why.
    pub pause_reason: Option<String>,
    /// Since when.
    pub paused_since: Option<DateTime<Utc>>,
    /// `operator` or `error_budget` (while paused).
    pub pause_kind: Option<String>,
    /// The in-flight limit in force (`None`: none, or expired).
    pub max_inflight: Option<i32>,
    /// The rate limit in force.
    pub max_rate: Option<i32>,
    /// Until when the limits hold (`None`: until cleared).
    pub limit_until: Option<DateTime<Utc>>,
    /// Who set them.
    pub limit_set_by: Option<String>,
    /// The error budget (% of the last `failure_window` finished items).
    pub max_failure_rate: Option<f64>,
    /// Its window.
    pub failure_window: Option<i32>,
    /// The governor's verdict now (`ok`, `throttled`, `paused`; `ok` when none is in force).
    pub governor_level: String,
    /// Its reasons (`throttled: replay lag 7.2 s ≥ 5 s on standby replica1`).
    pub governor_reasons: Vec<String>,
    /// Seconds the run spent paused (every pause), and by kind.
    pub paused_secs: f64,
    /// … by kind (`operator`, `error_budget`).
    pub paused_secs_by_reason: Value,
    /// Seconds the governor held the fleet below `ok` while the run ran.
    pub throttled_secs: f64,
    /// … by reason (`replay_lag`, `schedule`, …).
    pub throttled_secs_by_reason: Value,
    /// One line: `paused by alice: deploy window`, `throttled: …`, `limited: 3 in flight`, or
    /// `running freely`.
    pub state: String,
}

fn total(v: &Value) -> f64 {
    v.as_object().map_or(0.0, |o| {
        o.values().filter_map(Value::as_f64).fold(0.0, |a, b| a + b)
    })
}

/// A run's controls now.
pub async fn control_view(
    pool: &PgPool,
    run_id: Uuid,
    status: &str,
) -> Result<ControlView, OpsError> {
    let mut conn = pool.acquire().await?;
    let c = controls::control_state(&mut conn, run_id)
        .await?
        .unwrap_or_default();
    let gov = ontofleet_control::governor::published(&mut conn).await?;
    let (level, reasons) = if gov.in_force {
        (
            gov.level.clone(),
            gov.reasons
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["text"].as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
        )
    } else {
        ("ok".to_owned(), Vec::new())
    };
    let in_force = c.limit_until.is_none_or(|u| u > Utc::now());
    let (max_inflight, max_rate) = if in_force {
        (c.max_inflight, c.max_rate)
    } else {
        (None, None)
    };
    let state = if status == "paused" {
        format!(
            "paused by {}: {}",
            c.paused_by.as_deref().unwrap_or("?"),
            c.pause_reason.as_deref().unwrap_or("")
        )
    } else if !ontofleet_core::RunStatus::is_active_str(status) {
        status.to_owned()
    } else if level != "ok" {
        format!("{level}: {}", reasons.join("; "))
    } else if max_inflight.is_some() || max_rate.is_some() {
        let mut parts = Vec::new();
        if let Some(n) = max_inflight {
            parts.push(format!("{n} in flight"));
        }
        if let Some(n) = max_rate {
            parts.push(format!("{n} started/s"));
        }
        format!("limited: {}", parts.join(", "))
    } else {
        "running freely".to_owned()
    };
    Ok(ControlView {
        paused_by: c.paused_by,
        pause_reason: c.pause_reason,
        paused_since: c.paused_at,
        pause_kind: c.pause_kind,
        max_inflight,
        max_rate,
        limit_until: if in_force { c.limit_until } else { None },
        limit_set_by: if max_inflight.is_some() || max_rate.is_some() {
            c.limit_set_by
        } else {
            None
        },
        max_failure_rate: c.max_failure_rate,
        failure_window: c.failure_window,
        governor_level: level,
        governor_reasons: reasons,
        paused_secs: total(&c.paused_secs),
        paused_secs_by_reason: c.paused_secs,
        throttled_secs: total(&c.throttled_secs),
        throttled_secs_by_reason: c.throttled_secs,
        state,
    })
}

/// The error budget of a run start from its two optional parts and the default (`[runs]`): a
/// rate alone uses the default window (200 without one); a rate of 0 means none.
pub fn error_budget(
    max_failure_rate: Option<f64>,
    failure_window: Option<i32>,
    default: Option<ontofleet_producer::ErrorBudget>,
) -> Result<Option<ontofleet_producer::ErrorBudget>, OpsError> {
    if let Some(r) = max_failure_rate.filter(|r| !(0.0..=100.0).contains(r) || r.is_nan()) {
        return Err(OpsError::Invalid(format!(
            "--max-failure-rate {r} is not a percentage (0 to 100; 0 = no budget)"
        )));
    }
    if let Some(w) = failure_window.filter(|w| !(1..=1_000_000).contains(w)) {
        return Err(OpsError::Invalid(format!(
            "--failure-window {w} must be between 1 and 1000000"
        )));
    }
    Ok(match (max_failure_rate, failure_window) {
        (None, None) => None,
        (rate, window) => Some(ontofleet_producer::ErrorBudget {
            max_failure_rate: rate.or(default.map(|d| d.max_failure_rate)).unwrap_or(0.0),
            failure_window: window.or(default.map(|d| d.failure_window)).unwrap_or(200),
        }),
    })
}
