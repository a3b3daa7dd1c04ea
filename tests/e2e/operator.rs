//! The operator CLI (SPEC §7, issue #5): `jobs list|show|retry|kill|purge`, `enqueue`,
//! `run validate|rollback`, `stats`, and bad input everywhere. The scenario an operator lives
//! through: a project fails as `data` on a target-side constraint, the constraint is removed,
//! `jobs retry --run RUN --category data` finishes the run, `run validate` agrees.

use std::process::Output;

use ontofleet_testkit::TestDb;
use serde_json::Value;
use uuid::Uuid;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

fn small() -> Vec<&'static str> {
    vec![
        "--users",
        "3",
        "--projects-per-user",
        "2",
        "--tasks-per-project",
        "5",
        "--seed",
        "77",
    ]
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}"))
}

/// Exit `code`, nothing on stdout, exactly one line on stderr containing `needle`.
fn assert_refused(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Wait until no queue row is claimed by a worker: apalis acknowledges a job after its handler
/// returned, so the ledger can be terminal a moment before the queue row is.
async fn settle_queue(db: &TestDb) {
    let started = std::time::Instant::now();
    while db
        .count("SELECT count(*) FROM apalis.jobs WHERE status IN ('Queued', 'Running')")
        .await
        > 0
    {
        assert!(started.elapsed() < RUN_TIMEOUT, "queue rows stay claimed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `jobs retry --run RUN --category data --json`, parsed.
async fn retry_data(db: &TestDb, run: Uuid) -> Value {
    let run = run.to_string();
    json(
        &db.cli_ok(&[
            "jobs",
            "retry",
            "--run",
            &run,
            "--category",
            "data",
            "--json",
        ])
        .await,
    )
}

async fn jobs_of(db: &TestDb, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["jobs", "list", "--json"];
    all.extend_from_slice(args);
    json(&db.cli_ok(&all).await)["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_failure_fixed_then_retried_by_category() {
    let db = prepared("opdata", &small()).await;
    let want = expected(&db).await;
    let (project, name): (Uuid, String) = sqlx::query_as(
        "SELECT id, name FROM projects WHERE status <> 'archived' ORDER BY id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // A target-side constraint that this one project violates: a `data` failure (SQLSTATE 23514).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE onto_projects ADD CONSTRAINT operator_scenario CHECK (name <> '{}')",
        name.replace('\'', "''")
    )))
    .execute(&db.pool)
    .await
    .unwrap();
    let _w = db.spawn_worker("opdata", 2, &[]);
    db.wait_workers(&["opdata"], RUN_TIMEOUT).await;

    // `run start --watch` ends with exit 3 and shows the data failure in its progress lines.
    let watched = db.cli(&["run", "start", "--all", "--watch"]).await;
    assert_eq!(watched.status.code(), Some(3));
    let progress = String::from_utf8_lossy(&watched.stderr);
    assert!(progress.contains("errors: data 1"), "{progress}");
    let run = run_id(
        String::from_utf8_lossy(&watched.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap(),
    );

    // jobs list: exactly the failed project, killed in the queue after its fallback attempt
    // (apalis writes the queue status after the handler returned, so wait for it).
    settle_queue(&db).await;
    let failed = jobs_of(
        &db,
        &[
            "--run",
            &run.to_string(),
            "--status",
            "failed",
            "--category",
            "data",
        ],
    )
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let job = failed[0]["job_id"].as_str().unwrap().to_owned();
    assert_eq!(failed[0]["project_id"], project.to_string());
    assert_eq!(failed[0]["job_status"], "Killed");
    assert_eq!(failed[0]["attempts"], 2);
    let table = db
        .cli_ok(&["jobs", "list", "--run", &run.to_string()])
        .await;
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("JOB") && header.contains("CATEGORY"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 1 + want.projects as usize, "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&job) && l.contains("failed") && l.contains("data"))
    );

    // jobs show: payload, item, both attempts (the second in fallback mode) with their messages.
    let shown = json(&db.cli_ok(&["jobs", "show", &job, "--json"]).await);
    assert_eq!(shown["payload"]["project_id"], project.to_string());
    assert_eq!(shown["payload"]["run_id"], run.to_string());
    assert_eq!(shown["item"]["status"], "failed");
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts
            .iter()
            .map(|a| (
                a["outcome"].as_str().unwrap(),
                a["category"].as_str().unwrap(),
                a["fallback"].as_bool().unwrap()
            ))
            .collect::<Vec<_>>(),
        [("retry", "data", false), ("failed", "data", true)]
    );
    assert!(
        attempts[1]["message"]
            .as_str()
            .unwrap()
            .contains("operator_scenario")
    );
    assert!(attempts.iter().all(|a| a["duration_ms"].as_i64().is_some()));
    let human = db.cli_ok(&["jobs", "show", &job.to_lowercase()]).await;
    assert!(
        human.contains("last error [data]") && human.contains("ATTEMPT"),
        "{human}"
    );

    // validate says what is wrong, with exit 1.
    let invalid = db
        .cli(&["run", "validate", &run.to_string(), "--json"])
        .await;
    assert_refused(&invalid, 1, "does not reconcile");
    let report = json(&String::from_utf8_lossy(&invalid.stdout));
    assert_eq!(report["ok"], false);
    assert_eq!(report["not_migrated"], 1);
    assert_eq!(report["orphans"], 0);
    assert_eq!(report["edges_missing"], 0);

    // Retrying before the fix is allowed but pointless; the operator fixes the target first.
    sqlx::query("ALTER TABLE onto_projects DROP CONSTRAINT operator_scenario")
        .execute(&db.pool)
        .await
        .unwrap();
    let retried = retry_data(&db, run).await;
    assert_eq!(retried["retried"], 1);
    assert_eq!(retried["jobs"][0]["job_id"], job);
    assert_eq!(retried["jobs"][0]["previous_status"], "failed");
    assert_eq!(retried["runs"][0]["reopened"], true);
    assert_eq!(
        retried["runs"][0]["previous_status"],
        "completed_with_errors"
    );
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");

    // The item: attempt 3 succeeded, counted by the policy as the first since the retry.
    let (status, attempts, base, category): (String, i32, i32, Option<String>) = sqlx::query_as(
        "SELECT status, attempts, attempt_base, error_category FROM migration_run_items WHERE run_id = $1 AND project_id = $2",
    )
    .bind(run)
    .bind(project)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), attempts, base, category),
        ("succeeded", 3, 2, None)
    );
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM migration_attempts WHERE run_id = $1 AND project_id = $2 ORDER BY attempt",
    )
    .bind(run)
    .bind(project)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(outcomes, ["retry", "failed", "succeeded"]);
    // The platform run re-took the lock with a new token and released it again on completion.
    let lock = json(&db.cli_ok(&["lock", "status", "--json"]).await);
    assert_eq!(lock["held"], false);
    assert_eq!(lock["token"], 2);
    let run_row = json(
        &db.cli_ok(&["run", "show", &run.to_string(), "--json"])
            .await,
    );
    assert_eq!(run_row["items"]["succeeded"], want.projects);
    assert_eq!(run_row["items"]["failed"], 0);
    assert_eq!(run_row["lock_token"], 2);

    assert_target(&db, &want).await;
    let valid = json(
        &db.cli_ok(&["run", "validate", &run.to_string(), "--json"])
            .await,
    );
    assert_eq!(valid["ok"], true, "{valid}");
    assert_eq!(valid["mismatches"], 0);
    assert_eq!(valid["entities"]["projects"]["ok"], want.projects);
    assert_eq!(valid["entities"]["tasks"]["ok"], want.tasks);
    assert!(
        db.cli_ok(&["run", "validate", &run.to_string()])
            .await
            .contains("ok: source and target reconcile")
    );

    // Nothing left to retry; a succeeded job is not retryable.
    let again = retry_data(&db, run).await;
    assert_eq!(again["retried"], 0);
    assert_eq!(
        db.cli_ok(&["jobs", "retry", "--run", &run.to_string()])
            .await
            .trim(),
        "nothing to retry: no failed or skipped item matches"
    );
    assert_refused(
        &db.cli(&["jobs", "retry", &job]).await,
        2,
        "enqueue --project",
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_retry_enqueue_and_purge() {
    let db = prepared("opkill", &small()).await;
    let want = expected(&db).await;
    // No worker yet: every job waits.
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let r = run.to_string();
    let queued = jobs_of(&db, &["--run", &r, "--status", "queued"]).await;
    assert_eq!(queued.len() as i64, want.projects);
    let mut ids: Vec<String> = queued
        .iter()
        .map(|j| j["job_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let (j1, j2) = (ids[0].clone(), ids[1].clone());

    let killed = json(&db.cli_ok(&["jobs", "kill", &j1, &j2, "--json"]).await);
    assert_eq!(killed["killed"], 2);
    assert_eq!(killed["completed_runs"], serde_json::json!([]));
    let states: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.status, j.status FROM migration_run_items i JOIN apalis.jobs j ON j.id = i.job_id \
          WHERE i.job_id = ANY($1) ORDER BY i.job_id",
    )
    .bind(&ids[..2])
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![("cancelled".to_owned(), "Killed".to_owned()); 2]
    );
    assert_refused(
        &db.cli(&["jobs", "kill", &j1]).await,
        2,
        "already cancelled",
    );
    // A cancelled job can be retried by id (human output: the job and what to do next).
    let back = db.cli_ok(&["jobs", "retry", &j1]).await;
    assert!(back.starts_with("JOB") && back.contains(&j1), "{back}");
    assert!(
        back.contains("1 job(s) requeued; follow it with `ontofleet run watch"),
        "{back}"
    );
    let item: String =
        sqlx::query_scalar("SELECT status FROM migration_run_items WHERE job_id = $1")
            .bind(&j1)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(item, "queued");
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status = 'Pending'")
            .await,
        want.projects - 1
    );

    let _w = db.spawn_worker("opkill", 2, &[]);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed_with_errors");
    let show = json(&db.cli_ok(&["run", "show", &r, "--json"]).await);
    assert_eq!(show["items"]["cancelled"], 1);
    assert_eq!(show["items"]["succeeded"], want.projects - 1);

    // enqueue into the run: the cancelled project is put back and the run completes cleanly.
    let p2: String =
        sqlx::query_scalar("SELECT project_id::text FROM migration_run_items WHERE job_id = $1")
            .bind(&j2)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let added = json(
        &db.cli_ok(&["enqueue", "--project", &p2, "--run", &r, "--json"])
            .await,
    );
    assert_eq!(added["reopened"], true);
    assert_eq!(added["new_run"], false);
    assert_eq!(added["previous_status"], "cancelled");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    assert_target(&db, &want).await;
    let before = crate::expect::snapshot(&db).await;

    // enqueue alone: a new single-project run through the ledger writes nothing new.
    let single = db.cli(&["enqueue", "--project", &p2]).await;
    assert!(single.status.success());
    let single_run = run_id(&String::from_utf8_lossy(&single.stdout));
    assert!(String::from_utf8_lossy(&single.stderr).contains("in new run"));
    assert_eq!(db.wait_run(single_run, RUN_TIMEOUT).await, "completed");
    assert_eq!(
        crate::expect::snapshot(&db).await,
        before,
        "unchanged data is not rewritten"
    );
    let unchanged: i64 = sqlx::query_scalar(
        "SELECT (counts -> 'task' ->> 'unchanged')::bigint + (counts -> 'project' ->> 'unchanged')::bigint \
           FROM migration_run_items WHERE run_id = $1",
    )
    .bind(single_run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(unchanged >= 1);
    // Already waiting or running in a run: refused (no worker, so it stays queued).
    let mut w = _w;
    w.kill().await.unwrap();
    let blocker = run_id(
        &db.cli_ok(&["run", "start", "--project", &p2, "--resync"])
            .await,
    );
    let dup = db
        .cli(&["enqueue", "--project", &p2, "--run", &blocker.to_string()])
        .await;
    assert_refused(&dup, 2, "already");
    db.cli_ok(&["run", "cancel", &blocker.to_string()]).await;

    // purge: finished queue rows go, the ledger stays; shown jobs say `purged`. Time passing is
    // simulated, not slept: every finished row is made an hour old except the blocker run's,
    // which finished a moment ago and must stay.
    settle_queue(&db).await;
    sqlx::query(
        "UPDATE apalis.jobs SET done_at = now() - interval '1 hour' \
          WHERE id NOT IN (SELECT job_id FROM migration_run_items WHERE run_id = $1)",
    )
    .bind(blocker)
    .execute(&db.pool)
    .await
    .unwrap();
    let total_jobs = db.count("SELECT count(*) FROM apalis.jobs").await;
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status NOT IN ('Done', 'Killed')")
            .await,
        0,
        "every queue row is finished"
    );
    let purged = json(
        &db.cli_ok(&["jobs", "purge", "--older-than", "30m", "--json"])
            .await,
    );
    assert_eq!(purged["jobs_deleted"], total_jobs - 1);
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs").await,
        1,
        "the row finished a moment ago stays"
    );
    let listed = jobs_of(&db, &["--run", &r]).await;
    assert!(
        listed.iter().all(|j| j["job_status"] == "purged"),
        "{listed:?}"
    );
    let shown = json(&db.cli_ok(&["jobs", "show", &j2, "--json"]).await);
    assert_eq!(shown["job"], Value::Null);
    assert!(!shown["attempts"].as_array().unwrap().is_empty());
    // A purged job put back to work gets a new queue row.
    let again = json(
        &db.cli_ok(&["enqueue", "--project", &p2, "--run", &r, "--json"])
            .await,
    );
    let new_job = again["job_id"].as_str().unwrap();
    assert_ne!(new_job, j2);
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status = 'Pending'")
            .await,
        1
    );
    assert_eq!(db.count("SELECT count(*) FROM apalis.jobs").await, 2);
    let _w2 = db.spawn_worker("opkill2", 1, &[]);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_rollback_and_stats() {
    let mut seed = small();
    seed.push("--bad-rows");
    let db = prepared("oprb", &seed).await;
    let _w = db.spawn_worker("oprb", 2, &[]);
    let watched = db
        .cli(&["run", "start", "--all", "--watch", "--json"])
        .await;
    assert_eq!(
        watched.status.code(),
        Some(3),
        "bad rows make it completed_with_errors"
    );
    let run: Uuid = json(&String::from_utf8_lossy(&watched.stdout))["run_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let r = run.to_string();
    // Bad rows are explained by their log rows: the run reconciles.
    let v = json(&db.cli_ok(&["run", "validate", &r, "--json"]).await);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["entities"]["tasks"]["explained"].as_i64().unwrap() > 0);
    let edges = db.count("SELECT count(*) FROM onto_edges").await;
    assert_eq!(v["edges_expected"], edges);

    // Tamper with the target: a deleted edge, a deleted task (its mapping dangles), an orphan.
    let (project, onto_project): (Uuid, Uuid) = sqlx::query_as(
        "SELECT m.legacy_id, m.onto_id FROM legacy_entity_mappings m \
          WHERE m.legacy_table = 'projects' AND EXISTS (SELECT 1 FROM onto_tasks t WHERE t.project_id = m.onto_id) \
          ORDER BY m.legacy_id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM onto_edges WHERE id = (SELECT id FROM onto_edges WHERE rel = 'has_plan' ORDER BY id LIMIT 1)")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM onto_tasks WHERE id = (SELECT id FROM onto_tasks WHERE project_id = $1 ORDER BY id LIMIT 1)")
        .bind(onto_project)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO onto_tasks (id, project_id, title, type_key, state_key, priority, props, created_by) \
         SELECT gen_random_uuid(), $1, 'orphan', 'task.execute', 'todo', 3, '{}', created_by FROM onto_projects WHERE id = $1",
    )
    .bind(onto_project)
    .execute(&db.pool)
    .await
    .unwrap();
    let bad = db.cli(&["run", "validate", &r, "--json"]).await;
    assert_refused(&bad, 1, "does not reconcile");
    let v = json(&String::from_utf8_lossy(&bad.stdout));
    assert_eq!(v["orphans"], 1);
    assert_eq!(v["entities"]["tasks"]["dangling"], 1);
    assert!(
        v["edges_missing"].as_i64().unwrap() >= 1,
        "the deleted edge: {v}"
    );
    let kinds: Vec<&str> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    for kind in ["dangling", "missing_edge", "orphan"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Reprocessing the project recreates the task and its edges; the orphan is the operator's.
    let fixed = json(
        &db.cli_ok(&[
            "enqueue",
            "--project",
            &project.to_string(),
            "--run",
            &r,
            "--json",
        ])
        .await,
    );
    assert_eq!(fixed["reopened"], true);
    db.wait_run(run, RUN_TIMEOUT).await;
    sqlx::query("DELETE FROM onto_tasks WHERE title = 'orphan'")
        .execute(&db.pool)
        .await
        .unwrap();
    // The has_plan edge of another project stays missing until that project is reprocessed too.
    let v = json(&String::from_utf8_lossy(
        &db.cli(&["run", "validate", &r, "--json"]).await.stdout,
    ));
    assert_eq!(v["orphans"], 0);
    assert_eq!(v["entities"]["tasks"]["dangling"], 0);
    assert!(v["edges_missing"].as_i64().unwrap() <= 1, "{v}");
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log WHERE operation = 'recreate'")
            .await,
        1
    );

    // stats: global figures from the view, per-user rows after a refresh.
    let stats = json(
        &db.cli_ok(&["stats", "--refresh", "--users", "--json"])
            .await,
    );
    assert_eq!(stats["refreshed"], true);
    assert_eq!(
        stats["global"]["migrated_projects"],
        db.count("SELECT count(*) FROM legacy_entity_mappings WHERE legacy_table = 'projects'")
            .await
    );
    assert_eq!(
        stats["users"].as_array().unwrap().len() as i64,
        db.count("SELECT count(*) FROM users").await
    );
    let human = db.cli_ok(&["stats", "--users"]).await;
    assert!(
        human.starts_with("projects") && human.contains("EMAIL"),
        "{human}"
    );

    // A later run changes one task of another project: rollback keeps that task and its project.
    let (p2, task): (Uuid, Uuid) = sqlx::query_as(
        "SELECT t.project_id, t.id FROM tasks t JOIN legacy_entity_mappings m ON m.legacy_table = 'tasks' AND m.legacy_id = t.id \
          WHERE t.project_id <> $1 ORDER BY t.id LIMIT 1",
    )
    .bind(project)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tasks SET title = title || ' (edited)', updated_at = now() WHERE id = $1")
        .bind(task)
        .execute(&db.pool)
        .await
        .unwrap();
    let later: Uuid = json(
        &db.cli_ok(&["enqueue", "--project", &p2.to_string(), "--json"])
            .await,
    )["run_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    db.wait_run(later, RUN_TIMEOUT).await;
    drop(_w);

    assert_refused(&db.cli(&["run", "rollback", &r]).await, 2, "--yes");
    let mappings_before = db
        .count("SELECT count(*) FROM legacy_entity_mappings")
        .await;
    let rolled = json(&db.cli_ok(&["run", "rollback", &r, "--yes", "--json"]).await);
    assert_eq!(
        rolled["kept"], 2,
        "the resynced task and its project: {rolled}"
    );
    let deleted: i64 = rolled["rows_deleted"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(rolled["mappings_deleted"], deleted);
    assert_eq!(
        db.count("SELECT count(*) FROM legacy_entity_mappings")
            .await,
        mappings_before - deleted
    );
    assert_eq!(db.count("SELECT count(*) FROM onto_projects").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM onto_tasks").await, 1);
    assert_eq!(
        db.count("SELECT count(*) FROM onto_plans").await
            + db.count("SELECT count(*) FROM onto_events").await
            + db.count("SELECT count(*) FROM onto_documents").await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log WHERE operation = 'rollback' AND status = 'completed'").await,
        deleted
    );
    let kept_task: Uuid = sqlx::query_scalar(
        "SELECT legacy_id FROM legacy_entity_mappings WHERE legacy_table = 'tasks'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(kept_task, task);
    // Edges that pointed at deleted rows are gone with them.
    assert_eq!(
        db.count("SELECT count(*) FROM onto_edges e WHERE NOT EXISTS (SELECT 1 FROM onto_tasks t WHERE t.id = e.dst_id) \
                  AND NOT EXISTS (SELECT 1 FROM onto_plans p WHERE p.id = e.dst_id) AND NOT EXISTS (SELECT 1 FROM onto_events v WHERE v.id = e.dst_id) \
                  AND NOT EXISTS (SELECT 1 FROM onto_documents d WHERE d.id = e.dst_id)").await,
        0
    );
    // A second rollback finds nothing; the run now fails validation.
    let again = db.cli_ok(&["run", "rollback", &r, "--yes"]).await;
    assert!(
        again.starts_with(&format!("rolled back run {r}: 0 row(s)")),
        "{again}"
    );
    assert_refused(
        &db.cli(&["run", "validate", &r]).await,
        1,
        "does not reconcile",
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_one_line_with_the_right_exit_code() {
    let db = prepared("opbad", &small()).await;
    let unknown = Uuid::new_v4().to_string();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["jobs", "show", "nonsense"], 2, "not a job id"),
        (
            vec!["jobs", "show", "01JZZZZZZZZZZZZZZZZZZZZZZZ"],
            2,
            "does not exist",
        ),
        (
            vec!["jobs", "list", "--status", "bogus"],
            2,
            "unknown status",
        ),
        (
            vec!["jobs", "list", "--category", "nope"],
            2,
            "unknown category",
        ),
        (vec!["jobs", "list", "--run", &unknown], 2, "does not exist"),
        (vec!["jobs", "list", "--limit", "0"], 2, "--limit"),
        (vec!["jobs", "retry"], 2, "jobs retry --help"),
        (vec!["jobs", "retry", "--category", "data"], 2, "--run"),
        (
            vec!["jobs", "retry", "--run", &unknown],
            2,
            "does not exist",
        ),
        (
            vec!["jobs", "retry", "01JZZZZZZZZZZZZZZZZZZZZZZZ"],
            2,
            "does not exist",
        ),
        (vec!["jobs", "kill"], 2, "jobs kill --help"),
        (
            vec!["jobs", "purge", "--older-than", "5x"],
            2,
            "not a duration",
        ),
        (vec!["jobs", "purge"], 2, "--older-than"),
        (
            vec!["enqueue", "--project", "not-a-uuid"],
            2,
            "invalid value",
        ),
        (vec!["enqueue", "--project", &unknown], 2, "does not exist"),
        (
            vec!["enqueue", "--project", &unknown, "--run", &unknown],
            2,
            "does not exist",
        ),
        (vec!["run", "validate", &unknown], 2, "does not exist"),
        (
            vec!["run", "rollback", &unknown, "--yes"],
            2,
            "does not exist",
        ),
        (vec!["run", "show", "123"], 2, "invalid value"),
        (vec!["stats", "--users", "--limit", "0"], 2, "--limit"),
        (vec!["frobnicate"], 2, "unrecognized subcommand"),
        (vec!["jobs"], 2, "`ontofleet jobs` needs a subcommand"),
        (vec![], 2, "needs a subcommand"),
        (
            vec!["--database-url", "nope", "jobs", "list"],
            2,
            "postgres://",
        ),
    ];
    for (args, code, needle) in &cases {
        let out = db.cli(args).await;
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_refused(&out, *code, needle);
    }
    // An unreachable database: exit 1, says what to check.
    let mut cmd = db.command(&["jobs", "list"]);
    cmd.env(
        "ONTOFLEET_DATABASE_URL",
        "postgres://postgres@127.0.0.1:1/none",
    );
    let out = cmd.output().await.unwrap();
    assert_refused(&out, 1, "PostgreSQL");
    // Every command has --help.
    for command in [
        vec!["db", "migrate"],
        vec!["db", "status"],
        vec!["seed"],
        vec!["run", "start"],
        vec!["run", "preview"],
        vec!["run", "list"],
        vec!["run", "show"],
        vec!["run", "watch"],
        vec!["run", "cancel"],
        vec!["run", "validate"],
        vec!["run", "rollback"],
        vec!["worker"],
        vec!["enqueue"],
        vec!["jobs", "list"],
        vec!["jobs", "show"],
        vec!["jobs", "retry"],
        vec!["jobs", "kill"],
        vec!["jobs", "purge"],
        vec!["lock", "status"],
        vec!["lock", "release"],
        vec!["stats"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        let out = db.cli(&args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: ontofleet"),
            "{args:?}"
        );
    }
    // Human output of an empty queue.
    assert_eq!(db.cli_ok(&["jobs", "list"]).await.trim(), "no jobs match");
    let purged = db.cli_ok(&["jobs", "purge", "--older-than", "14d"]).await;
    assert!(
        purged.starts_with("deleted 0 finished queue row(s)"),
        "{purged}"
    );
    db.drop_db().await;
}
