//! `POST /runs/{run}/pause|resume|limits` and `GET /governor` (SPEC §14): the run controls and
//! the governor's verdict; `GET /sync` (SPEC §15): the catch-up lag. Each the `ontofleet-ops`
//! operation the CLI calls.

use axum::extract::State;
use ontofleet_ops::{controls, governor, sync};
use uuid::Uuid;

use crate::Json;
use crate::auth::{Operator, Viewer};
use crate::problem::{ApiError, Body, Path, Problem};
use crate::state::ApiState;

/// Pause a run: no job of it starts until it is resumed (`ontofleet run pause`).
#[utoipa::path(post, path = "/runs/{run}/pause", tag = "runs", request_body = controls::PauseRequest,
    params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["operator"])),
    responses((status = 200, body = controls::Paused),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn pause_run(
    caller: Operator,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
    Body(body): Body<controls::PauseRequest>,
) -> Result<Json<controls::Paused>, ApiError> {
    Ok(Json(
        controls::pause(&s.write, run, &body, &caller.actor).await?,
    ))
}

/// Resume a paused run (`ontofleet run resume`).
#[utoipa::path(post, path = "/runs/{run}/resume", tag = "runs", params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["operator"])),
    responses((status = 200, body = controls::Paused),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn resume_run(
    caller: Operator,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
) -> Result<Json<controls::Paused>, ApiError> {
    Ok(Json(controls::resume(&s.write, run, &caller.actor).await?))
}

/// Set or clear a run's fleet-wide limits (`ontofleet run limit`).
#[utoipa::path(post, path = "/runs/{run}/limits", tag = "runs", request_body = controls::LimitRequest,
    params(("run" = Uuid, Path, description = "Run id")),
    security(("bearer" = ["operator"])),
    responses((status = 200, body = controls::Limited),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn limit_run(
    caller: Operator,
    State(s): State<ApiState>,
    Path(run): Path<Uuid>,
    Body(body): Body<controls::LimitRequest>,
) -> Result<Json<controls::Limited>, ApiError> {
    Ok(Json(
        controls::limit(&s.write, run, &body, &caller.actor).await?,
    ))
}

/// The database-health governor's verdict (`ontofleet governor status`).
#[utoipa::path(get, path = "/governor", tag = "governor", security(("bearer" = ["viewer"])),
    responses((status = 200, body = governor::GovernorStatus),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn governor_status(
    _: Viewer,
    State(s): State<ApiState>,
) -> Result<Json<governor::GovernorStatus>, ApiError> {
    Ok(Json(governor::status(&s.read).await?))
}

/// The catch-up lag: projects with changes the target does not have yet (`ontofleet sync status`).
#[utoipa::path(get, path = "/sync", tag = "sync", security(("bearer" = ["viewer"])),
    responses((status = 200, body = sync::SyncStatus),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn sync_status(
    _: Viewer,
    State(s): State<ApiState>,
) -> Result<Json<sync::SyncStatus>, ApiError> {
    Ok(Json(sync::status(&s.read).await?))
}
