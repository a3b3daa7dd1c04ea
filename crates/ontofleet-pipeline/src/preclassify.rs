//! Classification ahead of the project's transaction, for a classifier that calls out
//! ([`Classifier::fingerprint`] is `Some`): no pooled connection and no project lock is held
//! while it answers (SPEC §5.1).
//!
//! The project's task rows are read a chunk at a time by primary key; a task whose row will
//! not be written (its mapping's checksum matches) is not classified, one whose answer is in
//! `classification_cache` under the same checksum and fingerprint is not sent again, and the
//! rest go to the classifier in batches of [`Classifier::batch_size`], a few at once. Answers
//! are cached batch by batch as they arrive, so a job retried after a failed call pays only
//! for the batches that did not answer. Nothing is kept in memory beyond the chunk at hand:
//! inside the transaction, each chunk's answers are read back from the cache
//! ([`Preclassified::answers`], by primary key) and handed out by task id *and* checksum, so a
//! row that changed in between is not matched, and the transform classifies it with
//! `rules(fallback)`. A worker's memory per job stays bounded by the chunk, whatever the
//! project's size.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use uuid::Uuid;

use crate::classify::{Classification, Classifier, ClassifyError, Origin, TaskText};
use crate::load::Task;
use crate::{Pipeline, PipelineError, RunContext};

/// Batches of one project sent at once (each also waits for the classifier's own limit on
/// calls in flight per worker).
const PARALLEL_BATCHES: usize = 4;

/// What the pre-classification of one project did; its answers wait in `classification_cache`
/// for [`Preclassified::answers`], one chunk at a time.
#[derive(Debug, Default)]
pub struct Preclassified {
    /// The classifier's fingerprint, when it classified ahead (a remote classifier, not in
    /// fallback mode).
    fingerprint: Option<String>,
    /// Calls made to the classifier for this project (cache hits make none).
    pub calls: usize,
    /// Tasks answered from the cache.
    pub cached: usize,
    /// Tasks with an answer (cached or new).
    pub answered: usize,
}

/// One chunk's answers, by task id, with the checksum of the row each was made for.
#[derive(Debug, Default)]
pub struct ChunkAnswers(HashMap<Uuid, (String, Classification)>);

impl ChunkAnswers {
    /// The classification made for task `id` as of the row whose checksum is `checksum`.
    pub fn get(&self, id: Uuid, checksum: &str) -> Option<&Classification> {
        self.0
            .get(&id)
            .filter(|(sum, _)| sum == checksum)
            .map(|(_, c)| c)
    }
}

/// The cache entries of the tasks `$1` for fingerprint `$2`, by primary key.
const ANSWERS_SQL: &str = "SELECT c.task_id, c.checksum, c.result FROM unnest($1::uuid[]) AS k(id) \
   JOIN classification_cache c ON c.task_id = k.id AND c.fingerprint = $2";

impl Preclassified {
    /// Nothing classified ahead (an in-process classifier, or fallback mode).
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether the answers come from the cache (the transform must not call the classifier).
    pub fn ahead(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// The answers for the tasks `ids` (a chunk), read from the cache in the caller's
    /// transaction. Empty when nothing was classified ahead.
    pub async fn answers(
        &self,
        conn: &mut PgConnection,
        classifier: &dyn Classifier,
        ids: &[Uuid],
    ) -> Result<ChunkAnswers, PipelineError> {
        let Some(fingerprint) = self.fingerprint.as_deref() else {
            return Ok(ChunkAnswers::default());
        };
        if ids.is_empty() {
            return Ok(ChunkAnswers::default());
        }
        let rows: Vec<(Uuid, String, Value)> = sqlx::query_as(ANSWERS_SQL)
            .bind(ids)
            .bind(fingerprint)
            .fetch_all(conn)
            .await?;
        Ok(ChunkAnswers(
            rows.into_iter()
                .filter_map(|(id, sum, result)| {
                    from_cache(result, classifier).map(|c| (id, (sum, c)))
                })
                .collect(),
        ))
    }
}

/// One task row of the project as the pre-classification reads it.
#[derive(Debug, sqlx::FromRow)]
struct TaskLine {
    raw: Value,
    mapped: Option<String>,
    cached_sum: Option<String>,
    cached: Option<Value>,
}

/// A task waiting for an answer.
struct Pending {
    checksum: String,
    task: Task,
}

/// The cached form of a classification (`classification_cache.result`).
#[derive(Debug, Deserialize)]
struct CachedResult {
    type_key: String,
    classifier: String,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt_version: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn to_cache(c: &Classification) -> Value {
    json!({
        "type_key": c.type_key(),
        "classifier": c.classifier,
        "confidence": c.confidence,
        "model": c.origin.as_ref().map(|o| &o.model),
        "prompt_version": c.origin.as_ref().map(|o| &o.prompt_version),
        "reason": c.reason,
    })
}

fn from_cache(v: Value, classifier: &dyn Classifier) -> Option<Classification> {
    let r: CachedResult = serde_json::from_value(v).ok()?;
    let (work_mode, specialization) = Classification::parse_type_key(&r.type_key)?;
    // The name is one of the two a remote classifier records; anything else is not ours.
    let name = if r.classifier == classifier.name() {
        classifier.name()
    } else if r.classifier == crate::classify::FALLBACK_CLASSIFIER {
        crate::classify::FALLBACK_CLASSIFIER
    } else {
        return None;
    };
    Some(Classification {
        work_mode,
        specialization,
        confidence: r.confidence,
        classifier: name,
        origin: match (r.model, r.prompt_version) {
            (Some(model), Some(prompt_version)) => Some(Arc::new(Origin {
                model,
                prompt_version,
            })),
            _ => None,
        },
        reason: r.reason,
    })
}

/// The task ids of a project that a run selects (`$2`: completed ones too), in id order.
const IDS_SQL: &str = "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM tasks \
  WHERE project_id = $1 AND deleted_at IS NULL AND ($2 OR status <> 'done')";

/// Rows of the ids `$1`, each with the checksum its mapping was written with (only while its
/// onto row exists) and its cache entry for fingerprint `$2`; every look-up by key.
const LINES_SQL: &str = "SELECT to_json(t) AS raw, m.checksum AS mapped, c.checksum AS cached_sum, c.result AS cached \
   FROM unnest($1::uuid[]) AS k(id) \
   JOIN tasks t ON t.id = k.id \
   LEFT JOIN LATERAL (SELECT m.checksum FROM legacy_entity_mappings m \
                       WHERE m.legacy_table = 'tasks' AND m.legacy_id = k.id \
                         AND EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id) LIMIT 1) m ON true \
   LEFT JOIN LATERAL (SELECT c.checksum, c.result FROM classification_cache c \
                       WHERE c.task_id = k.id AND c.fingerprint = $2 LIMIT 1) c ON true";

const STORE_SQL: &str = "INSERT INTO classification_cache (task_id, fingerprint, checksum, result) \
   SELECT (e->>'id')::uuid, $1, e->>'checksum', e->'result' FROM jsonb_array_elements($2::jsonb) AS e \
   ON CONFLICT (task_id, fingerprint) DO UPDATE \
      SET checksum = EXCLUDED.checksum, result = EXCLUDED.result, created_at = now()";

/// Classify, ahead of the transaction, the tasks of `project_id` whose rows a run would write.
/// Returns at once with nothing for an in-process classifier and in fallback mode.
pub async fn preclassify(
    pool: &PgPool,
    pipeline: &Pipeline,
    ctx: &RunContext,
    project_id: Uuid,
) -> Result<Preclassified, PipelineError> {
    let classifier = pipeline.classifier.as_ref();
    let Some(fingerprint) = classifier.fingerprint() else {
        return Ok(Preclassified::none());
    };
    if ctx.fallback {
        return Ok(Preclassified::none());
    }
    // The `classify` stage span only where there is something to time.
    classify_ahead(pool, pipeline, ctx, project_id, fingerprint)
        .instrument(tracing::info_span!("classify"))
        .await
}

async fn classify_ahead(
    pool: &PgPool,
    pipeline: &Pipeline,
    ctx: &RunContext,
    project_id: Uuid,
    fingerprint: &str,
) -> Result<Preclassified, PipelineError> {
    let classifier = pipeline.classifier.as_ref();
    let ids: Vec<Uuid> = sqlx::query_scalar(IDS_SQL)
        .bind(project_id)
        .bind(ctx.include_completed_tasks)
        .fetch_one(pool)
        .await?;
    let mut out = Preclassified {
        fingerprint: Some(fingerprint.to_owned()),
        ..Preclassified::default()
    };
    for ids in ids.chunks(pipeline.chunk_tasks.max(1)) {
        // The connection goes back to the pool before any call is made.
        let lines: Vec<TaskLine> = sqlx::query_as(LINES_SQL)
            .bind(ids)
            .bind(fingerprint)
            .fetch_all(pool)
            .await?;
        let mut pending = Vec::new();
        for line in lines {
            let checksum = crate::checksum::checksum(&line.raw);
            if line.mapped.as_deref() == Some(checksum.as_str()) {
                continue; // unchanged: its row is not written, so not classified
            }
            let task: Task = serde_json::from_value(line.raw)
                .map_err(|e| PipelineError::Unreadable(format!("tasks row: {e}")))?;
            let hit = line
                .cached
                .filter(|_| line.cached_sum.as_deref() == Some(checksum.as_str()))
                .and_then(|v| from_cache(v, classifier));
            match hit {
                Some(_) => out.cached += 1,
                None => pending.push(Pending { checksum, task }),
            }
        }
        if pending.is_empty() {
            continue;
        }
        let (answers, calls, failure) = classify_pending(classifier, &pending).await;
        out.calls += calls;
        if !answers.is_empty() {
            let rows: Vec<Value> = answers
                .iter()
                .map(|(i, c)| {
                    json!({"id": pending[*i].task.id, "checksum": pending[*i].checksum, "result": to_cache(c)})
                })
                .collect();
            sqlx::query(STORE_SQL)
                .bind(fingerprint)
                .bind(Value::Array(rows))
                .execute(pool)
                .await?;
        }
        if let Some(e) = failure {
            return Err(PipelineError::Classifier(e));
        }
        out.answered += answers.len();
    }
    out.answered += out.cached;
    Ok(out)
}

type BatchFuture<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (usize, Result<Vec<Classification>, ClassifyError>)>
            + Send
            + 'a,
    >,
>;

/// Send `pending` in batches, [`PARALLEL_BATCHES`] at once. Returns the answers by index into
/// `pending`, the number of batches sent, and the first failure (the most useful one: a
/// recoverable failure with the longest `retry_after` wins over a later one without).
async fn classify_pending(
    classifier: &dyn Classifier,
    pending: &[Pending],
) -> (Vec<(usize, Classification)>, usize, Option<ClassifyError>) {
    let size = classifier.batch_size().max(1);
    let batches: Vec<(usize, &[Pending])> = pending
        .chunks(size)
        .enumerate()
        .map(|(i, b)| (i * size, b))
        .collect();
    let calls = batches.len();
    // Boxed up front: a stream of closures borrowing `pending` trips the compiler's `Send`
    // inference for the worker's job future.
    let futures: Vec<BatchFuture<'_>> = batches
        .into_iter()
        .map(|(start, batch)| -> BatchFuture<'_> {
            Box::pin(async move {
                let texts: Vec<TaskText<'_>> = batch.iter().map(|p| p.task.text()).collect();
                (start, classifier.classify(&texts).await)
            })
        })
        .collect();
    let mut results = futures::stream::iter(futures).buffer_unordered(PARALLEL_BATCHES);
    let mut answers = Vec::with_capacity(pending.len());
    let mut failure: Option<ClassifyError> = None;
    while let Some((start, result)) = results.next().await {
        match result {
            Ok(classified) => {
                // One answer per task of the batch, whatever a classifier returns.
                let len = size.min(pending.len() - start);
                answers.extend(
                    classified
                        .into_iter()
                        .take(len)
                        .enumerate()
                        .map(|(i, c)| (start + i, c)),
                );
            }
            Err(e) => {
                let worse = match &failure {
                    None => true,
                    Some(prev) => e.retry_after() > prev.retry_after(),
                };
                if worse {
                    failure = Some(e);
                }
            }
        }
    }
    (answers, calls, failure)
}
