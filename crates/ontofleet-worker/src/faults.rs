//! Test-only fault injection (`[faults]` in a test build's configuration; the `faults` cargo
//! feature, which `make build` and the test suites enable and release builds do not): hold
//! every project transaction open, or make the first attempts of a project fail in a chosen
//! way, where a real failure would strike.

use std::time::Duration;

use ontofleet_core::{ErrorCategory, ItemStatus};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::handler::AttemptError;

/// Test-only fault injection (`[faults]` in the configuration). Off by default; a worker that
/// has any fault enabled says so in its log at start.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Hold every project transaction open this long before committing, so that kills land
    /// mid-transaction (0 = off).
    pub delay: Duration,
    /// Fail the first attempts of one project (or of every project) in a chosen way.
    pub fail: Option<FailRule>,
}

/// "Fail the first `attempts` attempts of `project` with `kind`."
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailRule {
    /// The legacy project; `None` = every project.
    pub project: Option<Uuid>,
    /// How the attempt fails.
    pub kind: FaultKind,
    /// Attempts (1-based, as counted by the item) that fail.
    pub attempts: u32,
}

/// The ways an injected fault makes an attempt fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// An error of this category, raised where a real one would be (inside the transaction).
    Category(ErrorCategory),
    /// A panic inside the handler.
    Panic,
    /// An attempt that outlives the job timeout.
    Timeout,
}

impl std::str::FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "panic" => Ok(Self::Panic),
            "timeout" => Ok(Self::Timeout),
            other => other.parse::<ErrorCategory>().map(Self::Category).map_err(|_| {
                format!("unknown fault `{other}` (expected recoverable, data, fatal, panic or timeout)")
            }),
        }
    }
}

impl Faults {
    /// Whether any fault is enabled.
    pub fn any(&self) -> bool {
        !self.delay.is_zero() || self.fail.is_some()
    }

    pub(crate) fn failing(&self, project_id: Uuid, attempt: i32) -> Option<FaultKind> {
        let rule = self.fail?;
        let applies = rule.project.is_none_or(|p| p == project_id)
            && attempt >= 1
            && attempt as u32 <= rule.attempts;
        applies.then_some(rule.kind)
    }
}

impl Faults {
    /// Hold the project transaction open for the configured delay (after its writes, before
    /// its commit), so that kills land mid-transaction.
    pub(crate) async fn hold(&self) {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
    }
}

/// Strike inside the transaction, after the project lock and before any write, and only in an
/// execution that would write (the item gate's check, made here by one more statement; for a
/// terminal item nothing happens and the pipeline's own gate stops the attempt). A timeout
/// fault sleeps past `job_timeout`.
pub(crate) async fn strike(
    kind: FaultKind,
    tx: &mut PgConnection,
    run_id: Uuid,
    project_id: Uuid,
    job_timeout: Duration,
) -> Result<(), AttemptError> {
    let status: Option<String> = sqlx::query_scalar(
        "SELECT status FROM migration_run_items WHERE run_id = $1 AND project_id = $2",
    )
    .bind(run_id)
    .bind(project_id)
    .fetch_optional(&mut *tx)
    .await?;
    if ItemStatus::stops_execution(status.as_deref()) {
        return Ok(());
    }
    match kind {
        FaultKind::Category(c) => Err(AttemptError::Injected(c)),
        FaultKind::Panic => panic!("injected panic (faults.fail_kind = panic)"),
        FaultKind::Timeout => {
            tokio::time::sleep(job_timeout + Duration::from_secs(1)).await;
            Ok(())
        }
    }
}
