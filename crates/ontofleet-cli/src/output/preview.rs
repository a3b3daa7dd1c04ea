//! `run preview`'s text: one compact block per project and a final total line.

use serde_json::Value;

/// [`ontofleet_ops::preview::tally`], most frequent first.
fn tally(list: &Value, field: &str, written_only: bool) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = ontofleet_ops::preview::tally(list, field, written_only)
        .into_iter()
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// `a ×3, b ×1`, or `-` when empty.
fn times(items: &[(String, u64)]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    items
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `task 12 inserted, 1 unchanged` from one entity's action counts.
fn actions(entity: &str, counts: &Value) -> String {
    let parts: Vec<String> = counts
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
        .map(|(action, n)| format!("{n} {action}"))
        .collect();
    if parts.is_empty() {
        format!("{entity} 0")
    } else {
        format!("{entity} {}", parts.join(", "))
    }
}

const PREVIEW_ENTITIES: [&str; 5] = ["project", "document", "plan", "task", "event"];
const MAX_PROBLEMS_SHOWN: usize = 10;

/// One project of `run preview`, as a compact block of labelled lines.
pub fn preview_block(p: &Value) -> String {
    use std::fmt::Write as _;
    let project = &p["project"];
    let str_of = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut out = String::new();
    if let Some(error) = p.get("error") {
        let _ = writeln!(out, "project {}", str_of(&project["legacy_id"]));
        let _ = writeln!(
            out,
            "  error        [{}] {}",
            str_of(&error["category"]),
            str_of(&error["message"])
        );
        out.push('\n');
        return out;
    }
    let facets = &project["facets"];
    let _ = writeln!(out, "{}", str_of(&project["name"]));
    let _ = writeln!(out, "  legacy id    {}", str_of(&project["legacy_id"]));
    let _ = writeln!(
        out,
        "  project      {} {} ({}; stage {}, scale {}, context {})",
        str_of(&project["action"]),
        str_of(&project["type_key"]),
        str_of(&project["state_key"]),
        str_of(&facets["stage"]),
        str_of(&facets["scale"]),
        str_of(&facets["context"])
    );
    if let Some(fallback) = p.get("fallback") {
        let _ = writeln!(
            out,
            "  fallback     a live run would retry in fallback mode: {}",
            str_of(&fallback["reason"])
        );
    }
    let counts = &p["counts"];
    let mut parts: Vec<String> = PREVIEW_ENTITIES
        .iter()
        .map(|e| actions(e, &counts[*e]))
        .collect();
    parts.push(format!(
        "edges {}",
        counts["edges"]["desired"].as_u64().unwrap_or(0)
    ));
    if let Some(n) = counts["skipped_completed"].as_u64().filter(|n| *n > 0) {
        parts.push(format!("done tasks skipped {n}"));
    }
    let _ = writeln!(out, "  counts       {}", parts.join("; "));
    let listed = p["tasks"].as_array().map_or(0, Vec::len) as u64;
    let tasks: u64 = counts["task"]
        .as_object()
        .map_or(0, |o| o.values().filter_map(Value::as_u64).sum());
    let _ = writeln!(
        out,
        "  task types   {}{}",
        times(&tally(&p["tasks"], "type_key", true)),
        if listed < tasks {
            format!(" (first {listed} of {tasks} tasks)")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "  plan states  {}",
        times(&tally(&p["plans"], "state_key", false))
    );
    let problems = p["problems"].as_array().map_or(&[][..], Vec::as_slice);
    if problems.is_empty() {
        let _ = writeln!(out, "  problems     none");
    } else {
        let _ = writeln!(out, "  problems     {}", problems.len());
        for pr in problems.iter().take(MAX_PROBLEMS_SHOWN) {
            let _ = writeln!(
                out,
                "    [{}] {} {} {}: {}",
                str_of(&pr["category"]),
                str_of(&pr["entity_type"]),
                str_of(&pr["legacy_id"]),
                str_of(&pr["status"]),
                str_of(&pr["message"])
            );
        }
        if problems.len() > MAX_PROBLEMS_SHOWN {
            let _ = writeln!(
                out,
                "    … {} more (see --json)",
                problems.len() - MAX_PROBLEMS_SHOWN
            );
        }
    }
    out.push('\n');
    out
}

/// The final line of `run preview`.
pub fn preview_total(t: &Value) -> String {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let counts = &t["counts"];
    let written = |entity: &str| -> u64 {
        counts[entity].as_object().map_or(0, |o| {
            o.iter()
                .filter(|(action, _)| action.as_str() != "unchanged")
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
    };
    let unchanged: u64 = PREVIEW_ENTITIES
        .iter()
        .map(|e| n(&counts[*e]["unchanged"]))
        .sum();
    let problems = counts["problems"].as_object();
    let problem_total: u64 = problems.map_or(0, |o| o.values().filter_map(Value::as_u64).sum());
    let by_category: Vec<String> = problems
        .into_iter()
        .flatten()
        .filter(|(_, v)| n(v) > 0)
        .map(|(c, v)| format!("{} {c}", n(v)))
        .collect();
    let limited = if t["limited"] == true {
        format!(
            " of {} selected (raise --limit for more)",
            n(&t["projects_selected"])
        )
    } else {
        String::new()
    };
    format!(
        "total: {} project(s) previewed{limited}: would write project {}, document {}, plan {}, task {}, event {}; \
         {unchanged} unchanged; edges {}; {problem_total} problem(s){} in {} project(s); {} project(s) failed; nothing was written",
        n(&t["projects_previewed"]),
        written("project"),
        written("document"),
        written("plan"),
        written("task"),
        written("event"),
        n(&counts["edges"]["desired"]),
        if by_category.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_category.join(", "))
        },
        n(&t["projects_with_problems"]),
        n(&t["projects_failed"]),
    )
}
