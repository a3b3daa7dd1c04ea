//! Plans that do not depend on luck (SPEC §10): on a freshly loaded legacy database of 100k
//! tasks with no planner statistics — and again with the target tables analysed while still
//! empty, so the planner believes they are empty while they grow — no statement a worker issues
//! per project plans a sequential scan of a table that grows with the data.
//!
//! The plans are the ones the worker really used: `auto_explain` (loaded for every session of
//! the test database, `log_level = notice`) sends each executed statement's plan to the client
//! as a NOTICE, which the worker logs (`sqlx::postgres::notice`, JSON log format). Runs are made
//! with `plan_cache_mode` forced to generic plans (what a long-lived connection ends up with) and
//! to custom ones, with a small chunk so the cursor path runs too, and a resync of drifted rows
//! exercises the in-place updates and the edge diff.

use std::collections::BTreeSet;
use std::time::Duration;

use ontofleet_db::LEGACY_TABLES;
use ontofleet_testkit::TestDb;
use serde_json::Value;

use crate::RUN_TIMEOUT;

/// Target tables: empty at the start of a first run, analysed while empty in the second variant.
const TARGETS: &[&str] = &[
    "onto_actors",
    "onto_projects",
    "onto_plans",
    "onto_tasks",
    "onto_documents",
    "onto_events",
    "onto_event_sync",
    "onto_edges",
    "legacy_entity_mappings",
    "migration_log",
    "migration_run_items",
    "migration_attempts",
    "migration_runs",
    "apalis.jobs",
];

/// Statements a worker issues that are not per project: the template catalog (once per
/// process) and the stats refresh at a run's end (a whole-table aggregate). The queue's own
/// statements (claim, completion, heartbeat, orphan rescue) are per job and are checked.
fn per_project(query: &str) -> bool {
    !query.contains("onto_templates") && !query.contains("REFRESH MATERIALIZED VIEW")
}

/// Statements sent unprepared (`persistent(false)`), so PostgreSQL plans them at each execution
/// for their parameters and the tables' current sizes and never runs a generic plan of them:
/// the queue's claim, completion and orphan rescue. Their custom plans are checked.
fn planned_per_execution(query: &str) -> bool {
    query.contains("SET status = 'Running', lock_by = $1")
        || query.contains("FROM unnest($1::text[], $2::text[], $3::jsonb[]")
        || query.contains("missed its heartbeats")
}

/// Statement kinds that must have been seen, so the check cannot pass by seeing nothing.
const EXPECTED: &[(&str, &str)] = &[
    ("load statement", "WITH n AS (SELECT count(*)"),
    ("load cursor", "DECLARE ontofleet_project_rows"),
    ("mappings of a big project", "CROSS JOIN LATERAL"),
    (
        "attempt start",
        "UPDATE migration_run_items SET status = 'running'",
    ),
    ("write", "INSERT INTO onto_projects"),
    ("item commit", "UPDATE migration_runs SET"),
    ("edge diff", "FROM onto_edges WHERE src_id"),
    ("resync update", "UPDATE onto_tasks o SET"),
    ("queue claim", "SET status = 'Running', lock_by = $1"),
    ("queue completion", "SET status = $2 -> j.id ->> 0"),
    ("orphan rescue", "missed its heartbeats"),
];

/// Whether a relation (as a plan names it: no schema) grows with the data migrated: the legacy
/// tables and the target tables.
fn grows(rel: &str) -> bool {
    LEGACY_TABLES.contains(&rel)
        || TARGETS
            .iter()
            .any(|t| t.trim_start_matches("apalis.") == rel)
}

/// Partial indexes that hold only the active runs (a handful of rows, whatever the history):
/// reading one whole is what it is for.
const BOUNDED_INDEXES: &[&str] = &["migration_runs_active_idx"];

/// Every whole-table read of a growing table in a plan tree: a `Seq Scan`, or an index scan
/// with no index condition (what a disabled sequential scan turns into when no index applies),
/// unless the index is one of [`BOUNDED_INDEXES`].
fn seq_scans(plan: &Value, out: &mut Vec<String>) {
    let node = plan["Node Type"].as_str().unwrap_or_default();
    let bounded = plan["Index Name"]
        .as_str()
        .is_some_and(|i| BOUNDED_INDEXES.contains(&i));
    let whole = node == "Seq Scan"
        || (matches!(node, "Index Scan" | "Index Only Scan")
            && plan.get("Index Cond").is_none()
            && !bounded);
    if whole
        && let Some(rel) = plan["Relation Name"].as_str()
        && grows(rel)
    {
        let index = plan["Index Name"].as_str().unwrap_or("-");
        out.push(format!("{node} on {rel} (index {index})"));
    }
    if let Some(children) = plan["Plans"].as_array() {
        for child in children {
            seq_scans(child, out);
        }
    }
}

/// `(query text, plan)` of every auto_explain notice in a worker's JSON log.
fn plans_in_log(log: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for line in log.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if event["target"] != "sqlx::postgres::notice" {
            continue;
        }
        let message = event["fields"]["message"].as_str().unwrap_or_default();
        let Some(start) = message.find('{') else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&message[start..]) else {
            continue;
        };
        let query = doc["Query Text"].as_str().unwrap_or_default().to_owned();
        found.push((query, doc["Plan"].clone()));
    }
    found
}

/// Run one user's projects (and then a resync of drifted rows) with a worker whose sessions
/// plan in `mode`; returns the plans the worker used.
async fn run_user(db: &TestDb, user: &str, mode: &str, label: &str) -> Vec<(String, Value)> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE \"{}\" SET plan_cache_mode = '{mode}'",
        db.name
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let name = format!("plans-{label}");
    let mut worker = db.spawn_worker(
        &name,
        2,
        &[
            ("ONTOFLEET__LOG_FORMAT", "json"),
            (
                "ONTOFLEET_LOG",
                "info,sqlx=warn,sqlx::postgres::notice=info",
            ),
            ("ONTOFLEET__PIPELINE__CHUNK_TASKS", "40"),
        ],
    );
    db.wait_workers(&[&name], Duration::from_secs(30)).await;
    let no_analyze = |args: &[&str]| {
        let mut cmd = db.command(args);
        cmd.env("ONTOFLEET__PRODUCER__ANALYZE_LEGACY_TABLES", "false");
        cmd
    };
    for resync in [false, true] {
        if resync {
            // Drift some tasks of the user: the resync updates them in place and diffs edges.
            sqlx::query(
                "UPDATE tasks SET title = title || ' (edited)' WHERE id IN ( \
                   SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id \
                    WHERE p.user_id = $1::uuid ORDER BY t.id LIMIT 30)",
            )
            .bind(user)
            .execute(&db.pool)
            .await
            .unwrap();
        }
        let mut args = vec!["run", "start", "--user", user, "--watch"];
        if resync {
            args.push("--resync");
        }
        let out = tokio::time::timeout(RUN_TIMEOUT, no_analyze(&args).output())
            .await
            .expect("run finished in time")
            .expect("run start");
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{label}: run start {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ontofleet_testkit::signal(&worker, "TERM");
    let _ = tokio::time::timeout(Duration::from_secs(40), worker.wait()).await;
    let log = std::fs::read_to_string(std::env::temp_dir().join(format!("{}-{name}.log", db.name)))
        .expect("worker log");
    plans_in_log(&log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_per_project_statement_plans_a_sequential_scan_without_statistics() {
    let template = TestDb::new("plans_tpl").await;
    template
        .cli_ok(&[
            "seed",
            "--users",
            "40",
            "--projects-per-user",
            "25",
            "--tasks-per-project",
            "100",
            "--seed",
            "3",
        ])
        .await;
    template.cli_ok(&["db", "migrate"]).await;
    assert!(template.count("SELECT count(*) FROM tasks").await >= 100_000);
    assert_eq!(
        template
            .count("SELECT count(*) FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL")
            .await,
        0,
        "the loaded database has no statistics"
    );
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&template.pool)
            .await
            .unwrap();
    assert!(
        superuser,
        "this test loads auto_explain for the test database's sessions, which needs a superuser \
         ONTOFLEET_TEST_DATABASE_URL"
    );
    let mut violations = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut statements = 0;
    for variant in ["fresh", "targets analysed empty"] {
        let db = TestDb::from_template("plans", &template).await;
        if variant == "targets analysed empty" {
            for table in TARGETS {
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                    .execute(&db.pool)
                    .await
                    .unwrap();
            }
            assert_eq!(
                db.count("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'onto_tasks' AND last_analyze IS NOT NULL")
                    .await,
                1
            );
        }
        for setting in [
            "session_preload_libraries = 'auto_explain'",
            "auto_explain.log_min_duration = 0",
            "auto_explain.log_format = 'json'",
            "auto_explain.log_level = 'notice'",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER DATABASE \"{}\" SET {setting}",
                db.name
            )))
            .execute(&db.pool)
            .await
            .unwrap();
        }
        let users: Vec<String> =
            sqlx::query_scalar("SELECT user_id::text FROM projects GROUP BY 1 ORDER BY 1 LIMIT 2")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        for (user, mode) in users
            .iter()
            .zip(["force_generic_plan", "force_custom_plan"])
        {
            let label = format!("{variant}, {mode}");
            let plans = run_user(&db, user, mode, &mode.replace('_', "-")).await;
            let generic = mode == "force_generic_plan";
            for (query, plan) in plans
                .iter()
                .filter(|(q, _)| per_project(q) && !(generic && planned_per_execution(q)))
            {
                statements += 1;
                for (kind, needle) in EXPECTED {
                    if query.contains(needle) {
                        seen.insert(kind);
                    }
                }
                let mut scans = Vec::new();
                seq_scans(plan, &mut scans);
                for table in scans {
                    violations.push(format!(
                        "{label}: {table} in: {}",
                        query.chars().take(160).collect::<String>()
                    ));
                }
            }
        }
        if variant == "fresh" {
            catch_up_selection(&db, &users[0], &mut violations).await;
        }
        db.drop_db().await;
    }
    template.drop_db().await;
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "per-project statements planned sequential scans:\n{}",
        violations.join("\n")
    );
    let missing: Vec<&str> = EXPECTED
        .iter()
        .map(|(kind, _)| *kind)
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "no plan seen for {missing:?} ({statements} statements checked)"
    );
    println!("{statements} per-project statement plans checked, none scans a growing table");
}

/// The indexes the catch-up selection may read whole: the projects and the legacy tables'
/// project indexes, which its shape comparison reads once to count every project's rows (SPEC
/// §15: the one way to see a hard delete without a timestamp).
const SHAPE_INDEXES: &[&str] = &[
    "projects_pkey",
    "tasks_project_id_idx",
    "phases_project_id_idx",
    "phase_tasks_task_id_idx",
    "task_calendar_events_task_id_idx",
];

/// `run start --changed-since last`'s selection on the freshly loaded database: every timestamp
/// is found by a range scan of its change index; nothing else reads a growing table whole but
/// the shape comparison's project indexes.
async fn catch_up_selection(db: &TestDb, user: &str, violations: &mut Vec<String>) {
    let out = db
        .command(&["run", "start", "--user", user, "--changed-since", "last"])
        .env("ONTOFLEET__PRODUCER__ANALYZE_LEGACY_TABLES", "false")
        .env("ONTOFLEET__LOG_FORMAT", "json")
        .env(
            "ONTOFLEET_LOG",
            "info,sqlx=warn,sqlx::postgres::notice=info",
        )
        .output()
        .await
        .expect("run start");
    assert!(
        out.status.success(),
        "run start --changed-since last: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plans: Vec<(String, Value)> = plans_in_log(&String::from_utf8_lossy(&out.stderr))
        .into_iter()
        .filter(|(q, _)| q.contains("WITH c(project_id, at)"))
        .collect();
    assert_eq!(plans.len(), 1, "the selection's plan was logged");
    let (query, plan) = &plans[0];
    let mut indexes = Vec::new();
    index_names(plan, &mut indexes);
    for table in [
        "projects",
        "phases",
        "tasks",
        "phase_tasks",
        "task_calendar_events",
    ] {
        let index = format!("ontofleet_{table}_changed_idx");
        assert!(
            indexes.contains(&index),
            "the selection reads {index}: {indexes:?}"
        );
    }
    let mut scans = Vec::new();
    seq_scans(plan, &mut scans);
    for scan in scans {
        if !SHAPE_INDEXES
            .iter()
            .any(|i| scan.ends_with(&format!("(index {i})")))
        {
            violations.push(format!(
                "catch-up selection: {scan} in: {}",
                query.chars().take(160).collect::<String>()
            ));
        }
    }
}

fn index_names(plan: &Value, out: &mut Vec<String>) {
    if let Some(i) = plan["Index Name"].as_str() {
        out.push(i.to_owned());
    }
    if let Some(children) = plan["Plans"].as_array() {
        for child in children {
            index_names(child, out);
        }
    }
}
