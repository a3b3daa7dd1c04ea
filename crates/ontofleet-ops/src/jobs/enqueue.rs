//! `enqueue`: one project reprocessed through the ledger, in a new run or an existing one.

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;
use crate::access::Actor;

/// The response of `enqueue`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enqueued {
    /// The run the project went into.
    pub run_id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// Its job.
    pub job_id: Option<String>,
    /// A new single-project run was started.
    pub new_run: bool,
    /// A finished run was reopened for it.
    pub reopened: bool,
    /// The item's status before, when it was already in the run.
    pub previous_status: Option<String>,
}

/// `enqueue --project P [--run R]`: reprocess one project through the ledger, in a new
/// single-project run (archived and already-migrated projects included) or added to run `R`.
pub async fn enqueue(
    pool: &PgPool,
    project: Uuid,
    run: Option<Uuid>,
    producer: &ontofleet_producer::ProducerSettings,
    operator: &ontofleet_producer::operator::OperatorSettings,
    actor: &Actor,
) -> Result<Enqueued, OpsError> {
    let entry = actor.entry(
        "project.enqueue",
        json!({"project_id": project, "run_id": run}),
    );
    match run {
        Some(run) => {
            let report = ontofleet_producer::operator::enqueue_into_run(
                pool,
                run,
                project,
                operator,
                Some(&entry),
            )
            .await?;
            Ok(Enqueued {
                run_id: run,
                project_id: project,
                job_id: report.jobs.first().map(|j| j.job_id.clone()),
                new_run: false,
                reopened: report.runs.first().is_some_and(|c| c.reopened),
                previous_status: report.jobs.first().map(|j| j.previous_status.clone()),
            })
        }
        None => {
            let request = ontofleet_producer::RunRequest {
                selection: ontofleet_producer::Selection::Projects(vec![project]),
                // Named explicitly: archived or already migrated, the operator wants it processed.
                include_archived: true,
                include_completed_tasks: false,
                resync: true,
                dry_run: false,
                force: operator.force,
                initiated_by: operator.initiated_by.clone(),
                error_budget: None,
                changed_since: None,
                allow_mass_delete: false,
            };
            let started =
                ontofleet_producer::start_run(pool, &request, producer, Some(&entry)).await?;
            let mut conn = pool.acquire().await?;
            let item = ontofleet_db::ledger::get_item(&mut conn, started.run_id, project).await?;
            Ok(Enqueued {
                run_id: started.run_id,
                project_id: project,
                job_id: item.and_then(|i| i.job_id),
                new_run: true,
                reopened: false,
                previous_status: None,
            })
        }
    }
}
