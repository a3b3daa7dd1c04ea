//! `/runs…` and `/projects/{id}/enqueue`.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use ontofleet_ops::{jobs, preview, runs};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Admin, Operator, Viewer};
use crate::problem::{ApiError, Body, Path, Problem, Query};
use crate::state::ApiState;
use crate::{Json, next_link};

/// Page of `GET /runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Page size, 1–500 (default 20).
    pub limit: Option<i64>,
    /// The next page's cursor, from the previous page's `Link` header.
    pub after: Option<String>,
}

/// Which projects a run or preview takes: exactly one of `all`, `user`, `projects`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    /// Every user's projects (a platform run: takes the lock).
    #[serde(default)]
    pub all: bool,
    /// One user's projects.
    pub user: Option<Uuid>,
    /// Explicit projects.
    #[serde(default)]
    pub projects: Vec<Uuid>,
    /// Archived projects too.
    #[serde(default)]
    pub include_archived: bool,
    /// Done tasks too.
    #[serde(default)]
    pub include_completed_tasks: bool,
    /// Already-migrated projects too.
    #[serde(default)]
    pub resync: bool,
}

impl ScopeBody {
    fn selection(&self) -> Result<ontofleet_ops::types::Selection, ApiError> {
        use ontofleet_ops::types::Selection;
        match (self.all, self.user, self.projects.is_empty()) {
            (true, None, true) => Ok(Selection::All),
            (false, Some(u), true) => Ok(Selection::User(u)),
            (false, None, false) if self.projects.len() <= 10_000 => {
                Ok(Selection::Projects(self.projects.clone()))
            }
            (false, None, false) => Err(ApiError::BadRequest(
                "at most 10000 projects per request".to_owned(),
            )),
            _ => Err(ApiError::BadRequest(
                "give exactly one selection: `all`, `user` or `projects`".to_owned(),
            )),
        }
    }
}

/// `POST /runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// The selection and its options.
    #[serde(flatten)]
    pub scope: ScopeBody,
    /// Write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Start a scoped run while a platform run holds the lock.
    #[serde(default)]
    pub force: bool,
    /// The error budget: pause the run when more than this % of its last `failure_window`
    /// finished items failed or were skipped (0: none; default: the server's `[runs]`).
    #[serde(default)]
    pub max_failure_rate: Option<f64>,
    /// The finished items the budget looks at (default: the server's `[runs]`).
    #[serde(default)]
    pub failure_window: Option<i32>,
    /// A catch-up pass: `last` or an RFC 3339 timestamp (SPEC §15).
    #[serde(default)]
    pub changed_since: Option<String>,
    /// Let a project's pass delete more than the server's `runs.max_delete_share`.
    #[serde(default)]
    pub allow_mass_delete: bool,
}

/// `POST /runs/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The selection and its options.
    #[serde(flatten)]
    pub scope: ScopeBody,
    /// Preview the first this many selected projects, 1–50 (default 5).
    pub limit: Option<usize>,
}

/// `POST /runs/{run}/rollback`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// Must be true: the rollback deletes what the run wrote.
    pub confirm: bool,
}

/// `POST /projects/{id}/enqueue`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnqueueBody {
    /// Add the project to this run instead of a new single-project run.
    pub run: Option<Uuid>,
    /// Work while a platform run holds the lock.
    #[serde(default)]
    pub force: bool,
}

/// List runs, newest first.
#[utoipa::path(get, path = "/runs", tag = "runs", params(RunsQuery),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = runs::RunList, description = "A page of runs; the next page is in the `Link` header"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_runs(
    _: Viewer,
    State(s): State<ApiState>,
    Query(q): Query<RunsQuery>,
) -> Result<Response, ApiError> {
    let (list, next) = runs::list_page(&s.read, q.limit.unwrap_or(20), q.after.as_deref()).await?;
    let mut response = Json(list).into_response();
    if let Some(next) = next {
        next_link(
            &mut response,
            "/api/v1/runs",
            &[
                ("limit", q.limit.unwrap_or(20).to_string()),
                ("after", next),
            ],
        );
    }
    Ok(response)
}

/// Start a run (`ontofleet run start`).
#[utoipa::path(post, path = "/runs", tag = "runs", request_body = StartBody,
    security(("bearer" = ["operator"])),
    responses((status = 201, body = runs::Started),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn start_run(
    caller: Operator,
    State(s): State<ApiState>,
    Body(body): Body<StartBody>,
) -> Result<(StatusCode, Json<runs::Started>), ApiError> {
    let request = ontofleet_ops::types::RunRequest {
        selection: body.scope.selection()?,
        include_archived: body.scope.include_archived,
        include_completed_tasks: body.scope.include_completed_tasks,
        resync: body.scope.resync,
        dry_run: body.dry_run,
        force: body.force,
        initiated_by: caller.actor.initiated_by(),
        error_budget: ontofleet_ops::controls::error_budget(
            body.max_failure_rate,
            body.failure_window,
            s.producer.error_budget,
        )?,
        changed_since: body
            .changed_since
            .as_deref()
            .map(ontofleet_ops::parse::changed_since)
            .transpose()?,
        allow_mass_delete: body.allow_mass_delete,
    };
    let started = runs::start(&s.write, &request, &s.producer, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

/// What a run would write, for the first selected projects (`ontofleet run preview`).
#[utoipa::path(post, path = "/runs/preview", tag = "runs", request_body = PreviewBody,
    security(("bearer" = ["operator"])),
    responses((status = 200, body = preview::Preview),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn preview_run(
    _: Operator,
    State(s): State<ApiState>,
    Body(body): Body<PreviewBody>,
) -> Result<Json<preview::Preview>, ApiError> {
    let limit = body.limit.unwrap_or(5);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 50".to_owned(),
        ));
    }
    let request = preview::PreviewRequest {
        selection: body.scope.selection()?,
        limit,
        include_archived: body.scope.include_archived,
        include_completed_tasks: body.scope.include_completed_tasks,
        resync: body.scope.resync,
    };
    let factory = s.pipeline.clone();
    Ok(Json(
        preview::preview(&s.write, &request, move |catalog| factory(catalog)).await?,
    ))
}

/// One run (`ontofleet run show`).
#[utoipa::path(get, path = "/runs/{run}", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = runs::RunDetail),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show_run(
    _: Viewer,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
) -> Result<Json<runs::RunDetail>, ApiError> {
    Ok(Json(runs::show(&s.read, run).await?))
}

/// The run's progress as server-sent events (`progress`, each a `RunProgress`), until it ends.
#[utoipa::path(get, path = "/runs/{run}/events", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["viewer"])),
    responses((status = 200, content_type = "text/event-stream", body = runs::RunProgress,
            description = "`progress` events with a `RunProgress` each; the stream ends after the run finishes"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn run_events(
    _: Viewer,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // An unknown run is a 404 before the stream starts.
    runs::get(&s.read, run).await?;
    let mut rx = s.events.watch(run);
    let mut stop = s.events.stopping();
    let stream = async_stream(move |tx| async move {
        let metrics = ontofleet_telemetry::metrics();
        metrics.api_live_streams.add(1, &[]);
        let _open = Open(metrics);
        loop {
            let current = rx.borrow_and_update().clone();
            if let Some(p) = current {
                let finished = p.finished;
                let event = Event::default()
                    .event("progress")
                    .json_data(&p)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable"));
                if tx.send(event).await.is_err() || finished {
                    return;
                }
            }
            tokio::select! {
                r = rx.changed() => if r.is_err() { return },
                _ = stop.changed() => return,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Counts a live stream down when it ends, however it ends.
struct Open(&'static ontofleet_telemetry::Metrics);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.api_live_streams.add(-1, &[]);
    }
}

/// A stream fed by a task through a small channel (ends when the task returns).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)))
}

/// Cancel a run (`ontofleet run cancel`).
#[utoipa::path(post, path = "/runs/{run}/cancel", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["operator"])),
    responses((status = 200, body = runs::Cancelled),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn cancel_run(
    caller: Operator,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
) -> Result<Json<runs::Cancelled>, ApiError> {
    Ok(Json(runs::cancel(&s.write, run, &caller.actor).await?))
}

/// Reconcile a run's source and target (`ontofleet run validate`); reads only.
#[utoipa::path(post, path = "/runs/{run}/validate", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["operator"])),
    responses((status = 200, body = runs::Validated),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn validate_run(
    _: Operator,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
) -> Result<Json<runs::Validated>, ApiError> {
    Ok(Json(runs::validate(&s.read, run).await?))
}

/// Delete what a finished run wrote (`ontofleet run rollback --yes`).
#[utoipa::path(post, path = "/runs/{run}/rollback", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    request_body = RollbackBody, security(("bearer" = ["admin"])),
    responses((status = 200, body = runs::RolledBack),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn rollback_run(
    caller: Admin,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
    Body(body): Body<RollbackBody>,
) -> Result<Json<runs::RolledBack>, ApiError> {
    Ok(Json(
        runs::rollback(&s.write, run, body.confirm, &caller.actor).await?,
    ))
}

/// Reprocess one project (`ontofleet enqueue --project ID [--run RUN]`).
#[utoipa::path(post, path = "/projects/{id}/enqueue", tag = "runs",
    params(("id" = Uuid, Path, description = "Legacy project id")), request_body = EnqueueBody,
    security(("bearer" = ["operator"])),
    responses((status = 200, body = jobs::Enqueued),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn enqueue_project(
    caller: Operator,
    State(s): State<ApiState>,
    Path(project): Path<Uuid>,
    Body(body): Body<EnqueueBody>,
) -> Result<Json<jobs::Enqueued>, ApiError> {
    let operator = s.operator(&caller.actor, body.force);
    Ok(Json(
        jobs::enqueue(
            &s.write,
            project,
            body.run,
            &s.producer,
            &operator,
            &caller.actor,
        )
        .await?,
    ))
}
