//! The dashboard's actions (POST, form-encoded): each is the operation the API route calls, with
//! the same role, audited as the logged-in token; a cookie request must come from this origin
//! (the CSRF layer), and each result page names the equivalent `ontofleet …` command.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ontofleet_ops::{jobs, lock, runs, stats};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{login_error, release_page};
use super::run::preview_page;
use super::{Page, UserView, render};
use crate::auth::RequestId;
use crate::problem::{ApiError, Path};
use crate::state::ApiState;

#[derive(Template)]
#[template(path = "message.html")]
struct Message {
    user: Option<UserView>,
    heading: String,
    lines: Vec<String>,
    cli: Option<String>,
    back: String,
}

/// A result or refusal page with `status`.
fn message(
    status: StatusCode,
    user: Option<UserView>,
    heading: &str,
    lines: Vec<String>,
    cli: Option<String>,
    back: String,
) -> Response {
    let mut r = render(&Message {
        user,
        heading: heading.to_owned(),
        lines,
        cli,
        back,
    });
    *r.status_mut() = status;
    r
}

/// An operation's refusal as a page (its status kept).
fn refused<const R: u8>(page: &Page<R>, e: ApiError, back: String) -> Response {
    let status = e.clone_status();
    message(
        status,
        page.view(),
        "Not done",
        vec![e.to_string()],
        None,
        back,
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// Browser login from the form: a session cookie, then the overview (the API's session, through
/// the same [`crate::misc::open_session`]).
pub async fn login(
    State(s): State<ApiState>,
    headers: HeaderMap,
    request_id: Option<axum::Extension<RequestId>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let Some((_, cookie)) =
        crate::misc::open_session(&s, &headers, &form.token, request_id).await?
    else {
        let mut r = login_error("That token is unknown, expired or revoked.");
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    };
    let mut r = Redirect::to("/ui").into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(r)
}

/// Logout: the session ends, the cookie is cleared.
pub async fn logout(State(s): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let cleared = crate::misc::close_session(&s, &headers).await?;
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, cleared);
    Ok(r)
}

/// The start form's fields.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    scope: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    dry_run: Option<String>,
    #[serde(default)]
    resync: Option<String>,
}

/// Start a run from the overview's form, then show it.
pub async fn start(
    page: Page<1>,
    State(s): State<ApiState>,
    Form(form): Form<StartForm>,
) -> Response {
    use ontofleet_ops::types::{RunRequest, Selection};
    let selection = match form.scope.as_str() {
        "all" => Ok(Selection::All),
        "project" => form
            .project
            .trim()
            .parse::<Uuid>()
            .map(|p| Selection::Projects(vec![p]))
            .map_err(|_| ApiError::BadRequest("the project id is not a UUID".to_owned())),
        _ => Err(ApiError::BadRequest(
            "choose every project or one".to_owned(),
        )),
    };
    let request = selection.map(|selection| RunRequest {
        selection,
        include_archived: false,
        include_completed_tasks: false,
        resync: form.resync.is_some(),
        dry_run: form.dry_run.is_some(),
        force: false,
        initiated_by: page.0.actor.initiated_by(),
        error_budget: None,
        changed_since: None,
        allow_mass_delete: false,
    });
    let result = match request {
        Ok(r) => runs::start(&s.write, &r, &s.producer, &page.0.actor)
            .await
            .map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(started) => Redirect::to(&format!("/ui/runs/{}", started.run_id)).into_response(),
        Err(e) => refused(&page, e, "/ui".to_owned()),
    }
}

/// The retry confirmation's fields.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    category: String,
    selection_token: String,
}

/// Execute a previewed retry; a changed selection shows the new preview instead.
pub async fn retry(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
    Form(form): Form<RetryForm>,
) -> Response {
    let Ok(category) = form.category.parse::<ontofleet_core::ErrorCategory>() else {
        return refused(
            &page,
            ApiError::BadRequest(format!("unknown category `{}`", form.category)),
            format!("/ui/runs/{run_id}"),
        );
    };
    let target = ontofleet_ops::types::RetryTarget::Run {
        run_id,
        category: Some(category),
    };
    let operator = s.operator(&page.0.actor, false);
    match jobs::retry_with_token(
        &s.write,
        &target,
        &form.selection_token,
        &operator,
        &page.0.actor,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/ui/runs/{run_id}")).into_response(),
        Err(e @ ontofleet_ops::OpsError::Conflict(_)) => {
            match preview_page(&page, &s, run_id, category.as_str()).await {
                Ok(mut fresh) => {
                    fresh.category = format!("{} — {e}", category.as_str());
                    let mut r = render(&fresh);
                    *r.status_mut() = StatusCode::CONFLICT;
                    r
                }
                Err(e) => refused(&page, e, format!("/ui/runs/{run_id}")),
            }
        }
        Err(e) => refused(&page, e.into(), format!("/ui/runs/{run_id}")),
    }
}

/// Cancel a run, then show it.
pub async fn cancel(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
) -> Response {
    match runs::cancel(&s.write, run_id, &page.0.actor).await {
        Ok(_) => Redirect::to(&format!("/ui/runs/{run_id}")).into_response(),
        Err(e) => refused(&page, e.into(), format!("/ui/runs/{run_id}")),
    }
}

/// The pause form's fields.
#[derive(Debug, Deserialize)]
pub struct PauseForm {
    #[serde(default)]
    reason: String,
}

/// Pause a run, then show it.
pub async fn pause(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
    Form(form): Form<PauseForm>,
) -> Response {
    let req = ontofleet_ops::controls::PauseRequest {
        reason: Some(form.reason),
        now: false,
    };
    match ontofleet_ops::controls::pause(&s.write, run_id, &req, &page.0.actor).await {
        Ok(_) => Redirect::to(&format!("/ui/runs/{run_id}")).into_response(),
        Err(e) => refused(&page, e.into(), format!("/ui/runs/{run_id}")),
    }
}

/// Resume a paused run, then show it.
pub async fn resume(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
) -> Response {
    match ontofleet_ops::controls::resume(&s.write, run_id, &page.0.actor).await {
        Ok(_) => Redirect::to(&format!("/ui/runs/{run_id}")).into_response(),
        Err(e) => refused(&page, e.into(), format!("/ui/runs/{run_id}")),
    }
}

/// Validate a run and show the reconciliation.
pub async fn validate(
    page: Page<1>,
    State(s): State<ApiState>,
    Path(run_id): Path<Uuid>,
) -> Response {
    match runs::validate(&s.read, run_id).await {
        Ok(v) => {
            let mut lines = vec![if v.ok {
                "Source and target reconcile.".to_owned()
            } else {
                format!("{} mismatch(es).", v.mismatches)
            }];
            let val = &v.validation;
            lines.push(format!(
                "{} project(s), {} not migrated; edges expected {}, missing {}; orphans {}.",
                val.projects, val.not_migrated, val.edges_expected, val.edges_missing, val.orphans
            ));
            for (table, check) in &val.entities {
                lines.push(format!(
                    "{table}: {} selected, {} ok, {} explained, {} missing, {} dangling",
                    check.selected, check.ok, check.explained, check.missing, check.dangling
                ));
            }
            message(
                StatusCode::OK,
                page.view(),
                "Validation",
                lines,
                Some(format!("ontofleet run validate {run_id}")),
                format!("/ui/runs/{run_id}"),
            )
        }
        Err(e) => refused(&page, e.into(), format!("/ui/runs/{run_id}")),
    }
}

/// Refresh the per-user view, then show it.
pub async fn refresh(page: Page<1>, State(s): State<ApiState>) -> Response {
    match stats::refresh(&s.write, &page.0.actor).await {
        Ok(_) => Redirect::to("/ui/users").into_response(),
        Err(e) => refused(&page, e.into(), "/ui/users".to_owned()),
    }
}

/// The release form's fields.
#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    confirm: String,
    #[serde(default)]
    force: Option<String>,
}

/// Release the lock once `release` was typed.
pub async fn release(
    page: Page<2>,
    State(s): State<ApiState>,
    Form(form): Form<ReleaseForm>,
) -> Response {
    if form.confirm.trim() != "release" {
        return match release_page(&page, &s, Some("Type release to confirm.".to_owned())).await {
            Ok(p) => {
                let mut r = render(&p);
                *r.status_mut() = StatusCode::BAD_REQUEST;
                r
            }
            Err(e) => refused(&page, e, "/ui".to_owned()),
        };
    }
    let force = form.force.is_some();
    match lock::release(&s.write, force, &page.0.actor).await {
        Ok(lock::Released::NotHeld { .. }) => message(
            StatusCode::OK,
            page.view(),
            "Nothing to release",
            vec!["No run held the lock.".to_owned()],
            Some("ontofleet lock release".to_owned()),
            "/ui".to_owned(),
        ),
        Ok(lock::Released::Released { run_id, forced, .. }) => message(
            StatusCode::OK,
            page.view(),
            "Lock released",
            vec![format!(
                "Run {run_id} no longer holds the lock{}.",
                if forced {
                    " (forced: it can commit nothing more)"
                } else {
                    ""
                }
            )],
            Some(format!(
                "ontofleet lock release{}",
                if force { " --force" } else { "" }
            )),
            "/ui".to_owned(),
        ),
        Err(e) => refused(&page, e.into(), "/ui".to_owned()),
    }
}
