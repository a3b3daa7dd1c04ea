//! A run as text: `run show`'s detail and `run validate`'s reconciliation.

use ontofleet_core::RunStatus;
use ontofleet_ops::runs::{RunDetail, Validated};
use uuid::Uuid;

use super::{breakdown, out, secs, table};

/// `run show`: the run, its lock, items by status and category, entities, problems, errors.
pub fn print_detail(detail: &RunDetail) {
    let run = &detail.run;
    let lock = &detail.lock;
    out!("run        {}", run.run_id);
    out!(
        "scope      {}{}",
        run.scope,
        if run.dry_run { " (dry run)" } else { "" }
    );
    out!("status     {}", run.status);
    out!(
        "items      {}/{} done: {}",
        run.done(),
        run.items.total,
        breakdown(&run.items)
    );
    out!(
        "started    {}",
        run.started_at
            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    );
    out!(
        "finished   {}",
        run.finished_at
            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    );
    out!("duration   {}", secs(run.duration_secs));
    out!("reference  {}", run.reference_time.to_rfc3339());
    out!(
        "lock       {}",
        match run.lock_token {
            Some(t) if lock.held_by_this_run => format!(
                "held (token {t}, expires {})",
                lock.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default()
            ),
            Some(t) => format!("released (token {t})"),
            None => "not taken (scoped or dry run)".to_owned(),
        }
    );
    let c = &detail.control;
    if RunStatus::is_active_str(&run.status) || c.paused_secs > 0.0 || c.throttled_secs > 0.0 {
        out!("control    {}", c.state);
    }
    let spent = |total: f64, by: &serde_json::Value| {
        let parts: Vec<String> = by
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k} {}", secs(v.as_f64().unwrap_or(0.0))))
            .collect();
        format!("{} ({})", secs(total), parts.join(", "))
    };
    if c.paused_secs > 0.0 {
        out!(
            "paused     {}",
            spent(c.paused_secs, &c.paused_secs_by_reason)
        );
    }
    if c.throttled_secs > 0.0 {
        out!(
            "throttled  {}",
            spent(c.throttled_secs, &c.throttled_secs_by_reason)
        );
    }
    out!();
    table(
        &["ITEM STATUS", "CATEGORY", "COUNT"],
        &detail
            .items_by_status
            .iter()
            .map(|r| {
                vec![
                    r.status.clone(),
                    r.category.clone().unwrap_or_else(|| "-".to_owned()),
                    r.count.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    if let Some(map) = detail.entities.as_object().filter(|m| !m.is_empty()) {
        out!();
        let rows: Vec<Vec<String>> = ["project", "document", "plan", "task", "event", "edges"]
            .iter()
            .filter_map(|k| map.get(*k).map(|v| (k, v)))
            .map(|(k, v)| {
                let cells = v
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(a, n)| format!("{a} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                vec![(*k).to_owned(), cells]
            })
            .collect();
        table(&["ENTITY", "ACTIONS"], &rows);
        // Tasks by the classifier that answered (`rules`, `openai`, `rules(fallback)`).
        if let Some(by) = map
            .get("classified")
            .and_then(|v| v.as_object())
            .filter(|o| !o.is_empty())
        {
            out!(
                "classified {}",
                by.iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if !detail.entity_problems.is_empty() {
        out!();
        table(
            &["ENTITY PROBLEM", "STATUS", "CATEGORY", "COUNT"],
            &detail
                .entity_problems
                .iter()
                .map(|p| {
                    vec![
                        p.entity_type.clone(),
                        p.status.clone(),
                        p.category.clone().unwrap_or_default(),
                        p.count.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    if !detail.top_errors.is_empty() {
        out!();
        table(
            &["CATEGORY", "ITEMS", "TOP ERRORS"],
            &detail
                .top_errors
                .iter()
                .map(|e| {
                    vec![
                        e.category.clone().unwrap_or_default(),
                        e.items.to_string(),
                        e.message.chars().take(120).collect(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
}

/// `run validate`: entities per legacy table, edges, orphans, samples of mismatches.
pub fn print_validation(run_id: Uuid, checked: &Validated) {
    let v = &checked.validation;
    out!(
        "run {run_id} ({}): {} project(s)",
        checked.run_status,
        v.projects
    );
    out!();
    table(
        &[
            "LEGACY TABLE",
            "SELECTED",
            "OK",
            "EXPLAINED",
            "MISSING",
            "DANGLING",
        ],
        &v.entities
            .iter()
            .map(|(t, e)| {
                vec![
                    t.clone(),
                    e.selected.to_string(),
                    e.ok.to_string(),
                    e.explained.to_string(),
                    e.missing.to_string(),
                    e.dangling.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    out!();
    out!(
        "edges      {} expected, {} missing",
        v.edges_expected,
        v.edges_missing
    );
    out!("orphans    {}", v.orphans);
    out!("projects   {} not migrated", v.not_migrated);
    if !v.samples.is_empty() {
        out!();
        table(
            &["MISMATCH", "TABLE", "ID"],
            &v.samples
                .iter()
                .map(|m| vec![m.kind.clone(), m.table.clone(), m.id.to_string()])
                .collect::<Vec<_>>(),
        );
    }
    out!();
    if checked.mismatches == 0 {
        out!("ok: source and target reconcile");
    }
}
