//! The per-project transform of ontofleet: load a legacy project, classify its tasks, resolve
//! templates, map every field, and write ontology rows, edges, mappings and `migration_log` rows
//! in the caller's transaction. Entity-level problems are logged with a category while the rest
//! of the project migrates; only errors that make the whole project impossible are returned.

pub mod checksum;
pub mod classify;
pub mod infer;
pub mod load;
pub mod rules;
pub mod templates;
pub mod transform;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;

use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::classify::{Classifier, ClassifyError, RulesClassifier, TaskText};
use crate::templates::TemplateCatalog;
pub use crate::transform::RunContext;
use crate::transform::{ChangeSet, ledger_action};

/// Errors that fail the whole project (entity-level problems are not errors).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The project was deleted between enqueue and execution.
    #[error("legacy project {0} no longer exists")]
    ProjectGone(Uuid),
    /// A row could not be read into its expected shape.
    #[error("unreadable legacy data: {0}")]
    Unreadable(String),
    /// The classifier failed.
    #[error("classifier failed: {0}")]
    Classifier(#[from] ClassifyError),
    /// A database statement failed.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

impl PipelineError {
    /// How the worker must treat this failure (decided from the typed cause).
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::ProjectGone(_) | Self::Unreadable(_) => ErrorCategory::Fatal,
            Self::Classifier(e) => e.category(),
            Self::Sqlx(e) => ontofleet_db::category_of(e),
        }
    }
}

/// What a worker keeps for the whole process: the template cache and the classifier.
#[derive(Clone)]
pub struct Pipeline {
    /// Templates, loaded once.
    pub catalog: Arc<TemplateCatalog>,
    /// The configured classifier.
    pub classifier: Arc<dyn Classifier>,
    /// How all-numeric dates in descriptions are read (`pipeline.day_first`).
    pub date_order: infer::DateOrder,
}

impl Pipeline {
    /// A pipeline with the embedded rules classifier.
    pub fn with_rules(catalog: TemplateCatalog) -> Self {
        Self {
            catalog: Arc::new(catalog),
            classifier: Arc::new(RulesClassifier),
            date_order: infer::DateOrder::MonthFirst,
        }
    }

    /// Read all-numeric dates day first (`20/06/2026`) instead of month first.
    pub fn day_first(mut self, day_first: bool) -> Self {
        self.date_order = if day_first {
            infer::DateOrder::DayFirst
        } else {
            infer::DateOrder::MonthFirst
        };
        self
    }
}

/// The outcome of one project.
#[derive(Debug, Clone)]
pub struct ProjectOutcome {
    /// Entity problems were logged.
    pub partial: bool,
    /// Counts by entity and action.
    pub counts: Value,
    /// Preview of what would be written (dry runs and `run preview`).
    pub preview: Option<Value>,
}

pub use ontofleet_core::project_lock_key;

/// Migrate (or, with `ctx.dry_run`, preview) one project inside the caller's transaction.
/// The caller holds the advisory lock of [`project_lock_key`] and commits. `Ok(None)`: with
/// `ctx.item_gate`, the run's item was missing or already terminal, and nothing was written.
pub async fn migrate_project(
    conn: &mut PgConnection,
    pipeline: &Pipeline,
    ctx: &RunContext,
    project_id: Uuid,
) -> Result<Option<ProjectOutcome>, PipelineError> {
    let legacy = match load::load_project(&mut *conn, project_id, ctx.run_id, ctx.item_gate).await?
    {
        load::Loaded::Project(legacy) => legacy,
        load::Loaded::Gone => return Err(PipelineError::ProjectGone(project_id)),
        load::Loaded::ItemFinished => return Ok(None),
    };
    // Classify only the tasks whose rows will be written: unchanged ones keep their props.
    let (selected, _) = transform::select_tasks(&legacy, ctx);
    let to_classify: Vec<&load::Task> = selected
        .iter()
        .filter(|t| {
            ledger_action(&legacy.mappings, "tasks", t.data.id, &t.checksum)
                .0
                .writes()
        })
        .map(|t| &t.data)
        .collect();
    let texts: Vec<TaskText<'_>> = to_classify
        .iter()
        .map(|t| TaskText {
            title: &t.title,
            description: t.description.as_deref(),
            details: t.details.as_deref(),
        })
        .collect();
    let classifications = if texts.is_empty() {
        Vec::new()
    } else if ctx.fallback {
        RulesClassifier.classify(&texts).await?
    } else {
        pipeline.classifier.classify(&texts).await?
    };
    let classified: HashMap<Uuid, _> = to_classify
        .iter()
        .map(|t| t.id)
        .zip(classifications)
        .collect();
    let cs = transform::build(
        &legacy,
        ctx,
        &pipeline.catalog,
        &classified,
        pipeline.date_order,
    );
    if ctx.dry_run {
        let counts = cs.counts(0, 0);
        return Ok(Some(ProjectOutcome {
            partial: cs.has_problems(),
            preview: Some(preview(&cs, &counts)),
            counts,
        }));
    }
    let actor = match legacy.user.actor_id {
        Some(actor) => actor,
        None => write::ensure_actor(&mut *conn, &legacy.user).await?,
    };
    let stats = write::write(&mut *conn, &cs, ctx, actor, legacy.user.id).await?;
    Ok(Some(ProjectOutcome {
        partial: cs.has_problems(),
        counts: cs.counts(stats.edges_inserted, stats.edges_deleted),
        preview: None,
    }))
}

/// What a live run would write, per entity: action, type key, state; and the data problems.
pub fn preview(cs: &ChangeSet, counts: &Value) -> Value {
    const MAX_LISTED: usize = 200;
    json!({
        "project": {
            "legacy_id": cs.project.legacy_id, "name": cs.project.row.name, "action": cs.project.action.as_str(),
            "type_key": cs.project.row.type_key, "state_key": cs.project.row.state_key,
            "facets": {"context": cs.project.row.facet_context, "scale": cs.project.row.facet_scale, "stage": cs.project.row.facet_stage},
        },
        "counts": counts,
        "plans": cs.plans.iter().take(MAX_LISTED).map(|p| json!({
            "legacy_id": p.legacy_id, "name": p.row.name, "action": p.action.as_str(), "state_key": p.row.state_key,
        })).collect::<Vec<_>>(),
        "tasks": cs.tasks.iter().take(MAX_LISTED).map(|t| json!({
            "legacy_id": t.legacy_id, "title": t.row.title.chars().take(120).collect::<String>(),
            "action": t.action.as_str(), "type_key": t.row.type_key, "state_key": t.row.state_key, "priority": t.row.priority,
        })).collect::<Vec<_>>(),
        "events": cs.events.len(),
        "edges": cs.edges.len(),
        "problems": cs.problems.iter().map(|p| json!({
            "entity_type": p.entity_type, "legacy_id": p.legacy_id, "status": p.status,
            "category": p.category.as_str(), "message": p.message,
        })).collect::<Vec<_>>(),
    })
}
