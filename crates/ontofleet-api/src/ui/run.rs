//! The dashboard's pages of one run (GET): the run itself, its failures, the retry preview and
//! a job with its attempts. Counts come from the run counters and bounded, keyed queries.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use ontofleet_ops::access::Role;
use ontofleet_ops::{jobs, runs};
use serde::Deserialize;
use uuid::Uuid;

use super::{Page, UserView, or_dash, render, time};
use crate::problem::{ApiError, Path};
use crate::state::ApiState;

struct RunInfo {
    id: Uuid,
    short: String,
    status: String,
    scope: String,
    dry_run: bool,
    initiated_by: String,
    live: bool,
    active: bool,
    total: i32,
    done: i32,
    succeeded: i32,
    partial: i32,
    failed: i32,
    skipped: i32,
    cancelled: i32,
    rate: String,
    eta: String,
    p50: String,
    p95: String,
    created_at: String,
    started_at: String,
    finished_at: String,
    duration: String,
    lock: String,
    /// The run's controls in one line (`paused by alice: deploy window`, `throttled: …`).
    control: String,
    /// Time spent paused and throttled, or empty.
    held_back: String,
    paused: bool,
}

struct MatrixRow {
    status: String,
    category: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    user: Option<UserView>,
    run: RunInfo,
    matrix: Vec<MatrixRow>,
    top_errors: Vec<(String, String, i64)>,
    entities: Vec<(String, String, i64)>,
    problems: Vec<(String, String, String, i64)>,
    retry_categories: Vec<&'static str>,
    can_operate: bool,
}

/// One run: counters, status × category matrix, rate, ETA, item times, timeline, actions.
pub async fn run(
    page: Page<0>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let d = runs::show(&s.read, run_id).await?;
    let times = runs::item_times(&s.read, run_id).await?;
    let r = &d.run;
    let done = r.row.done_items();
    let active = r.is_active();
    let pace = r.pace(d.control.paused_secs);
    let rate = pace.rate_per_sec;
    let eta = pace
        .eta_secs
        .map_or_else(|| "–".to_owned(), |s| format!("{s:.0} s"));
    let mut entities = Vec::new();
    if let Some(map) = d.entities.as_object() {
        for (entity, actions) in map {
            match actions.as_object() {
                Some(actions) => {
                    for (action, n) in actions {
                        if let Some(n) = n.as_i64() {
                            entities.push((entity.clone(), action.clone(), n));
                        }
                    }
                }
                None => {
                    if let Some(n) = actions.as_i64() {
                        entities.push((entity.clone(), "total".to_owned(), n));
                    }
                }
            }
        }
    }
    let retry_categories = ["recoverable", "data", "fatal"]
        .into_iter()
        .filter(|c| {
            d.items_by_status.iter().any(|x| {
                x.category.as_deref() == Some(*c)
                    && matches!(x.status.as_str(), "failed" | "skipped")
            })
        })
        .collect();
    let info = RunInfo {
        id: r.run_id,
        short: r.run_id.to_string()[..8].to_owned(),
        status: r.status.clone(),
        scope: r.scope.clone(),
        dry_run: r.dry_run,
        initiated_by: r.initiated_by.clone(),
        live: active,
        active,
        total: r.items.total,
        done,
        succeeded: r.items.succeeded,
        partial: r.items.partial,
        failed: r.items.failed,
        skipped: r.items.skipped,
        cancelled: r.items.cancelled,
        rate: if rate > 0.0 {
            format!("{rate:.2} items/s")
        } else {
            "–".to_owned()
        },
        eta,
        p50: times
            .0
            .map_or_else(|| "–".to_owned(), |v| format!("{v:.0} ms")),
        p95: times
            .1
            .map_or_else(|| "–".to_owned(), |v| format!("{v:.0} ms")),
        created_at: time(r.created_at),
        started_at: or_dash(r.started_at.map(time)),
        finished_at: or_dash(r.finished_at.map(time)),
        duration: format!("{:.1} s", r.duration_secs),
        lock: if d.lock.held_by_this_run {
            format!(
                "held (token {}, lease until {})",
                d.lock.token,
                or_dash(d.lock.expires_at.map(time))
            )
        } else {
            "not held by this run".to_owned()
        },
        control: d.control.state.clone(),
        held_back: {
            let c = &d.control;
            let mut parts = Vec::new();
            if c.paused_secs > 0.0 {
                parts.push(format!("paused {:.0} s", c.paused_secs));
            }
            if c.throttled_secs > 0.0 {
                parts.push(format!("throttled {:.0} s", c.throttled_secs));
            }
            parts.join(", ")
        },
        paused: r.status == "paused",
    };
    Ok(render(&RunPage {
        user: page.view(),
        run: info,
        matrix: d
            .items_by_status
            .iter()
            .map(|x| MatrixRow {
                status: x.status.clone(),
                category: or_dash(x.category.clone()),
                count: x.count,
            })
            .collect(),
        top_errors: d
            .top_errors
            .iter()
            .map(|e| (or_dash(e.category.clone()), e.message.clone(), e.items))
            .collect(),
        entities,
        problems: d
            .entity_problems
            .iter()
            .map(|p| {
                (
                    p.entity_type.clone(),
                    p.status.clone(),
                    or_dash(p.category.clone()),
                    p.count,
                )
            })
            .collect(),
        retry_categories,
        can_operate: page.can(Role::Operator),
    }))
}

struct Group {
    category: String,
    message: String,
    items: i64,
    job: Option<String>,
}

#[derive(Template)]
#[template(path = "failures.html")]
struct Failures {
    user: Option<UserView>,
    run_id: Uuid,
    run_short: String,
    groups: Vec<Group>,
    categories: Vec<String>,
    can_operate: bool,
}

/// A run's failures grouped by category and normalised message.
pub async fn failures(
    page: Page<0>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let groups = runs::failures(&s.read, run_id).await?;
    let mut categories: Vec<String> = groups.iter().filter_map(|g| g.category.clone()).collect();
    categories.sort();
    categories.dedup();
    Ok(render(&Failures {
        user: page.view(),
        run_id,
        run_short: run_id.to_string()[..8].to_owned(),
        groups: groups
            .into_iter()
            .map(|g| Group {
                category: or_dash(g.category),
                message: g.message,
                items: g.items,
                job: g.sample_job_id,
            })
            .collect(),
        categories,
        can_operate: page.can(Role::Operator),
    }))
}

pub(super) struct SampleJob {
    job_id: String,
    project_id: Uuid,
    status: String,
    attempts: i32,
    error: String,
}

#[derive(Template)]
#[template(path = "retry.html")]
pub(super) struct RetryPage {
    pub(super) user: Option<UserView>,
    pub(super) run_id: Uuid,
    pub(super) run_short: String,
    pub(super) category: String,
    pub(super) count: usize,
    pub(super) sample: Vec<SampleJob>,
    pub(super) token: String,
    pub(super) expires_at: String,
}

/// `?category=`.
#[derive(Debug, Deserialize)]
pub struct CategoryQuery {
    category: String,
}

/// The retry's first step: count, sample and the selection token in a confirmation form.
pub async fn retry_preview(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
    Query(q): Query<CategoryQuery>,
) -> Result<Response, ApiError> {
    Ok(render(&preview_page(&page, &s, run_id, &q.category).await?))
}

pub(super) async fn preview_page(
    page: &Page<1>,
    s: &ApiState,
    run_id: Uuid,
    category: &str,
) -> Result<RetryPage, ApiError> {
    let cat: ontofleet_core::ErrorCategory = category
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("unknown category `{category}`")))?;
    let target = ontofleet_ops::types::RetryTarget::Run {
        run_id,
        category: Some(cat),
    };
    let p = jobs::retry_preview(&s.write, &target).await?;
    Ok(RetryPage {
        user: page.view(),
        run_id,
        run_short: run_id.to_string()[..8].to_owned(),
        category: cat.as_str().to_owned(),
        count: p.count,
        sample: p
            .sample
            .iter()
            .map(|j| SampleJob {
                job_id: j.job_id.clone(),
                project_id: j.project_id,
                status: j.status.clone(),
                attempts: j.attempts,
                error: j.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        token: p.selection_token,
        expires_at: time(p.expires_at),
    })
}

struct AttemptRow {
    attempt: i32,
    outcome: String,
    category: String,
    worker: String,
    started: String,
    ms: String,
    message: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    user: Option<UserView>,
    job_id: String,
    run_id: Uuid,
    project_id: Uuid,
    status: String,
    queue: String,
    category: String,
    last_error: String,
    attempts: Vec<AttemptRow>,
}

/// One job and its attempts.
pub async fn job(
    page: Page<0>,
    State(s): State<ApiState>,
    Path(job): Path<String>,
) -> Result<Response, ApiError> {
    let id = job.trim().to_ascii_uppercase();
    let d = jobs::show(&s.read, &id).await?;
    Ok(render(&JobPage {
        user: page.view(),
        job_id: d.job_id.clone(),
        run_id: d.run_id,
        project_id: d.project_id,
        status: or_dash(d.item.as_ref().map(|i| i.status.clone())),
        queue: d
            .job
            .as_ref()
            .map_or_else(|| "purged".to_owned(), |q| q.status.clone()),
        category: or_dash(d.item.as_ref().and_then(|i| i.category.clone())),
        last_error: d
            .item
            .as_ref()
            .and_then(|i| i.last_error.clone())
            .unwrap_or_default(),
        attempts: d
            .attempts
            .iter()
            .map(|a| AttemptRow {
                attempt: a.attempt,
                outcome: a.outcome.clone(),
                category: or_dash(a.category.clone()),
                worker: or_dash(a.worker.clone()),
                started: time(a.started_at),
                ms: or_dash(a.duration_ms),
                message: a.message.clone().unwrap_or_default(),
            })
            .collect(),
    }))
}
