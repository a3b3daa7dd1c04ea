//! `jobs retry`, and the API's two-step retry: a preview (count, sample, selection token) and the
//! retry of exactly the previewed jobs.

use chrono::{DateTime, Utc};
use ontofleet_queue::JobView;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::JobSummary;
use crate::OpsError;
use crate::access::Actor;

/// A job put back to work by `jobs retry`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetriedJob {
    /// The job now carrying the item.
    pub job_id: String,
    /// The job id before, when the queue row had been purged.
    pub replaced_job_id: Option<String>,
    /// Its run.
    pub run_id: Uuid,
    /// Its project.
    pub project_id: Uuid,
    /// Item status before.
    pub previous_status: String,
    /// Category of the failure that ended it.
    pub category: Option<String>,
}

/// A run touched by `jobs retry`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetriedRun {
    /// The run.
    pub run_id: Uuid,
    /// Status before.
    pub previous_status: String,
    /// Status now.
    pub status: String,
    /// A finished run was reopened.
    pub reopened: bool,
    /// The expired platform run whose lock it took over (now cancelled).
    pub superseded_run_id: Option<Uuid>,
}

/// The response of `jobs retry`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retried {
    /// Jobs put back to work.
    pub retried: usize,
    /// Them.
    pub jobs: Vec<RetriedJob>,
    /// The runs touched.
    pub runs: Vec<RetriedRun>,
}

/// `jobs retry`: put the target's finished jobs back to work, in one transaction.
pub async fn retry(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
    settings: &ontofleet_producer::operator::OperatorSettings,
    actor: &Actor,
) -> Result<Retried, OpsError> {
    let entry = actor.entry("jobs.retry", target_json(target));
    let r = ontofleet_producer::operator::retry_jobs(pool, target, settings, Some(&entry), None)
        .await?;
    Ok(retried(r))
}

fn retried(r: ontofleet_producer::operator::Requeued) -> Retried {
    Retried {
        retried: r.jobs.len(),
        jobs: r
            .jobs
            .into_iter()
            .map(|j| RetriedJob {
                job_id: j.job_id,
                replaced_job_id: j.replaced,
                run_id: j.run_id,
                project_id: j.project_id,
                previous_status: j.previous_status,
                category: j.category,
            })
            .collect(),
        runs: r
            .runs
            .into_iter()
            .map(|c| RetriedRun {
                run_id: c.run_id,
                previous_status: c.previous_status,
                status: c.status,
                reopened: c.reopened,
                superseded_run_id: c.superseded,
            })
            .collect(),
    }
}

fn target_json(target: &ontofleet_producer::operator::RetryTarget) -> Value {
    use ontofleet_producer::operator::RetryTarget;
    match target {
        RetryTarget::Jobs(ids) => json!({"job_ids": ids}),
        RetryTarget::Run { run_id, category } => {
            json!({"run_id": run_id, "category": category.map(|c| c.as_str())})
        }
    }
}

/// How long a retry preview's selection token stays valid.
pub const SELECTION_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// The first step of a retry from the API: what would be retried, and the token that executes
/// exactly that.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetryPreview {
    /// Jobs the filter selects now.
    pub count: usize,
    /// The first of them (by run and project).
    pub sample: Vec<JobSummary>,
    /// Pass back as `selection_token` to retry exactly these jobs.
    pub selection_token: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// The token of a selection: expiry, count and a SHA-256 over the filter, the expiry and the
/// selected jobs with their item status and last change. Anything that changes the selection or
/// one of its items changes the hash.
fn selection_token(
    target: &ontofleet_producer::operator::RetryTarget,
    views: &[JobView],
    expires: i64,
) -> String {
    use sha2::{Digest, Sha256};
    let mut rows: Vec<String> = views
        .iter()
        .map(|v| {
            format!(
                "{}|{}|{}",
                v.job_id,
                v.item_status,
                v.updated_at.timestamp_micros()
            )
        })
        .collect();
    rows.sort();
    let mut h = Sha256::new();
    h.update(target_json(target).to_string());
    h.update(expires.to_be_bytes());
    for r in &rows {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    format!("v1.{expires}.{}.{}", views.len(), hex::encode(h.finalize()))
}

/// `POST /jobs/retry` without a token: count, sample and selection token; changes nothing.
pub async fn retry_preview(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
) -> Result<RetryPreview, OpsError> {
    let mut tx = pool.begin().await?;
    let views = ontofleet_producer::operator::retry_selection(&mut tx, target)
        .await?
        .unwrap_or_default();
    // The selection was read under the retry's own row locks; nothing is written.
    tx.rollback().await?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(SELECTION_TOKEN_TTL).unwrap_or(chrono::Duration::minutes(10));
    Ok(RetryPreview {
        count: views.len(),
        sample: views.iter().take(10).map(JobSummary::from).collect(),
        selection_token: selection_token(target, &views, expires_at.timestamp()),
        expires_at,
    })
}

/// `POST /jobs/retry` with the preview's token: retries exactly the previewed jobs, or refuses
/// (409) when the filter now selects anything else, or when the token has expired.
pub async fn retry_with_token(
    pool: &PgPool,
    target: &ontofleet_producer::operator::RetryTarget,
    token: &str,
    settings: &ontofleet_producer::operator::OperatorSettings,
    actor: &Actor,
) -> Result<Retried, OpsError> {
    let expires: i64 = token
        .split('.')
        .nth(1)
        .and_then(|e| e.parse().ok())
        .filter(|_| token.starts_with("v1."))
        .ok_or_else(|| {
            OpsError::Invalid("selection_token is not a token a retry preview returned".to_owned())
        })?;
    if expires < Utc::now().timestamp() {
        return Err(OpsError::Conflict(
            "the selection token has expired; preview the retry again".to_owned(),
        ));
    }
    let expected = token.to_owned();
    let check = move |views: &[JobView]| -> bool {
        use subtle::ConstantTimeEq;
        bool::from(
            selection_token(target, views, expires)
                .as_bytes()
                .ct_eq(expected.as_bytes()),
        )
    };
    let mut filter = target_json(target);
    filter["selection_token"] = json!(token.split('.').take(3).collect::<Vec<_>>().join("."));
    let entry = actor.entry("jobs.retry", filter);
    let r = ontofleet_producer::operator::retry_jobs(
        pool,
        target,
        settings,
        Some(&entry),
        Some(&check),
    )
    .await?;
    Ok(retried(r))
}
