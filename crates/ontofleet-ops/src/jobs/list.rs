//! `jobs list` (and the API's keyset pages of it): jobs with their items, most recently changed
//! first.

use chrono::{DateTime, Utc};
use ontofleet_queue::{JobFilter, JobView};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;

/// A job as `jobs list` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummary {
    /// Queue job id (ULID).
    pub job_id: String,
    /// Its run.
    pub run_id: Uuid,
    /// Its legacy project.
    pub project_id: Uuid,
    /// The item's status.
    pub status: String,
    /// The queue row's status, `purged` once `jobs purge` removed it.
    pub job_status: String,
    /// Executions of the item.
    pub attempts: i32,
    /// Executions since the last `jobs retry`.
    pub attempts_since_retry: i32,
    /// The queue row's attempts.
    pub queue_attempts: Option<i32>,
    /// The queue row's limit.
    pub max_attempts: Option<i32>,
    /// Category of the last failure.
    pub category: Option<String>,
    /// Its message.
    pub last_error: Option<String>,
    /// The worker of the last execution.
    pub worker: Option<String>,
    /// When the queue row is due.
    pub run_at: Option<DateTime<Utc>>,
    /// When the queue row finished.
    pub done_at: Option<DateTime<Utc>>,
    /// Last change of the item.
    pub updated_at: DateTime<Utc>,
}

impl From<&JobView> for JobSummary {
    fn from(v: &JobView) -> Self {
        Self {
            job_id: v.job_id.clone(),
            run_id: v.run_id,
            project_id: v.project_id,
            status: v.item_status.clone(),
            job_status: v.job_status.clone().unwrap_or_else(|| "purged".to_owned()),
            attempts: v.attempts,
            attempts_since_retry: v.attempts - v.attempt_base,
            queue_attempts: v.queue_attempts,
            max_attempts: v.max_attempts,
            category: v.error_category.clone(),
            last_error: v.last_error.clone(),
            worker: v.worker.clone(),
            run_at: v.run_at,
            done_at: v.done_at,
            updated_at: v.updated_at,
        }
    }
}

/// The response of `jobs list`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobList {
    /// Most recently changed first.
    pub jobs: Vec<JobSummary>,
    /// The rows behind them (for printers; not serialised).
    #[serde(skip)]
    pub views: Vec<JobView>,
}

/// `jobs list`.
pub async fn list(pool: &PgPool, filter: &JobFilter) -> Result<JobList, OpsError> {
    let mut conn = pool.acquire().await?;
    let views = ontofleet_queue::list_jobs(&mut conn, filter).await?;
    Ok(JobList {
        jobs: views.iter().map(JobSummary::from).collect(),
        views,
    })
}

/// `jobs list` from the command line: a run named in the filter must exist (a typo is an
/// error, not an empty list).
pub async fn list_checked(pool: &PgPool, filter: &JobFilter) -> Result<JobList, OpsError> {
    if let Some(run) = filter.run_id {
        crate::runs::get(pool, run).await?;
    }
    list(pool, filter).await
}

/// What `GET /jobs` is asked for: the filters of `jobs list` and a page cursor.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only this run.
    pub run: Option<Uuid>,
    /// Only items in this status (`queued`, `running`, `retrying`, `succeeded`, `partial`,
    /// `failed`, `skipped`, `cancelled`).
    pub status: Option<String>,
    /// Only items whose last failure has this category (`recoverable`, `data`, `fatal`).
    pub category: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// The cursor of the next page (from the previous page's `Link` header).
    pub after: Option<String>,
}

/// A page of `GET /jobs`, and the cursor of the next page when there is one.
pub async fn list_page(
    pool: &PgPool,
    query: &JobQuery,
) -> Result<(JobList, Option<String>), OpsError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(OpsError::Invalid(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let status = query
        .status
        .as_deref()
        .map(crate::parse::item_status)
        .transpose()?
        .map(|s| s.as_str().to_owned());
    let category = query
        .category
        .as_deref()
        .map(crate::parse::category)
        .transpose()?
        .map(|c| c.as_str().to_owned());
    let after = query
        .after
        .as_deref()
        .map(|raw| {
            let mut parts = raw.splitn(3, '_');
            let parsed = (|| {
                Some((
                    DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?,
                    parts.next()?.parse().ok()?,
                    parts.next()?.parse().ok()?,
                ))
            })();
            parsed.ok_or_else(|| OpsError::Invalid(format!("`{raw}` is not a page cursor")))
        })
        .transpose()?;
    let filter = JobFilter {
        run_id: query.run,
        item_status: status,
        category,
        limit: limit + 1,
        after,
    };
    let mut list = list(pool, &filter).await?;
    let next = if list.jobs.len() as i64 > limit {
        list.jobs.truncate(limit as usize);
        list.views.truncate(limit as usize);
        list.jobs.last().map(|j| {
            format!(
                "{}_{}_{}",
                j.updated_at.timestamp_micros(),
                j.project_id,
                j.run_id
            )
        })
    } else {
        None
    };
    Ok((list, next))
}
