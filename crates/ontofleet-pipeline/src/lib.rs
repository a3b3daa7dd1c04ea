//! The per-project transform of ontofleet: load a legacy project, classify its tasks, resolve
//! templates, map every field, and write ontology rows, edges, mappings and `migration_log` rows
//! in the caller's transaction. Entity-level problems are logged with a category while the rest
//! of the project migrates; only errors that make the whole project impossible are returned.

pub mod checksum;
pub mod classify;
pub mod delete;
pub mod infer;
pub mod load;
pub mod preclassify;
pub mod rules;
pub mod templates;
pub mod transform;
pub mod write;

use std::collections::HashMap;
use std::sync::Arc;

use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use sqlx::PgConnection;
use tracing::Instrument;
use uuid::Uuid;

use crate::classify::{Classification, Classifier, ClassifyError, RulesClassifier, TaskText};
pub use crate::preclassify::{ChunkAnswers, Preclassified, preclassify};
use crate::templates::TemplateCatalog;
pub use crate::transform::RunContext;
use crate::transform::{EdgeCounts, ProjectPlan, Tally, TaskBatch};

/// Errors that fail the whole project (entity-level problems are not errors).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The project was deleted between enqueue and execution, and had never been migrated.
    #[error("legacy project {0} no longer exists")]
    ProjectGone(Uuid),
    /// The pass would delete too large a share of the project ([`delete::DeletePolicy`]).
    #[error("{0}")]
    MassDelete(String),
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
            Self::MassDelete(_) => ErrorCategory::Data,
            Self::Classifier(e) => e.category(),
            Self::Sqlx(e) => ontofleet_db::category_of(e),
        }
    }

    /// The earliest time to try again, when the classifier's server named one.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Classifier(e) => e.retry_after(),
            _ => None,
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
    /// Tasks read, transformed and written at once (`pipeline.chunk_tasks`): a project's
    /// memory is bounded by this, whatever its size.
    pub chunk_tasks: usize,
}

/// Default of [`Pipeline::chunk_tasks`]: big enough that nearly every project is one load and
/// one write statement, small enough that a chunk's rows take a few megabytes.
pub const DEFAULT_CHUNK_TASKS: usize = 1_000;

impl Pipeline {
    /// A pipeline with the embedded rules classifier.
    pub fn with_rules(catalog: TemplateCatalog) -> Self {
        Self::with_classifier(Arc::new(catalog), Arc::new(RulesClassifier))
    }

    /// A pipeline with `classifier` (built over the same `catalog`).
    pub fn with_classifier(catalog: Arc<TemplateCatalog>, classifier: Arc<dyn Classifier>) -> Self {
        Self {
            catalog,
            classifier,
            date_order: infer::DateOrder::MonthFirst,
            chunk_tasks: DEFAULT_CHUNK_TASKS,
        }
    }

    /// Process at most `n` tasks at once.
    pub fn chunk_tasks(mut self, n: usize) -> Self {
        self.chunk_tasks = n.max(1);
        self
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
    /// Entities not written, by (entity, status): `failed` or `skipped` (for the metrics).
    pub not_written: Vec<(&'static str, &'static str, usize)>,
}

pub use ontofleet_core::project_lock_key;

/// Migrate (or, with `ctx.dry_run`, preview) one project inside the caller's transaction.
/// The caller holds the advisory lock of [`project_lock_key`] and commits. `Ok(None)`: with
/// `ctx.item_gate`, the run's item was missing or already terminal, and nothing was written.
///
/// The project is planned from its outline, then its tasks are read, classified, transformed and
/// written a chunk at a time ([`Pipeline::chunk_tasks`]), all in the caller's transaction. A
/// remote classifier's answers come from `pre` ([`preclassify`], called before the
/// transaction); an in-process one is called here.
pub async fn migrate_project(
    conn: &mut PgConnection,
    pipeline: &Pipeline,
    ctx: &RunContext,
    project_id: Uuid,
    pre: &Preclassified,
) -> Result<Option<ProjectOutcome>, PipelineError> {
    let loaded = match load::load_project(
        &mut *conn,
        project_id,
        ctx.run_id,
        ctx.item_gate,
        pipeline.chunk_tasks,
    )
    .instrument(tracing::info_span!("load"))
    .await?
    {
        load::Loaded::Project(loaded) => loaded,
        load::Loaded::Gone => return vanished(conn, ctx, project_id).await.map(Some),
        load::Loaded::ItemFinished => return Ok(None),
    };
    let load::LoadedProject { outline, mut rows } = *loaded;
    let plan = transform::plan_project(&outline, ctx, &pipeline.catalog, pipeline.date_order);
    // Rows the source deleted, before the edge diff (their edges go with them).
    let doomed = delete::find(&mut *conn, &outline, &plan)
        .instrument(tracing::info_span!("load"))
        .await?;
    if !doomed.is_empty() {
        ctx.deletes
            .check(
                doomed.len(),
                delete::mapped_rows(&outline.mappings, &doomed),
            )
            .map_err(PipelineError::MassDelete)?;
    }
    let mut tally = Tally::default();
    tally.deleted(&doomed);
    tally.entities("project", std::slice::from_ref(&plan.project));
    tally.entities("document", plan.document.as_slice());
    tally.entities("plan", &plan.plans);
    tally.problems(&plan.problems);
    let mut edges = EdgeCounts {
        desired: plan.edges.len(),
        ..EdgeCounts::default()
    };
    let mut preview = ctx.dry_run.then(|| Preview::new(&plan));
    let mut writer = if ctx.dry_run {
        None
    } else {
        let actor = match outline.user.actor_id {
            Some(actor) => actor,
            None => write::ensure_actor(&mut *conn, &outline.user).await?,
        };
        edges.deleted = delete::apply(&mut *conn, &doomed, ctx.run_id, outline.user.id, project_id)
            .instrument(tracing::info_span!("write"))
            .await?;
        let (missing, deleted) = write::diff_edges(&mut *conn, &plan).await?;
        edges.inserted = missing.len();
        edges.deleted += deleted;
        Some(Writer {
            owner: write::Owner {
                project_onto: plan.project.onto_id,
                project_legacy: plan.project.legacy_id,
                actor,
                user_id: outline.user.id,
            },
            chunks_left: outline.tasks.len().div_ceil(pipeline.chunk_tasks).max(1),
            missing,
            first: true,
            // The ledger's record of the project's shape, when it changed (catch-up passes
            // compare it with the source to find deletions).
            shape: Some(outline.shape()).filter(|s| outline.recorded_shape != Some(*s)),
        })
    };
    // Stage spans (`load`, `classify`, `transform`, `write`): the telemetry times them.
    while let Some(chunk) = rows
        .next(&mut *conn)
        .instrument(tracing::info_span!("load"))
        .await?
    {
        // A remote classifier's answers for this chunk, read back from the cache.
        let answers = if pre.ahead() && !ctx.fallback {
            let ids: Vec<Uuid> = chunk.tasks.iter().map(|t| t.data.id).collect();
            pre.answers(&mut *conn, pipeline.classifier.as_ref(), &ids)
                .instrument(tracing::info_span!("load"))
                .await?
        } else {
            ChunkAnswers::default()
        };
        let batch = transform_chunk(pipeline, ctx, &outline, &plan, &chunk, &answers)
            .instrument(tracing::info_span!("transform"))
            .await?;
        drop(chunk);
        tally.entities("task", &batch.tasks);
        tally.entities("event", &batch.events);
        tally.problems(&batch.problems);
        tally.classified(&batch.classified);
        if let Some(preview) = preview.as_mut() {
            preview.add(&batch);
        }
        if let Some(writer) = writer.as_mut() {
            writer
                .write(&mut *conn, &plan, &batch, ctx)
                .instrument(tracing::info_span!("write"))
                .await?;
        }
    }
    if let Some(writer) = writer.as_mut() {
        // A project without task rows (or whose edges outnumber the chunks' shares) still
        // writes its project-level rows and remaining edges.
        writer
            .finish(&mut *conn, &plan, ctx)
            .instrument(tracing::info_span!("write"))
            .await?;
    }
    let counts = tally.to_json(&edges, plan.skipped_completed);
    Ok(Some(ProjectOutcome {
        not_written: tally
            .not_written
            .iter()
            .map(|((e, s), n)| (*e, *s, *n))
            .collect(),
        partial: tally.has_problems(),
        preview: preview.map(|p| p.finish(&plan, &counts)),
        counts,
    }))
}

/// A legacy project that no longer exists: if it was migrated, everything it has in the target
/// is deleted (within the mass-delete guard, which a whole project always exceeds past
/// [`delete::MASS_DELETE_FLOOR`] rows); if it never was, the job fails as before.
async fn vanished(
    conn: &mut PgConnection,
    ctx: &RunContext,
    project_id: Uuid,
) -> Result<ProjectOutcome, PipelineError> {
    let Some((onto, user_id)) = delete::vanished_project(&mut *conn, project_id).await? else {
        return Err(PipelineError::ProjectGone(project_id));
    };
    let doomed = delete::everything_under(&mut *conn, onto).await?;
    ctx.deletes
        .check(doomed.len(), doomed.len())
        .map_err(PipelineError::MassDelete)?;
    let mut tally = Tally::default();
    tally.deleted(&doomed);
    let mut edges = EdgeCounts::default();
    if !ctx.dry_run {
        edges.deleted = delete::apply(&mut *conn, &doomed, ctx.run_id, user_id, project_id)
            .instrument(tracing::info_span!("write"))
            .await?;
        sqlx::query("DELETE FROM migration_project_sync WHERE project_id = $1")
            .bind(project_id)
            .execute(&mut *conn)
            .await?;
    }
    let counts = tally.to_json(&edges, 0);
    Ok(ProjectOutcome {
        partial: false,
        preview: ctx.dry_run.then(|| {
            json!({
                "project": {"legacy_id": project_id, "action": "deleted"},
                "counts": counts,
                "plans": [], "tasks": [], "events": 0, "edges": 0, "problems": [],
            })
        }),
        counts,
        not_written: Vec::new(),
    })
}

/// Classify and transform one chunk of task rows.
async fn transform_chunk(
    pipeline: &Pipeline,
    ctx: &RunContext,
    outline: &load::Outline,
    plan: &ProjectPlan,
    chunk: &load::Chunk,
    answers: &ChunkAnswers,
) -> Result<TaskBatch, PipelineError> {
    // Classify only the tasks whose rows will be written: unchanged ones keep their props.
    let to_classify = transform::tasks::tasks_to_write(plan, &outline.mappings, chunk);
    let texts: Vec<TaskText<'_>> = to_classify.iter().map(|t| t.data.text()).collect();
    let remote = pipeline.classifier.fingerprint().is_some();
    let classifications = async {
        Ok::<_, ClassifyError>(if texts.is_empty() {
            Vec::new()
        } else if ctx.fallback && remote {
            texts
                .iter()
                .map(|t| Classification::fallback(t, "fallback attempt"))
                .collect()
        } else if ctx.fallback {
            RulesClassifier.classify(&texts).await?
        } else if remote {
            // Never a call here, with the lock held: a row that changed since it was classified
            // (another checksum) or that was not classified at all gets `rules(fallback)`.
            to_classify
                .iter()
                .zip(&texts)
                .map(|(t, text)| match answers.get(t.data.id, &t.checksum) {
                    Some(c) => c.clone(),
                    None => Classification::fallback(text, "changed after classification"),
                })
                .collect()
        } else {
            pipeline.classifier.classify(&texts).await?
        })
    }
    .instrument(tracing::info_span!("classify"))
    .await?;
    let mut by_classifier = std::collections::BTreeMap::new();
    for c in &classifications {
        *by_classifier.entry(c.classifier).or_default() += 1;
    }
    let classified: HashMap<Uuid, _> = to_classify
        .iter()
        .map(|t| t.data.id)
        .zip(classifications)
        .collect();
    let mut batch = transform::build_tasks(
        plan,
        &outline.mappings,
        chunk,
        ctx,
        &pipeline.catalog,
        &classified,
        pipeline.date_order,
    );
    batch.classified = by_classifier;
    Ok(batch)
}

/// Writes a project batch by batch: the project-level rows and the stale-edge deletion with the
/// first, the missing edges spread evenly over the batches so no statement carries them all.
struct Writer<'p> {
    owner: write::Owner,
    chunks_left: usize,
    missing: Vec<&'p transform::Edge>,
    first: bool,
    shape: Option<load::Shape>,
}

impl<'p> Writer<'p> {
    async fn write(
        &mut self,
        conn: &mut PgConnection,
        plan: &'p ProjectPlan,
        batch: &TaskBatch,
        ctx: &RunContext,
    ) -> Result<(), sqlx::Error> {
        let share = self.missing.len().div_ceil(self.chunks_left.max(1));
        let edges: Vec<&transform::Edge> = self
            .missing
            .drain(..share.min(self.missing.len()))
            .collect();
        self.chunks_left = self.chunks_left.saturating_sub(1);
        let first = std::mem::take(&mut self.first);
        let problems: Vec<transform::Problem>;
        let problems = if first {
            problems = plan
                .problems
                .iter()
                .chain(&batch.problems)
                .cloned()
                .collect();
            &problems[..]
        } else {
            &batch.problems[..]
        };
        let out = write::Batch {
            project: first.then_some(&plan.project),
            document: if first { plan.document.as_ref() } else { None },
            plans: if first { &plan.plans } else { &[] },
            tasks: &batch.tasks,
            events: &batch.events,
            problems,
            edges: &edges,
            shape: if first { self.shape.as_ref() } else { None },
        };
        write::write_batch(conn, &out, &self.owner, ctx).await
    }

    async fn finish(
        &mut self,
        conn: &mut PgConnection,
        plan: &'p ProjectPlan,
        ctx: &RunContext,
    ) -> Result<(), sqlx::Error> {
        if self.first || !self.missing.is_empty() {
            self.chunks_left = 1;
            self.write(conn, plan, &TaskBatch::default(), ctx).await?;
        }
        Ok(())
    }
}

/// What a live run would write, per entity: action, type key, state; and the data problems.
/// Built up batch by batch; only the first [`Preview::MAX_LISTED`] plans and tasks are listed.
struct Preview {
    tasks: Vec<Value>,
    events: usize,
    problems: Vec<Value>,
}

impl Preview {
    const MAX_LISTED: usize = 200;

    fn new(plan: &ProjectPlan) -> Self {
        Self {
            tasks: Vec::new(),
            events: 0,
            problems: plan.problems.iter().map(problem_json).collect(),
        }
    }

    fn add(&mut self, batch: &TaskBatch) {
        let room = Self::MAX_LISTED.saturating_sub(self.tasks.len());
        self.tasks.extend(batch.tasks.iter().take(room).map(|t| json!({
            "legacy_id": t.legacy_id, "title": t.row.title.chars().take(120).collect::<String>(),
            "action": t.action.as_str(), "type_key": t.row.type_key, "state_key": t.row.state_key, "priority": t.row.priority,
        })));
        self.events += batch.events.len();
        self.problems
            .extend(batch.problems.iter().map(problem_json));
    }

    fn finish(self, plan: &ProjectPlan, counts: &Value) -> Value {
        json!({
            "project": {
                "legacy_id": plan.project.legacy_id, "name": plan.project.row.name, "action": plan.project.action.as_str(),
                "type_key": plan.project.row.type_key, "state_key": plan.project.row.state_key,
                "facets": {"context": plan.project.row.facet_context, "scale": plan.project.row.facet_scale, "stage": plan.project.row.facet_stage},
            },
            "counts": counts,
            "plans": plan.plans.iter().take(Self::MAX_LISTED).map(|p| json!({
                "legacy_id": p.legacy_id, "name": p.row.name, "action": p.action.as_str(), "state_key": p.row.state_key,
            })).collect::<Vec<_>>(),
            "tasks": self.tasks,
            "events": self.events,
            "edges": plan.edges.len(),
            "problems": self.problems,
        })
    }
}

fn problem_json(p: &transform::Problem) -> Value {
    json!({
        "entity_type": p.entity_type, "legacy_id": p.legacy_id, "status": p.status,
        "category": p.category.as_str(), "message": p.message,
    })
}

/// `1203` → `1,203`, for messages an operator reads.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
