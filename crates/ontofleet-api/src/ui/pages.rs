//! The dashboard's pages (GET) other than one run's (`run.rs`): login, overview, the run list,
//! users, the audit log and the lock release form. Each reads through `ontofleet-ops` on the
//! read-only pool and renders a template; counts come from the run counters and bounded queries.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use ontofleet_ops::access::Role;
use ontofleet_ops::{audit, lock, runs, stats};
use serde::Deserialize;
use uuid::Uuid;

use super::{Page, UserView, or_dash, render, time};
use crate::problem::ApiError;
use crate::state::ApiState;

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    user: Option<UserView>,
    error: Option<String>,
}

/// The login form.
pub async fn login_form() -> Response {
    render(&Login {
        user: None,
        error: None,
    })
}

/// Renders the login page with an error (bad token).
pub fn login_error(error: &str) -> Response {
    render(&Login {
        user: None,
        error: Some(error.to_owned()),
    })
}

struct Bar {
    key: &'static str,
    label: &'static str,
    done: i64,
    total: i64,
    failed: i64,
    percent: String,
}

struct ActiveRun {
    id: Uuid,
    scope: String,
    status: String,
    done: i32,
    total: i32,
    initiated_by: String,
}

struct LockInfo {
    held: bool,
    run_id: String,
    run_status: String,
    holder: String,
    token: i64,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    user: Option<UserView>,
    banners: Vec<String>,
    bars: Vec<Bar>,
    freshness: String,
    active: Option<ActiveRun>,
    lock: LockInfo,
    governor: GovernorInfo,
    sync: SyncInfo,
    can_operate: bool,
    can_admin: bool,
}

/// The catch-up lag on the overview (SPEC §15).
struct SyncInfo {
    pending: i64,
    oldest: String,
    watermark: String,
}

/// The governor's verdict on the overview.
struct GovernorInfo {
    level: String,
    reasons: Vec<String>,
    leader: String,
    since: String,
}

fn percent(done: i64, total: i64) -> String {
    if total == 0 {
        "–".to_owned()
    } else {
        format!("{:.1} %", done as f64 * 100.0 / total as f64)
    }
}

/// Global progress, the active run, the lock.
pub async fn overview(page: Page<0>, State(s): State<ApiState>) -> Result<Response, ApiError> {
    let t = stats::totals(&s.read).await?;
    let refreshed = stats::users_refreshed_at(&s.read).await?;
    let bar = |key, label, done: i64, total: i64, failed: i64| Bar {
        key,
        label,
        done,
        total,
        failed,
        percent: percent(done, total),
    };
    let bars = vec![
        bar(
            "projects",
            "Projects",
            t.migrated_projects,
            t.total_projects,
            t.failed_projects,
        ),
        bar("tasks", "Tasks", t.migrated_tasks, t.total_tasks, 0),
        bar(
            "users",
            "Users",
            t.users_complete,
            t.users,
            t.users_with_errors,
        ),
    ];
    let freshness = refreshed.map_or_else(
        || "the last run completion".to_owned(),
        |at| {
            format!(
                "{} ({} s ago)",
                time(at),
                (chrono::Utc::now() - at).num_seconds().max(0)
            )
        },
    );
    let (recent, _) = runs::list_page(&s.read, 20, None).await?;
    let active = recent
        .runs
        .iter()
        .find(|r| r.is_active())
        .map(|r| ActiveRun {
            id: r.run_id,
            scope: r.scope.clone(),
            status: r.status.clone(),
            done: r.row.done_items(),
            total: r.items.total,
            initiated_by: r.initiated_by.clone(),
        });
    let l = lock::status(&s.read).await?;
    let mut banners = Vec::new();
    let lease_left = l.expires_at.map(|e| (e - chrono::Utc::now()).num_seconds());
    if l.held && lease_left.is_some_and(|left| left < 30) {
        banners.push(format!(
            "The platform lock's lease ends in {} s: is the run's producer or a worker renewing it?",
            lease_left.unwrap_or(0).max(0)
        ));
    }
    let lock = LockInfo {
        held: l.held,
        run_id: or_dash(l.run_id),
        run_status: or_dash(l.run_status.clone()),
        holder: or_dash(l.holder.clone()),
        token: l.token,
        expires_at: l.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
    };
    let g = ontofleet_ops::governor::status(&s.read).await?;
    let governor = GovernorInfo {
        level: g.level,
        reasons: g.reasons.into_iter().map(|r| r.text).collect(),
        leader: g.leader.unwrap_or_else(|| "no process".to_owned()),
        since: time(g.since),
    };
    let lag = ontofleet_ops::sync::status(&s.read).await?;
    let sync = SyncInfo {
        pending: lag.pending_projects,
        oldest: lag
            .oldest_change_at
            .map(time)
            .unwrap_or_else(|| "–".to_owned()),
        watermark: lag
            .watermark
            .map(time)
            .unwrap_or_else(|| "no completed pass yet".to_owned()),
    };
    Ok(render(&Overview {
        user: page.view(),
        banners,
        bars,
        freshness,
        active,
        lock,
        governor,
        sync,
        can_operate: page.can(Role::Operator),
        can_admin: page.can(Role::Admin),
    }))
}

struct RunRowView {
    id: Uuid,
    short: String,
    dry_run: bool,
    scope: String,
    status: String,
    done: i32,
    total: i32,
    failed: i32,
    initiated_by: String,
    created_at: String,
    duration: String,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    user: Option<UserView>,
    runs: Vec<RunRowView>,
    next: Option<String>,
}

/// `?after=` of a keyset page.
#[derive(Debug, Deserialize)]
pub struct After {
    after: Option<String>,
}

/// The run list, 50 a page.
pub async fn runs(
    page: Page<0>,
    State(s): State<ApiState>,
    Query(q): Query<After>,
) -> Result<Response, ApiError> {
    let (list, next) = runs::list_page(&s.read, 50, q.after.as_deref()).await?;
    let runs = list
        .runs
        .iter()
        .map(|r| RunRowView {
            id: r.run_id,
            short: r.run_id.to_string()[..8].to_owned(),
            dry_run: r.dry_run,
            scope: r.scope.clone(),
            status: r.status.clone(),
            done: r.row.done_items(),
            total: r.items.total,
            failed: r.items.failed,
            initiated_by: r.initiated_by.clone(),
            created_at: time(r.created_at),
            duration: format!("{:.1} s", r.duration_secs),
        })
        .collect();
    Ok(render(&Runs {
        user: page.view(),
        runs,
        next,
    }))
}

struct UserRow {
    name: String,
    email: String,
    projects: String,
    tasks: String,
    percent: String,
    status: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    user: Option<UserView>,
    freshness: String,
    by_status: Vec<(String, i64)>,
    users: Vec<UserRow>,
    can_operate: bool,
}

/// Per-user progress (e-mails masked for viewers) and the view's freshness.
pub async fn users(page: Page<0>, State(s): State<ApiState>) -> Result<Response, ApiError> {
    let mut st = stats::user_progress(&s.read, 200).await?;
    if page.0.masks_pii() {
        st.mask_emails();
    }
    let refreshed = stats::users_refreshed_at(&s.read).await?;
    let str_of = |u: &serde_json::Value, k: &str| match &u[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "–".to_owned(),
        other => other.to_string(),
    };
    let users = st
        .users
        .iter()
        .map(|u| UserRow {
            name: str_of(u, "name"),
            email: str_of(u, "email"),
            projects: format!(
                "{} / {}",
                str_of(u, "migrated_projects"),
                str_of(u, "total_projects")
            ),
            tasks: format!(
                "{} / {}",
                str_of(u, "migrated_tasks"),
                str_of(u, "total_tasks")
            ),
            percent: str_of(u, "percent_complete"),
            status: str_of(u, "migration_status"),
        })
        .collect();
    Ok(render(&Users {
        user: page.view(),
        freshness: refreshed.map_or_else(
            || "at the last run completion (time not recorded)".to_owned(),
            |t| {
                let ago = (chrono::Utc::now() - t).num_seconds().max(0);
                format!("{} ({ago} s ago)", time(t))
            },
        ),
        by_status: st.by_status.clone(),
        users,
        can_operate: page.can(Role::Operator),
    }))
}

struct AuditRowView {
    at: String,
    actor: String,
    role: String,
    action: String,
    filter: String,
    affected: String,
    request_id: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    user: Option<UserView>,
    entries: Vec<AuditRowView>,
    next_before: Option<i64>,
}

/// `?before=` of the audit's keyset pages.
#[derive(Debug, Deserialize)]
pub struct Before {
    before: Option<i64>,
}

/// The audit log, 100 a page.
pub async fn audit(
    page: Page<0>,
    State(s): State<ApiState>,
    Query(q): Query<Before>,
) -> Result<Response, ApiError> {
    let list = audit::list(&s.read, q.before, 100).await?;
    Ok(render(&AuditPage {
        user: page.view(),
        next_before: list.next_before,
        entries: list
            .entries
            .into_iter()
            .map(|e| AuditRowView {
                at: time(e.at),
                actor: e.actor,
                role: e.role,
                action: e.action,
                filter: e.filter.to_string(),
                affected: or_dash(e.affected),
                request_id: e.request_id.unwrap_or_default(),
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "release.html")]
pub(super) struct Release {
    pub(super) user: Option<UserView>,
    pub(super) state: String,
    pub(super) error: Option<String>,
}

/// The lock release form (typed confirmation).
pub async fn release_form(page: Page<2>, State(s): State<ApiState>) -> Result<Response, ApiError> {
    Ok(render(&release_page(&page, &s, None).await?))
}

pub(super) async fn release_page(
    page: &Page<2>,
    s: &ApiState,
    error: Option<String>,
) -> Result<Release, ApiError> {
    let l = lock::status(&s.read).await?;
    let state = if l.held {
        format!(
            "Held by run {} ({}), token {}, lease until {}.",
            or_dash(l.run_id),
            or_dash(l.run_status),
            l.token,
            or_dash(l.expires_at.map(time))
        )
    } else {
        "The lock is free.".to_owned()
    };
    Ok(Release {
        user: page.view(),
        state,
        error,
    })
}
