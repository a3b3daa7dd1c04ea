//! Catch-up passes, deletions and the cut-over check (SPEC §15), with real worker processes: a
//! scripted day of application writes between passes, then a `--changed-since last` pass whose
//! target must equal what a full `--resync` of a copy of the database writes (and which
//! enqueues nothing else); a write made while a pass runs, and one in a transaction still open
//! when it started, are picked up by the next pass (the overlap); the mass-delete guard;
//! `cutover check` from blocked to ready; `follow` stopped by SIGTERM and by an error budget.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use ontofleet_testkit::{TestDb, signal};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tokio::process::Child;
use uuid::Uuid;

use crate::expect::ONTO_TABLES;
use crate::{RUN_TIMEOUT, prepared, run_id};

const SEED: [&str; 8] = [
    "--users",
    "16",
    "--projects-per-user",
    "4",
    "--tasks-per-project",
    "20",
    "--seed",
    "23",
];

/// Projects the scripted day writes to, in a stable order: not archived, with at least two
/// phases, two live open tasks and a phase link each.
const PICKS: &str = "\
  SELECT p.id FROM projects p WHERE p.status <> 'archived' \
     AND (SELECT count(*) FROM phases ph WHERE ph.project_id = p.id) >= 2 \
     AND (SELECT count(*) FROM tasks t WHERE t.project_id = p.id AND t.deleted_at IS NULL \
                                          AND t.status <> 'done') >= 2 \
     AND EXISTS (SELECT 1 FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id WHERE ph.project_id = p.id) \
   ORDER BY p.id";

async fn exec(db: &TestDb, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn uuid(db: &TestDb, sql: &str) -> Uuid {
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A live, open (migrated) task of project `p`, the `n`-th by id.
fn open_task(p: Uuid, n: usize) -> String {
    format!(
        "(SELECT id FROM tasks WHERE project_id = '{p}' AND deleted_at IS NULL AND status <> 'done' \
           ORDER BY id OFFSET {n} LIMIT 1)"
    )
}

/// The `n`-th phase of project `p`, by id.
fn phase(p: Uuid, n: usize) -> String {
    format!("(SELECT id FROM phases WHERE project_id = '{p}' ORDER BY id OFFSET {n} LIMIT 1)")
}

/// Start a platform run (`run start --all ARGS`) and wait for its end; returns it.
async fn pass(db: &TestDb, args: &[&str]) -> Uuid {
    let mut all = vec!["run", "start", "--all"];
    all.extend_from_slice(args);
    let run = run_id(&db.cli_ok(&all).await);
    db.wait_run(run, RUN_TIMEOUT).await;
    run
}

async fn items(db: &TestDb, run: Uuid) -> BTreeSet<Uuid> {
    sqlx::query_scalar("SELECT project_id FROM migration_run_items WHERE run_id = $1")
        .bind(run)
        .fetch_all(&db.pool)
        .await
        .expect("items")
        .into_iter()
        .collect()
}

/// The run completed without a failed item (else: which failed, and why).
async fn assert_completed(db: &TestDb, run: Uuid) {
    let status = run_status(db, run).await;
    let failed: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT project_id, status, last_error FROM migration_run_items \
          WHERE run_id = $1 AND status <> 'succeeded'",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .expect("items");
    assert_eq!(status, "completed", "run {run}: {failed:?}");
}

async fn run_status(db: &TestDb, run: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM migration_runs WHERE id = $1")
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .expect("run")
}

/// A worker that drains and exits (so that its database can be copied).
async fn stop(mut worker: Child) {
    signal(&worker, "TERM");
    tokio::time::timeout(Duration::from_secs(60), worker.wait())
        .await
        .expect("the worker drains")
        .expect("wait");
}

/// A copy of `db` (workers stopped), and `db` reconnected.
async fn copy(db: TestDb, prefix: &str) -> (TestDb, TestDb) {
    let copy = TestDb::from_template(prefix, &db).await;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&db.url)
        .await
        .expect("reconnect");
    (TestDb { pool, ..db }, copy)
}

/// The target without its generated ids: per ontology table the set of rows, each with every
/// id replaced by the legacy row it maps from (`tasks:<uuid>`) or `~` when it maps from none,
/// timestamps of the write left out; the edges between those keys; the mappings with their
/// deleted mark.
async fn target(db: &TestDb) -> BTreeMap<String, BTreeSet<String>> {
    let keys: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
        "SELECT onto_id::text, legacy_table || ':' || legacy_id FROM legacy_entity_mappings \
          WHERE deleted_at IS NULL",
    )
    .fetch_all(&db.pool)
    .await
    .expect("mappings")
    .into_iter()
    .collect();
    let mut onto_ids: HashSet<String> = HashSet::new();
    let mut rows: Vec<(&str, Value)> = Vec::new();
    for table in ONTO_TABLES {
        let docs: Vec<Value> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT to_jsonb(t) - 'created_at' - 'updated_at' - 'last_synced_at' FROM {table} t"
        )))
        .fetch_all(&db.pool)
        .await
        .expect("rows");
        for d in docs {
            if let Some(id) = d["id"].as_str() {
                onto_ids.insert(id.to_owned());
            }
            rows.push((table, d));
        }
    }
    fn norm(v: &Value, keys: &HashMap<String, String>, onto: &HashSet<String>) -> Value {
        match v {
            Value::String(s) => match keys.get(s) {
                Some(k) => Value::String(k.clone()),
                None if onto.contains(s) => Value::String("~".to_owned()),
                None => v.clone(),
            },
            Value::Array(a) => Value::Array(a.iter().map(|x| norm(x, keys, onto)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), norm(x, keys, onto)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (table, d) in rows {
        out.entry(table.to_owned())
            .or_default()
            .insert(norm(&d, &keys, &onto_ids).to_string());
    }
    let mappings: Vec<String> = sqlx::query_scalar(
        "SELECT legacy_table || ':' || legacy_id || ' -> ' || onto_table || ' ' || checksum \
                || CASE WHEN deleted_at IS NULL THEN '' ELSE ' deleted' END \
           FROM legacy_entity_mappings",
    )
    .fetch_all(&db.pool)
    .await
    .expect("mappings");
    out.insert("mappings".to_owned(), mappings.into_iter().collect());
    out
}

/// Each table's rows that differ, for a readable failure.
fn diff(a: &BTreeMap<String, BTreeSet<String>>, b: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = String::new();
    for (table, rows) in a {
        let empty = BTreeSet::new();
        let other = b.get(table).unwrap_or(&empty);
        for r in rows.difference(other).take(5) {
            out.push_str(&format!("\nonly incremental {table}: {r}"));
        }
        for r in other.difference(rows).take(5) {
            out.push_str(&format!("\nonly resync {table}: {r}"));
        }
    }
    out
}

async fn cutover(db: &TestDb) -> (i32, Value) {
    let out = db.cli(&["cutover", "check", "--json"]).await;
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "cutover check --json: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

fn blocker_kinds(doc: &Value) -> BTreeSet<String> {
    doc["blockers"]
        .as_array()
        .expect("blockers")
        .iter()
        .map(|b| b["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Day 1 and day 2 of application writes, each followed by an incremental pass that must write
/// what a full `--resync` of a copy writes, and select exactly the projects written to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_pass_writes_what_a_full_resync_writes() {
    let db = prepared("catchup", &SEED).await;
    let picks: Vec<Uuid> = sqlx::query_scalar(PICKS)
        .fetch_all(&db.pool)
        .await
        .expect("picks");
    assert!(picks.len() >= 13, "the seed has enough projects: {picks:?}");
    let w = db.spawn_worker("cu", 4, &[]);
    db.wait_workers(&["cu"], RUN_TIMEOUT).await;
    // Before any pass there is no watermark.
    let out = db
        .cli(&["run", "start", "--all", "--changed-since", "last"])
        .await;
    assert_eq!(out.status.code(), Some(2), "no pass yet");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no completed run covers"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = pass(&db, &[]).await;
    assert_completed(&db, first).await;
    let all_projects = items(&db, first).await.len();
    // Nothing changed: nothing is pending, an incremental pass enqueues nothing.
    let st: Value =
        serde_json::from_str(&db.cli_ok(&["sync", "status", "--json"]).await).expect("JSON");
    assert_eq!(st["pending_projects"], 0, "{st}");
    let idle = pass(&db, &["--changed-since", "last"]).await;
    assert_eq!(items(&db, idle).await, BTreeSet::new());
    let (code, doc) = cutover(&db).await;
    assert_eq!(
        (code, doc["ready"].clone()),
        (0, Value::Bool(true)),
        "{doc}"
    );
    stop(w).await;

    // Day 1.
    let p = &picks;
    let new_task = Uuid::new_v4();
    let new_project = Uuid::new_v4();
    let soft_deleted = uuid(&db, &open_task(p[3], 0)).await;
    let hard_deleted = uuid(&db, &open_task(p[4], 0)).await;
    exec(
        &db,
        &format!(
            "INSERT INTO tasks (id, user_id, project_id, title, status) \
               SELECT '{new_task}', user_id, id, 'written today', 'in_progress' FROM projects WHERE id = '{p0}'; \
             INSERT INTO phase_tasks (phase_id, task_id) VALUES ({ph0}, '{new_task}'); \
             INSERT INTO task_calendar_events (task_id, user_id, calendar_id, calendar_event_id, event_title, \
                                               event_start, event_end) \
               SELECT id, user_id, 'primary', 'evt-today', 'review', now() + interval '1 day', \
                      now() + interval '1 day 1 hour' FROM tasks WHERE id = '{new_task}'; \
             UPDATE tasks SET title = title || ' (edited)', priority = 'urgent', updated_at = now() \
              WHERE id = {edit}; \
             UPDATE task_calendar_events SET event_title = 'moved', updated_at = now() \
              WHERE id = (SELECT e.id FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id \
                           WHERE t.project_id = '{p1}' AND t.deleted_at IS NULL AND t.status <> 'done' \
                           ORDER BY e.id LIMIT 1); \
             WITH moved AS (DELETE FROM phase_tasks WHERE id = (SELECT pt.id FROM phase_tasks pt \
                              JOIN phases ph ON ph.id = pt.phase_id WHERE ph.project_id = '{p2}' \
                              ORDER BY pt.id LIMIT 1) RETURNING phase_id, task_id) \
               INSERT INTO phase_tasks (phase_id, task_id) \
               SELECT (SELECT id FROM phases WHERE project_id = '{p2}' AND id <> moved.phase_id \
                        ORDER BY id LIMIT 1), task_id FROM moved; \
             UPDATE tasks SET deleted_at = now(), updated_at = now() WHERE id = '{soft_deleted}'; \
             DELETE FROM tasks WHERE id = '{hard_deleted}'; \
             DELETE FROM phase_tasks WHERE id = (SELECT pt.id FROM phase_tasks pt JOIN phases ph \
                ON ph.id = pt.phase_id WHERE ph.project_id = '{p5}' ORDER BY pt.id LIMIT 1); \
             DELETE FROM phases WHERE id = {ph6}; \
             DELETE FROM projects WHERE id = '{p7}'; \
             INSERT INTO projects (id, user_id, name, slug, status, description) \
               SELECT '{new_project}', user_id, 'Started today', 'started-today', 'active', 'A new one' \
                 FROM projects WHERE id = '{p0}'; \
             INSERT INTO phases (project_id, user_id, name, \"order\", start_date, end_date) \
               SELECT id, user_id, 'First', 1, current_date, current_date + 30 FROM projects \
                WHERE id = '{new_project}'; \
             INSERT INTO tasks (user_id, project_id, title, status) \
               SELECT user_id, id, 'first task', 'backlog' FROM projects WHERE id = '{new_project}';",
            p0 = p[0],
            p1 = p[1],
            p2 = p[2],
            p5 = p[5],
            p7 = p[7],
            ph0 = phase(p[0], 0),
            ph6 = phase(p[6], 0),
            edit = open_task(p[1], 1),
        ),
    )
    .await;
    let written: BTreeSet<Uuid> = p[..8].iter().copied().chain([new_project]).collect();
    // Lag before the pass: the timestamped changes and the project deleted whole (links and
    // rows hard-deleted inside a project are found by the pass itself).
    let st: Value =
        serde_json::from_str(&db.cli_ok(&["sync", "status", "--json"]).await).expect("JSON");
    assert_eq!(
        st["pending_projects"], 6,
        "p0-p3, p7 and the new project: {st}"
    );
    assert!(st["oldest_change_at"].is_string(), "{st}");
    let (code, doc) = cutover(&db).await;
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["pending_projects"], written.len(), "{doc}");
    assert!(blocker_kinds(&doc).contains("pending_changes"), "{doc}");

    let (db, full) = copy(db, "catchup_full").await;
    let w = db.spawn_worker("cu", 4, &[]);
    let wf = full.spawn_worker("cf", 4, &[]);
    db.wait_workers(&["cu"], RUN_TIMEOUT).await;
    full.wait_workers(&["cf"], RUN_TIMEOUT).await;
    let incremental = pass(&db, &["--changed-since", "last"]).await;
    let resync = pass(&full, &["--resync"]).await;
    assert_eq!(
        items(&db, incremental).await,
        written,
        "exactly the projects written to"
    );
    // Every project, the one deleted whole included.
    assert_eq!(items(&full, resync).await.len(), all_projects + 1);
    // Deleting a project whole is a mass delete: both passes refuse it, and nothing else.
    for (db, run) in [(&db, incremental), (&full, resync)] {
        assert_eq!(run_status(db, run).await, "completed_with_errors");
        let refused: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
            "SELECT project_id, status, last_error FROM migration_run_items \
              WHERE run_id = $1 AND status <> 'succeeded'",
        )
        .bind(run)
        .fetch_all(&db.pool)
        .await
        .expect("items");
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!((refused[0].0, refused[0].1.as_str()), (p[7], "failed"));
        let message = refused[0].2.clone().unwrap_or_default();
        assert!(
            message.starts_with("refusing to delete ")
                && message.ends_with("use --allow-mass-delete"),
            "{message}"
        );
    }
    let (a, b) = (target(&db).await, target(&full).await);
    assert!(a == b, "day 1: incremental vs resync:{}", diff(&a, &b));
    let refused_run = incremental;
    // Allowed, the next passes delete it (the failed project is selected again).
    let incremental = pass(&db, &["--changed-since", "last", "--allow-mass-delete"]).await;
    let resync = pass(&full, &["--resync", "--allow-mass-delete"]).await;
    assert_completed(&db, incremental).await;
    assert_completed(&full, resync).await;
    let selected = items(&db, incremental).await;
    assert!(
        selected.contains(&p[7]) && selected.is_subset(&written),
        "{selected:?}"
    );
    let (a, b) = (target(&db).await, target(&full).await);
    assert!(
        a == b,
        "day 1, allowed: incremental vs resync:{}",
        diff(&a, &b)
    );
    // What day 1 deleted is gone with its edges, logged, its mapping marked.
    for task in [soft_deleted, hard_deleted] {
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM legacy_entity_mappings m JOIN migration_log l \
                       ON l.legacy_id = m.legacy_id AND l.operation = 'delete' AND l.run_id = '{refused_run}' \
                      WHERE m.legacy_table = 'tasks' AND m.legacy_id = '{task}' AND m.deleted_at IS NOT NULL \
                        AND NOT EXISTS (SELECT 1 FROM onto_tasks o WHERE o.id = m.onto_id) \
                        AND NOT EXISTS (SELECT 1 FROM onto_edges e WHERE e.src_id = m.onto_id OR e.dst_id = m.onto_id)"
                )
            )
            .await,
            1,
            "task {task} deleted"
        );
    }
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects' \
                  AND m.legacy_id = '{}' AND m.deleted_at IS NOT NULL \
                  AND NOT EXISTS (SELECT 1 FROM onto_projects o WHERE o.id = m.onto_id)",
                p[7]
            )
        )
        .await,
        1,
        "the project deleted whole is gone"
    );
    // The run's counts say what it deleted.
    let show: Value = serde_json::from_str(
        &db.cli_ok(&["run", "show", &refused_run.to_string(), "--json"])
            .await,
    )
    .expect("JSON");
    assert!(
        show["entities"]["task"]["deleted"].as_i64().unwrap_or(0) >= 2,
        "{}",
        show["entities"]
    );
    // A second resync of the copy writes nothing more; neither does a second incremental pass.
    let again = pass(&db, &["--changed-since", "last"]).await;
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM migration_log WHERE run_id = '{again}'")
        )
        .await,
        0,
        "the overlap re-reads, and writes nothing"
    );
    full.drop_db().await;
    drop(wf);
    stop(w).await;

    // Day 2: the undelete, a task moved to another project, an event's task soft-deleted.
    let moved = uuid(&db, &open_task(p[8], 0)).await;
    exec(
        &db,
        &format!(
            "UPDATE tasks SET deleted_at = NULL, updated_at = now() WHERE id = '{soft_deleted}'; \
             UPDATE tasks SET project_id = '{p9}', updated_at = now() WHERE id = '{moved}'; \
             UPDATE projects SET name = name || ' (renamed)', updated_at = now() WHERE id = '{p10}';",
            p9 = p[9],
            p10 = p[10],
        ),
    )
    .await;
    let (db, full) = copy(db, "catchup_full2").await;
    let w = db.spawn_worker("cu", 4, &[]);
    let wf = full.spawn_worker("cf", 4, &[]);
    db.wait_workers(&["cu"], RUN_TIMEOUT).await;
    full.wait_workers(&["cf"], RUN_TIMEOUT).await;
    let incremental = pass(&db, &["--changed-since", "last"]).await;
    let resync = pass(&full, &["--resync"]).await;
    // The moved task keeps its links to the phases of the project it left: ignored, logged as
    // `data` problems of the project it joined (partial), the same on both sides.
    for (db, run) in [(&db, incremental), (&full, resync)] {
        let unfinished: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT project_id, status FROM migration_run_items WHERE run_id = $1 AND status <> 'succeeded'",
        )
        .bind(run)
        .fetch_all(&db.pool)
        .await
        .expect("items");
        assert_eq!(unfinished, [(p[9], "partial".to_owned())]);
    }
    // The overlap (5 min) re-reads day 1's projects too; none of the others.
    let selected = items(&db, incremental).await;
    for project in [p[3], p[8], p[9], p[10]] {
        assert!(selected.contains(&project), "{project} selected");
    }
    assert!(
        selected.is_subset(&written.iter().copied().chain([p[8], p[9], p[10]]).collect()),
        "{selected:?}"
    );
    let (a, b) = (target(&db).await, target(&full).await);
    assert!(a == b, "day 2: incremental vs resync:{}", diff(&a, &b));
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM legacy_entity_mappings m JOIN onto_tasks o ON o.id = m.onto_id \
                  WHERE m.legacy_table = 'tasks' AND m.legacy_id = '{soft_deleted}' AND m.deleted_at IS NULL"
            )
        )
        .await,
        1,
        "the undeleted task is back"
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM legacy_entity_mappings m JOIN onto_tasks o ON o.id = m.onto_id \
                   JOIN legacy_entity_mappings mp ON mp.onto_id = o.project_id AND mp.legacy_table = 'projects' \
                  WHERE m.legacy_table = 'tasks' AND m.legacy_id = '{moved}' AND mp.legacy_id = '{}'",
                p[9]
            )
        )
        .await,
        1,
        "the moved task sits under its new project"
    );
    full.drop_db().await;
    drop(wf);

    // Writes the pass cannot see: one committed after it started (its jobs wait for a worker),
    // one in a transaction opened before it started and committed after it ended.
    stop(w).await;
    let slow_task = open_task(p[11], 0);
    let mut slow = db.pool.begin().await.expect("begin");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "UPDATE tasks SET title = 'slow writer', updated_at = now() WHERE id = {slow_task}"
    )))
    .execute(&mut *slow)
    .await
    .expect("slow write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let during = run_id(
        &db.cli_ok(&["run", "start", "--all", "--changed-since", "last"])
            .await,
    );
    exec(
        &db,
        &format!(
            "UPDATE tasks SET title = 'written during the pass', updated_at = now() WHERE id = {}",
            open_task(p[12], 0)
        ),
    )
    .await;
    let w = db.spawn_worker("cu", 4, &[]);
    db.wait_run(during, RUN_TIMEOUT).await;
    slow.commit().await.expect("commit");
    let missed = items(&db, during).await;
    assert!(
        !missed.contains(&p[11]) && !missed.contains(&p[12]),
        "{missed:?}"
    );
    // Without the overlap the next pass sees the write made during the last one, not the
    // transaction that was open when it started ...
    let no_overlap = run_id(
        &db.command(&["run", "start", "--all", "--changed-since", "last"])
            .env("ONTOFLEET__RUNS__INCREMENTAL_OVERLAP", "0s")
            .output()
            .await
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .expect("run start"),
    );
    db.wait_run(no_overlap, RUN_TIMEOUT).await;
    assert_eq!(
        items(&db, no_overlap).await,
        BTreeSet::from([p[12]]),
        "the write during the pass, not the open transaction's"
    );
    // ... with it (5 min), both.
    let caught_up = pass(&db, &["--changed-since", "last"]).await;
    let seen = items(&db, caught_up).await;
    assert!(seen.contains(&p[11]) && seen.contains(&p[12]), "{seen:?}");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM onto_tasks WHERE title IN ('slow writer', 'written during the pass')"
        )
        .await,
        2
    );
    let (code, doc) = cutover(&db).await;
    assert_eq!(code, 0, "ready after the last pass: {doc}");
    assert_eq!(doc["mismatches"], 0, "{doc}");
    drop(w);
    db.drop_db().await;
}

/// Emptying a legacy project's tasks by mistake does not empty the target: the pass stops the
/// project as a `data` failure naming the override; with it, the rows go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_delete_is_refused_unless_allowed() {
    let db = prepared(
        "massdel",
        &[
            "--users",
            "2",
            "--projects-per-user",
            "2",
            "--tasks-per-project",
            "6",
            "--giant-project-tasks",
            "40",
            "--seed",
            "5",
        ],
    )
    .await;
    let _w = db.spawn_worker("md", 2, &[]);
    db.wait_workers(&["md"], RUN_TIMEOUT).await;
    pass(&db, &[]).await;
    let giant = uuid(
        &db,
        "SELECT project_id FROM tasks GROUP BY project_id ORDER BY count(*) DESC LIMIT 1",
    )
    .await;
    let under = format!(
        "SELECT count(*) FROM onto_tasks o JOIN legacy_entity_mappings mp \
           ON mp.onto_id = o.project_id AND mp.legacy_table = 'projects' WHERE mp.legacy_id = '{giant}'"
    );
    let before = count(&db, &under).await;
    assert!(before > 20, "{before}");
    exec(
        &db,
        &format!("DELETE FROM tasks WHERE project_id = '{giant}'"),
    )
    .await;
    let refused = pass(&db, &["--changed-since", "last"]).await;
    assert_eq!(run_status(&db, refused).await, "completed_with_errors");
    let (status, category, message): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT status, error_category, last_error FROM migration_run_items \
          WHERE run_id = $1 AND project_id = $2",
    )
    .bind(refused)
    .bind(giant)
    .fetch_one(&db.pool)
    .await
    .expect("item");
    assert_eq!(status, "failed");
    assert_eq!(category.as_deref(), Some("data"));
    let message = message.unwrap_or_default();
    assert!(
        message.starts_with("refusing to delete ")
            && message.ends_with(": use --allow-mass-delete"),
        "{message}"
    );
    assert_eq!(count(&db, &under).await, before, "nothing deleted");
    // The failed project stays pending: the cut-over is blocked, the next pass tries it again.
    let (code, doc) = cutover(&db).await;
    assert_eq!(code, 1);
    assert!(blocker_kinds(&doc).contains("unresolved_items"), "{doc}");
    let allowed = pass(&db, &["--changed-since", "last", "--allow-mass-delete"]).await;
    assert_completed(&db, allowed).await;
    assert!(items(&db, allowed).await.contains(&giant));
    assert_eq!(count(&db, &under).await, 0, "deleted when allowed");
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM migration_log WHERE run_id = '{allowed}' AND operation = 'delete' \
                  AND entity_type = 'task'"
            )
        )
        .await,
        before
    );
    db.drop_db().await;
}

/// `follow` runs passes back to back; SIGTERM lets the pass under way finish, then it exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_finishes_its_pass_on_sigterm() {
    let db = prepared(
        "follow",
        &[
            "--users",
            "3",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "5",
            "--seed",
            "8",
        ],
    )
    .await;
    let w = db.spawn_worker("fw", 2, &[]);
    db.wait_workers(&["fw"], RUN_TIMEOUT).await;
    let mut follow = db
        .command(&["follow", "--every", "1s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("follow");
    // The first pass is a full one.
    wait_for(
        &db,
        "SELECT count(*) FROM migration_runs WHERE status = 'completed'",
    )
    .await;
    stop(w).await;
    let project = uuid(
        &db,
        "SELECT id FROM projects WHERE status <> 'archived' ORDER BY id LIMIT 1",
    )
    .await;
    exec(
        &db,
        &format!(
            "UPDATE projects SET name = 'followed', updated_at = now() WHERE id = '{project}'"
        ),
    )
    .await;
    // The next pass starts and waits for a worker; SIGTERM now must not cut it short.
    wait_for(
        &db,
        "SELECT count(*) FROM migration_runs WHERE status = 'running'",
    )
    .await;
    signal(&follow, "TERM");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        follow.try_wait().expect("try_wait").is_none(),
        "follow waits for its pass"
    );
    let _w = db.spawn_worker("fw", 2, &[]);
    let out = tokio::time::timeout(RUN_TIMEOUT, follow.wait_with_output())
        .await
        .expect("follow ends")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("lag before: 1 project(s) pending"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lag after: 0 project(s) pending"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("follow stopped: the last pass finished\n"),
        "{stdout}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM migration_runs WHERE status = 'completed'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM onto_projects WHERE name = 'followed'"
        )
        .await,
        1
    );
    db.drop_db().await;
}

/// A pass that spends its error budget stops `follow` with exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_stops_on_an_error_budget() {
    let db = prepared(
        "followbudget",
        &[
            "--users",
            "3",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "4",
            "--seed",
            "9",
        ],
    )
    .await;
    let env = [
        ("ONTOFLEET__FAULTS__FAIL_PROJECT", "*"),
        ("ONTOFLEET__FAULTS__FAIL_KIND", "data"),
        ("ONTOFLEET__FAULTS__FAIL_ATTEMPTS", "2"),
    ];
    let _w = db.spawn_worker("fb", 1, &env);
    db.wait_workers(&["fb"], RUN_TIMEOUT).await;
    let out = tokio::time::timeout(
        RUN_TIMEOUT,
        db.command(&["follow", "--every", "1s"])
            .env("ONTOFLEET__RUNS__MAX_FAILURE_RATE", "50")
            .env("ONTOFLEET__RUNS__FAILURE_WINDOW", "3")
            .output(),
    )
    .await
    .expect("follow stops by itself")
    .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("paused itself on its error budget"),
        "{stderr}"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM migration_runs WHERE status = 'paused'"
        )
        .await,
        1
    );
    db.drop_db().await;
}

async fn wait_for(db: &TestDb, sql: &str) {
    let started = Instant::now();
    while count(db, sql).await == 0 {
        assert!(started.elapsed() < RUN_TIMEOUT, "{sql} stayed 0");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
