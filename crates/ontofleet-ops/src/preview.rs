//! `run preview`: the live pipeline, in dry-run mode, for the first selected projects, each in a
//! read-only transaction that is rolled back. Writes nothing (a remote classifier's answers
//! aside, which are cached as in a run).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ontofleet_core::ErrorCategory;
use ontofleet_pipeline::templates::TemplateCatalog;
use ontofleet_pipeline::{Pipeline, RunContext};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::OpsError;

/// What `run preview` is asked for.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// Which projects.
    pub selection: ontofleet_producer::Selection,
    /// The first this many selected projects (by id) are previewed.
    pub limit: usize,
    /// Archived projects too.
    pub include_archived: bool,
    /// Done tasks too.
    pub include_completed_tasks: bool,
    /// Already-migrated projects too.
    pub resync: bool,
}

/// Totals over the previewed projects.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewTotals {
    /// Projects the selection holds.
    pub projects_selected: usize,
    /// Projects previewed (at most the limit).
    pub projects_previewed: usize,
    /// Projects whose preview failed.
    pub projects_failed: usize,
    /// Projects with entity problems.
    pub projects_with_problems: usize,
    /// More were selected than previewed.
    pub limited: bool,
    /// `counts` of the previews, summed field by field.
    pub counts: Value,
    /// Type keys of the tasks that would be written.
    pub task_type_keys: BTreeMap<String, u64>,
    /// States of the plans.
    pub plan_states: BTreeMap<String, u64>,
}

/// The response of `run preview`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Preview {
    /// The reference time the previews used.
    pub reference_time: DateTime<Utc>,
    /// Per project: the pipeline's preview, or `{project, error}`.
    pub projects: Vec<Value>,
    /// Totals.
    pub totals: PreviewTotals,
}

/// `run preview`. `pipeline` builds the live pipeline over the loaded templates (the caller's
/// classifier configuration), once the selection has been checked.
pub async fn preview(
    pool: &PgPool,
    req: &PreviewRequest,
    pipeline: impl FnOnce(TemplateCatalog) -> Result<Pipeline, OpsError>,
) -> Result<Preview, OpsError> {
    if req.limit < 1 {
        return Err(OpsError::Invalid("--limit must be at least 1".to_owned()));
    }
    let (mut project_ids, reference_time) = {
        let mut conn = pool.acquire().await?;
        ontofleet_producer::check_selection(&mut conn, &req.selection)
            .await
            .map_err(|e| match e {
                ontofleet_producer::ProducerError::NotFound(_) => OpsError::NotFound(e.to_string()),
                other => OpsError::Unavailable(other.to_string()),
            })?;
        let ids = ontofleet_producer::select_projects(
            &mut conn,
            &req.selection,
            req.include_archived,
            req.resync,
        )
        .await?;
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT now()")
            .fetch_one(&mut *conn)
            .await?;
        (ids, now)
    };
    let selected = project_ids.len();
    project_ids.truncate(req.limit);
    let catalog = TemplateCatalog::load(pool)
        .await
        .map_err(|e| OpsError::Unavailable(format!("cannot load the templates: {e}")))?;
    let pipeline = pipeline(catalog)?;
    let mut ctx = RunContext {
        run_id: Uuid::nil(),
        reference_time,
        include_completed_tasks: req.include_completed_tasks,
        fallback: false,
        dry_run: true,
        item_gate: false,
        deletes: ontofleet_pipeline::delete::DeletePolicy::default(),
    };
    let mut previews = Vec::with_capacity(project_ids.len());
    for project_id in &project_ids {
        ctx.fallback = false;
        let mut entry = preview_one(pool, &pipeline, &ctx, *project_id).await;
        // A live run gives a project with a data error one attempt in fallback mode.
        if let Err((ErrorCategory::Data, message)) = &entry {
            ctx.fallback = true;
            let reason = message.clone();
            entry = preview_one(pool, &pipeline, &ctx, *project_id)
                .await
                .map(|mut p| {
                    p["fallback"] = json!({"reason": reason});
                    p
                });
        }
        previews.push(match entry {
            Ok(preview) => preview,
            Err((ErrorCategory::Recoverable, message)) => {
                return Err(OpsError::Unavailable(format!(
                    "preview of project {project_id} failed: {message}; nothing was written, try again"
                )));
            }
            Err((category, message)) => json!({
                "project": {"legacy_id": project_id},
                "error": {"category": category.as_str(), "message": message},
            }),
        });
    }
    let totals = totals(&previews, selected, req.limit);
    Ok(Preview {
        reference_time,
        projects: previews,
        totals,
    })
}

/// One project through the pipeline in dry-run mode, inside a read-only transaction that is
/// rolled back whatever happens. `Err` carries the failure's category and message.
async fn preview_one(
    pool: &PgPool,
    pipeline: &Pipeline,
    ctx: &RunContext,
    project_id: Uuid,
) -> Result<Value, (ErrorCategory, String)> {
    let db_err = |e: sqlx::Error| {
        (
            ontofleet_db::category_of(&e),
            format!("database error: {e}"),
        )
    };
    // As in a live run, a remote classifier answers before the transaction.
    let pre = ontofleet_pipeline::preclassify(pool, pipeline, ctx, project_id)
        .await
        .map_err(|e| (e.category(), e.to_string()))?;
    let mut tx = pool.begin().await.map_err(db_err)?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    let outcome =
        ontofleet_pipeline::migrate_project(&mut tx, pipeline, ctx, project_id, &pre).await;
    tx.rollback().await.map_err(db_err)?;
    let outcome = outcome.map_err(|e| (e.category(), e.to_string()))?;
    outcome.and_then(|o| o.preview).ok_or_else(|| {
        (
            ErrorCategory::Fatal,
            "the pipeline returned no preview for a dry run".to_owned(),
        )
    })
}

/// How often each value of `field` occurs in a list of a preview's entities, skipping
/// `unchanged` ones when `written_only` (their rows, and so their type keys, are not written).
pub fn tally(list: &Value, field: &str, written_only: bool) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for e in list.as_array().into_iter().flatten() {
        if written_only && e["action"] == "unchanged" {
            continue;
        }
        let key = e[field].as_str().unwrap_or("-").to_owned();
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Totals over the previews: `counts` summed field by field, task type keys of the tasks that
/// would be written and plan states tallied, projects by outcome.
fn totals(previews: &[Value], selected: usize, limit: usize) -> PreviewTotals {
    let mut counts = json!({});
    let mut task_type_keys = BTreeMap::new();
    let mut plan_states = BTreeMap::new();
    let (mut failed, mut with_problems) = (0, 0);
    for p in previews {
        if p.get("error").is_some() {
            failed += 1;
            continue;
        }
        add_counts(&mut counts, &p["counts"]);
        with_problems += usize::from(p["problems"].as_array().is_some_and(|a| !a.is_empty()));
        for (key, n) in tally(&p["tasks"], "type_key", true) {
            *task_type_keys.entry(key).or_default() += n;
        }
        for (key, n) in tally(&p["plans"], "state_key", false) {
            *plan_states.entry(key).or_default() += n;
        }
    }
    PreviewTotals {
        projects_selected: selected,
        projects_previewed: previews.len(),
        projects_failed: failed,
        projects_with_problems: with_problems,
        limited: selected > limit,
        counts,
        task_type_keys,
        plan_states,
    }
}

/// Add every number of `add` into `total`, recursing into objects.
fn add_counts(total: &mut Value, add: &Value) {
    match (total, add) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                match t.get_mut(k) {
                    Some(slot) => add_counts(slot, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t @ Value::Number(_), Value::Number(a)) => {
            *t = json!(t.as_u64().unwrap_or(0) + a.as_u64().unwrap_or(0));
        }
        _ => {}
    }
}
