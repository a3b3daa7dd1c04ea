//! `run preview` (SPEC §4.8): the live pipeline in-process over the live selection, printing what
//! a run would write per project, and writing nothing at all.

use std::collections::BTreeMap;

use ontofleet_testkit::TestDb;
use serde_json::Value;
use uuid::Uuid;

use crate::expect::{expected, snapshot};
use crate::prepared;

/// Row counts of every ontology table (`onto_*`, found in the catalog), the ledger and the queue.
async fn written_rows(db: &TestDb) -> BTreeMap<String, i64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT schemaname || '.' || tablename FROM pg_tables \
          WHERE (schemaname = 'public' AND (tablename LIKE 'onto\\_%' OR tablename LIKE 'migration\\_%' \
                                            OR tablename = 'legacy_entity_mappings')) \
             OR (schemaname = 'apalis' AND tablename = 'jobs') \
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for required in [
        "public.onto_actors",
        "public.onto_projects",
        "public.onto_tasks",
        "public.legacy_entity_mappings",
        "public.migration_log",
        "public.migration_runs",
        "public.migration_run_items",
        "apalis.jobs",
    ] {
        assert!(
            tables.iter().any(|t| t == required),
            "{required} missing from {tables:?}"
        );
    }
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&db.pool)
                .await
                .unwrap();
        counts.insert(table, n);
    }
    counts
}

async fn edge_project(db: &TestDb, key: &str) -> Uuid {
    sqlx::query_scalar(
        "SELECT id FROM projects WHERE source = 'seed:edge' AND source_metadata ->> 'edge_case' = $1",
    )
    .bind(key)
    .fetch_one(&db.pool)
    .await
    .unwrap_or_else(|e| panic!("edge project {key}: {e}"))
}

fn problems<'a>(p: &'a Value, entity_type: &str) -> Vec<&'a Value> {
    p["problems"]
        .as_array()
        .expect("problems[]")
        .iter()
        .filter(|pr| pr["entity_type"] == entity_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_prints_what_a_run_would_write_and_writes_nothing() {
    let db = prepared(
        "preview",
        &[
            "--users",
            "4",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "10",
            "--seed",
            "3",
            "--bad-rows",
        ],
    )
    .await;
    let want = expected(&db).await;
    let before = snapshot(&db).await;
    let rows_before = written_rows(&db).await;

    let out = db
        .cli(&["--json", "run", "preview", "--all", "--limit", "1000"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("--json prints one document");
    let projects = doc["projects"].as_array().expect("projects[]");

    // One entry per project a live run selects, in the same (id) order.
    let selected: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM projects WHERE status <> 'archived' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(selected.len() as i64, want.projects);
    let previewed: Vec<Uuid> = projects
        .iter()
        .map(|p| p["project"]["legacy_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(previewed, selected);
    assert_eq!(doc["totals"]["projects_previewed"], selected.len());
    assert_eq!(doc["totals"]["projects_failed"], 0);

    // Per project: the selected legacy tasks, less the ones logged as (skipped) task problems.
    let mut task_problems = 0;
    for p in projects {
        assert!(p.get("error").is_none(), "{p}");
        let id: Uuid = p["project"]["legacy_id"].as_str().unwrap().parse().unwrap();
        let legacy_tasks: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1 AND deleted_at IS NULL AND status <> 'done'",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        let skipped = problems(p, "task").len() as i64;
        task_problems += skipped;
        assert_eq!(
            p["counts"]["task"]["inserted"].as_i64(),
            Some(legacy_tasks - skipped),
            "project {id}: {}",
            p["counts"]
        );
        assert_eq!(p["counts"]["project"]["inserted"], 1);
        assert!(
            p["project"]["type_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("project."))
        );
    }
    assert_eq!(
        task_problems, want.cycle_tasks,
        "the cycle tasks are the skipped ones"
    );
    assert!(task_problems >= 2, "the bad rows include parent cycles");
    assert_eq!(doc["totals"]["counts"]["task"]["inserted"], want.tasks);
    assert_eq!(doc["totals"]["counts"]["plan"]["inserted"], want.plans);

    // Data problems of the edge-case projects are listed with their category.
    let by_id = |id: Uuid| {
        projects
            .iter()
            .find(|p| p["project"]["legacy_id"] == id.to_string())
            .unwrap_or_else(|| panic!("project {id} previewed"))
    };
    let inverted = by_id(edge_project(&db, "inverted_phase_dates").await);
    let phase_problems = problems(inverted, "phase");
    assert!(
        phase_problems
            .iter()
            .any(|pr| pr["category"] == "data"
                && pr["message"].as_str().is_some_and(|m| !m.is_empty())),
        "the inverted phase is a data problem: {}",
        inverted["problems"]
    );
    let cycles = by_id(edge_project(&db, "parent_cycles").await);
    assert!(
        problems(cycles, "task")
            .iter()
            .all(|pr| pr["category"] == "fatal" && pr["status"] == "skipped"),
        "{}",
        cycles["problems"]
    );
    assert!(doc["totals"]["counts"]["problems"]["data"].as_i64() >= Some(1));
    assert!(doc["totals"]["projects_with_problems"].as_i64() >= Some(2));
    let type_keys = doc["totals"]["task_type_keys"]
        .as_object()
        .expect("task_type_keys");
    assert!(
        type_keys.keys().all(|k| k.starts_with("task.")),
        "{type_keys:?}"
    );
    assert_eq!(
        type_keys.values().filter_map(Value::as_i64).sum::<i64>(),
        want.tasks,
        "every task to insert has a type key"
    );

    // Nothing written: no ontology row, mapping, log row, run, item, job or actor.
    assert_eq!(snapshot(&db).await, before, "a preview wrote to the target");
    let rows_after = written_rows(&db).await;
    assert_eq!(rows_after, rows_before, "a preview wrote rows");
    for (table, n) in &rows_after {
        if !table.ends_with("onto_templates")
            && !table.ends_with("migration_platform_lock")
            && !table.ends_with("migration_governor")
        {
            assert_eq!(*n, 0, "{table} is empty after a preview");
        }
    }

    // The human output: a block per project naming type keys and states, then one total line.
    let human = db
        .cli_ok(&["run", "preview", "--all", "--limit", "3"])
        .await;
    let (top_key, _) = type_keys
        .iter()
        .max_by_key(|(_, n)| n.as_i64())
        .expect("a task type key");
    assert!(
        human.contains("task types") && human.contains("task.") && human.contains("project."),
        "{human}"
    );
    let total = human.lines().last().unwrap_or_default();
    assert!(
        total.starts_with("total: 3 project(s) previewed of ")
            && total.contains("nothing was written"),
        "{total}"
    );
    let all_human = db
        .cli_ok(&["run", "preview", "--all", "--limit", "1000"])
        .await;
    assert!(all_human.contains(&format!("{top_key} ×")), "{all_human}");
    assert_eq!(
        all_human.matches("\n  legacy id ").count(),
        selected.len(),
        "one block per project"
    );
    assert_eq!(written_rows(&db).await, rows_before);

    // Usage errors: one line on stderr, exit 2.
    for args in [
        &["run", "preview"][..],
        &["run", "preview", "--project", &Uuid::nil().to_string()][..],
    ] {
        let out = db.cli(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    db.drop_db().await;
}
