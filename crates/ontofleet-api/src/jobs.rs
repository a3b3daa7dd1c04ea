//! `/jobs…`: list, show, retry (with its preview), kill, purge.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ontofleet_core::ErrorCategory;
use ontofleet_ops::jobs;
use ontofleet_ops::types::RetryTarget;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Admin, Operator, Viewer};
use crate::problem::{ApiError, Body, Path, Problem, Query};
use crate::state::ApiState;
use crate::{Json, next_link};

/// At most this many job ids per request.
const MAX_IDS: usize = 1000;

/// `POST /jobs/retry`: job ids, or a run (and category). Without `selection_token` the answer is
/// a preview; with the preview's token, exactly the previewed jobs are retried.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// These jobs.
    #[serde(default)]
    pub job_ids: Vec<String>,
    /// The failed and skipped jobs of this run.
    pub run: Option<Uuid>,
    /// Only those whose failure has this category.
    pub category: Option<ErrorCategoryName>,
    /// Reopen a platform run while another holds the lock.
    #[serde(default)]
    pub force: bool,
    /// The token of the preview to execute.
    pub selection_token: Option<String>,
}

/// An error category.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorCategoryName {
    /// Transient.
    Recoverable,
    /// Bad legacy data.
    Data,
    /// Cannot succeed.
    Fatal,
}

impl From<ErrorCategoryName> for ErrorCategory {
    fn from(c: ErrorCategoryName) -> Self {
        match c {
            ErrorCategoryName::Recoverable => Self::Recoverable,
            ErrorCategoryName::Data => Self::Data,
            ErrorCategoryName::Fatal => Self::Fatal,
        }
    }
}

/// `POST /jobs/kill`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillBody {
    /// The waiting jobs to kill.
    pub job_ids: Vec<String>,
}

/// `POST /jobs/purge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeBody {
    /// Delete queue rows finished more than this many seconds ago (at least 60).
    pub older_than_secs: u64,
}

/// The answer of `POST /jobs/retry`: a preview, or what was retried.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum RetryAnswer {
    /// Without a token: what would be retried.
    Preview(jobs::RetryPreview),
    /// With a token: what was.
    Retried(jobs::Retried),
}

fn job_ids(raw: &[String]) -> Result<Vec<String>, ApiError> {
    if raw.is_empty() || raw.len() > MAX_IDS {
        return Err(ApiError::BadRequest(format!(
            "give between 1 and {MAX_IDS} job ids"
        )));
    }
    Ok(ontofleet_ops::parse::job_ids(raw)?)
}

/// Jobs with their items, most recently changed first (`ontofleet jobs list`).
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(jobs::JobQuery),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = jobs::JobList, description = "A page of jobs; the next page is in the `Link` header"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_jobs(
    _: Viewer,
    State(s): State<ApiState>,
    Query(q): Query<jobs::JobQuery>,
) -> Result<Response, ApiError> {
    let (list, next) = jobs::list_page(&s.read, &q).await?;
    let mut response = Json(list).into_response();
    if let Some(next) = next {
        let mut params = vec![("limit", q.limit.unwrap_or(50).to_string())];
        if let Some(r) = q.run {
            params.push(("run", r.to_string()));
        }
        if let Some(st) = &q.status {
            params.push(("status", st.clone()));
        }
        if let Some(c) = &q.category {
            params.push(("category", c.clone()));
        }
        params.push(("after", next));
        next_link(&mut response, "/api/v1/jobs", &params);
    }
    Ok(response)
}

/// One job, its item and its attempts (`ontofleet jobs show`).
#[utoipa::path(get, path = "/jobs/{job}", tag = "jobs", params(("job" = String, Path, description = "Job id (ULID)")),
    security(("bearer" = ["viewer"])),
    responses((status = 200, body = jobs::JobDetail),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show_job(
    _: Viewer,
    State(s): State<ApiState>,
    Path(job): Path<String>,
) -> Result<Json<jobs::JobDetail>, ApiError> {
    let id = job_ids(std::slice::from_ref(&job))?.remove(0);
    Ok(Json(jobs::show(&s.read, &id).await?))
}

/// Retry finished jobs (`ontofleet jobs retry`) in two steps: preview, then execute the token.
#[utoipa::path(post, path = "/jobs/retry", tag = "jobs", request_body = RetryBody,
    security(("bearer" = ["operator"])),
    responses((status = 200, body = RetryAnswer,
            description = "Without `selection_token`: count, sample and token; with it: the retried jobs"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "The selection changed since the preview, or the token expired")))]
pub async fn retry_jobs(
    caller: Operator,
    State(s): State<ApiState>,
    Body(body): Body<RetryBody>,
) -> Result<Json<RetryAnswer>, ApiError> {
    let target = match (body.job_ids.is_empty(), body.run) {
        (false, None) if body.category.is_none() => RetryTarget::Jobs(job_ids(&body.job_ids)?),
        (true, Some(run_id)) => RetryTarget::Run {
            run_id,
            category: body.category.map(Into::into),
        },
        _ => {
            return Err(ApiError::BadRequest(
                "give either `job_ids`, or `run` (and optionally `category`)".to_owned(),
            ));
        }
    };
    let answer = match &body.selection_token {
        None => RetryAnswer::Preview(jobs::retry_preview(&s.write, &target).await?),
        Some(token) => {
            let operator = s.operator(&caller.actor, body.force);
            RetryAnswer::Retried(
                jobs::retry_with_token(&s.write, &target, token, &operator, &caller.actor).await?,
            )
        }
    };
    Ok(Json(answer))
}

/// Kill waiting jobs and cancel their items (`ontofleet jobs kill`).
#[utoipa::path(post, path = "/jobs/kill", tag = "jobs", request_body = KillBody,
    security(("bearer" = ["operator"])),
    responses((status = 200, body = jobs::Killed),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn kill_jobs(
    caller: Operator,
    State(s): State<ApiState>,
    Body(body): Body<KillBody>,
) -> Result<Json<jobs::Killed>, ApiError> {
    let ids = job_ids(&body.job_ids)?;
    Ok(Json(jobs::kill(&s.write, &ids, &caller.actor).await?))
}

/// Delete finished queue rows (`ontofleet jobs purge --older-than`); the ledger keeps them.
#[utoipa::path(post, path = "/jobs/purge", tag = "jobs", request_body = PurgeBody,
    security(("bearer" = ["admin"])),
    responses((status = 200, body = jobs::Purged),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "Body over 256 KiB"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn purge_jobs(
    caller: Admin,
    State(s): State<ApiState>,
    Body(body): Body<PurgeBody>,
) -> Result<Json<jobs::Purged>, ApiError> {
    if !(60..=10 * 365 * 86_400).contains(&body.older_than_secs) {
        return Err(ApiError::BadRequest(
            "older_than_secs must be between 60 and 315360000".to_owned(),
        ));
    }
    let age = std::time::Duration::from_secs(body.older_than_secs);
    Ok(Json(jobs::purge(&s.write, age, &caller.actor).await?))
}
