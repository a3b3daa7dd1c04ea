//! `GET /api/v1/audit`: the append-only record of every operator mutation, newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::OpsError;

/// One audit row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing id.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Token name, or `user@host (cli)`.
    pub actor: String,
    /// `viewer`, `operator`, `admin` or `cli`.
    pub role: String,
    /// What (`run.cancel`, `jobs.retry`, …).
    pub action: String,
    /// On what.
    pub filter: Value,
    /// Rows affected.
    pub affected: Option<i64>,
    /// The HTTP request id.
    pub request_id: Option<String>,
}

/// A page of the audit log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub entries: Vec<AuditView>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// Audit rows older than `before` (an id), newest first.
pub async fn list(pool: &PgPool, before: Option<i64>, limit: i64) -> Result<AuditList, OpsError> {
    if !(1..=500).contains(&limit) {
        return Err(OpsError::Invalid(
            "limit must be between 1 and 500".to_owned(),
        ));
    }
    let mut conn = pool.acquire().await?;
    let rows = ontofleet_db::admin::list_audit(&mut conn, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let entries: Vec<AuditView> = rows
        .into_iter()
        .take(limit as usize)
        .map(|r| AuditView {
            id: r.id,
            at: r.at,
            actor: r.actor,
            role: r.role,
            action: r.action,
            filter: r.filter,
            affected: r.affected,
            request_id: r.request_id,
        })
        .collect();
    Ok(AuditList {
        next_before: if more {
            entries.last().map(|e| e.id)
        } else {
            None
        },
        entries,
    })
}
