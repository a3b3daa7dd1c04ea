//! A full platform run through the real queue with two worker processes, a resync run that
//! writes nothing, a drifted row updated in place, and a SIGKILLed worker.

use std::time::{Duration, Instant};

use ontofleet_testkit::signal;
use uuid::Uuid;

use crate::expect::{assert_target, expected, snapshot};
use crate::{RUN_TIMEOUT, prepared, run_id};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_migrate_exactly_once_through_the_queue_and_resync_writes_nothing() {
    let db = prepared(
        "bad",
        &[
            "--users",
            "6",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "12",
            "--seed",
            "7",
            "--bad-rows",
        ],
    )
    .await;
    let want = expected(&db).await;
    assert!(
        want.cycle_tasks >= 2,
        "the bad rows include parent cycles: {want:?}"
    );
    assert!(
        want.tasks > 50 && want.events > 0 && want.depends_on > 0 && want.has_subtask > 0,
        "{want:?}"
    );

    // Shared templates are read, never written, by a run (SPEC §5.2).
    let templates_sql =
        "SELECT md5(string_agg(t::text, '|' ORDER BY t.type_key)) FROM onto_templates t";
    let templates_before: String = sqlx::query_scalar(templates_sql)
        .fetch_one(&db.pool)
        .await
        .unwrap();

    let _w1 = db.spawn_worker("w1", 2, &[]);
    let _w2 = db.spawn_worker("w2", 2, &[]);
    db.wait_workers(&["w1", "w2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed_with_errors");
    let templates_after: String = sqlx::query_scalar(templates_sql)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        templates_after, templates_before,
        "a run modified onto_templates"
    );
    assert_target(&db, &want).await;

    let (total, ok, partial, failed, skipped): (i32, i32, i32, i32, i32) = sqlx::query_as(
        "SELECT total_items, succeeded_items, partial_items, failed_items, skipped_items FROM migration_runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(i64::from(total), want.projects);
    assert_eq!((failed, skipped), (0, 0));
    assert!(
        partial >= 1 && ok >= 1 && ok + partial == total,
        "ok {ok} partial {partial} total {total}"
    );
    // apalis acknowledges a job after its handler returns, so the last row may lag the run by a poll.
    let acked = Instant::now();
    while db
        .count("SELECT count(*) FROM apalis.jobs WHERE status <> 'Done'")
        .await
        > 0
    {
        assert!(
            acked.elapsed() < RUN_TIMEOUT,
            "every job acknowledged as Done"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        db.count("SELECT count(*) FROM migration_attempts").await,
        i64::from(total),
        "one attempt per project"
    );
    // Which of the two worker processes ran how many projects is up to the scheduler (one of
    // them may claim everything on a fast machine), so it is not asserted; that every item ran
    // once is.
    assert_eq!(
        db.count("SELECT count(*) FROM migration_platform_lock WHERE run_id IS NULL AND token = 1")
            .await,
        1,
        "lock released"
    );

    // A second run over everything, through the ledger: nothing is written.
    let before = snapshot(&db).await;
    let out = db
        .cli(&["run", "start", "--all", "--resync", "--watch", "--json"])
        .await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "a run with data errors exits 3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one document");
    assert_eq!(summary["status"], "completed_with_errors");
    assert_eq!(summary["items"]["total"].as_i64(), Some(want.projects));
    assert_eq!(
        snapshot(&db).await,
        before,
        "a resync of unchanged data writes no row"
    );
    let run2: Uuid = summary["run_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log l JOIN migration_runs r ON r.id = l.run_id \
                  WHERE r.created_at = (SELECT max(created_at) FROM migration_runs) AND l.status = 'completed'")
            .await,
        0,
        "no entity written by run {run2}"
    );

    // Drift one task: the resync updates it in place (same onto id) and rewrites nothing else.
    let (task, onto): (Uuid, Uuid) = sqlx::query_as(
        "SELECT m.legacy_id, m.onto_id FROM legacy_entity_mappings m WHERE m.legacy_table = 'tasks' ORDER BY m.legacy_id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tasks SET title = title || ' (edited)', priority = 'urgent' WHERE id = $1")
        .bind(task)
        .execute(&db.pool)
        .await
        .unwrap();
    let project: Uuid = sqlx::query_scalar("SELECT project_id FROM tasks WHERE id = $1")
        .bind(task)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let out = db
        .cli(&[
            "run",
            "start",
            "--project",
            &project.to_string(),
            "--resync",
            "--watch",
        ])
        .await;
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (title, priority): (String, i32) =
        sqlx::query_as("SELECT title, priority FROM onto_tasks WHERE id = $1")
            .bind(onto)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(title.ends_with(" (edited)"), "{title}");
    assert_eq!(priority, 5);
    assert_eq!(
        db.count(
            "SELECT count(*) FROM migration_log WHERE operation = 'resync' AND status = 'completed'"
        )
        .await,
        1,
        "exactly the drifted task was resynced"
    );
    let mut after = snapshot(&db).await;
    let mut expected_after = before.clone();
    after.max_updated_at = None;
    expected_after.max_updated_at = None;
    assert_eq!(
        after, expected_after,
        "a resync updates in place: same row counts"
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_worker_leaves_no_duplicates_and_its_jobs_are_recovered() {
    let db = prepared(
        "kill",
        &[
            "--users",
            "8",
            "--projects-per-user",
            "4",
            "--tasks-per-project",
            "8",
            "--seed",
            "11",
        ],
    )
    .await;
    let want = expected(&db).await;
    // Every project transaction is held open 400 ms, so the kill lands mid-transaction.
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "400")];
    let mut victim = db.spawn_worker("victim", 2, &slow);
    db.wait_workers(&["victim"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let started = Instant::now();
    while db
        .count("SELECT count(*) FROM migration_run_items WHERE status = 'succeeded'")
        .await
        < 3
    {
        assert!(started.elapsed() < RUN_TIMEOUT, "victim made no progress");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&victim, "KILL");
    victim.wait().await.unwrap();
    let killed_at = Instant::now();
    let orphans = db.count("SELECT count(*) FROM apalis.jobs WHERE lock_by LIKE 'victim-%' AND status IN ('Queued', 'Running')").await;
    assert!(orphans >= 1, "the victim died holding jobs");

    let _rescuer = db.spawn_worker("rescuer", 2, &[]);
    while db.count("SELECT count(*) FROM apalis.jobs WHERE lock_by LIKE 'victim-%' AND status IN ('Queued', 'Running')").await > 0 {
        assert!(killed_at.elapsed() < Duration::from_secs(30), "orphaned jobs not recovered within 30 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let recovered_in = killed_at.elapsed();
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    println!(
        "{orphans} orphaned job(s) recovered {:.1}s after SIGKILL",
        recovered_in.as_secs_f64()
    );
    assert_target(&db, &want).await;
    let (total, ok): (i32, i32) =
        sqlx::query_as("SELECT total_items, succeeded_items FROM migration_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (i64::from(total), i64::from(ok)),
        (want.projects, want.projects)
    );
    assert_eq!(db.count("SELECT count(*) FROM migration_log WHERE status = 'completed' AND entity_type = 'project'").await, want.projects, "each project written once");
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_through_the_queue_writes_nothing_but_previews() {
    let db = prepared(
        "dry",
        &[
            "--users",
            "3",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "10",
            "--seed",
            "5",
            "--bad-rows",
        ],
    )
    .await;
    let want = expected(&db).await;
    let _w = db.spawn_worker("dry", 2, &[]);
    db.wait_workers(&["dry"], Duration::from_secs(30)).await;
    let out = db
        .cli(&["run", "start", "--all", "--dry-run", "--watch", "--json"])
        .await;
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one document");
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["items"]["total"].as_i64(), Some(want.projects));
    let written = snapshot(&db).await;
    for (table, n) in &written.counts {
        assert_eq!(*n, 0, "a dry run wrote to {table}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log").await,
        0,
        "a dry run wrote to migration_log"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM migration_platform_lock WHERE token = 0")
            .await,
        1,
        "a dry run takes no lock"
    );
    // Every item carries a preview whose counts match what a live run writes.
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE preview IS NULL")
            .await,
        0
    );
    let previewed: i64 = db.count("SELECT sum((preview #>> '{counts,task,inserted}')::bigint)::bigint FROM migration_run_items").await;
    assert_eq!(previewed, want.tasks, "previewed task inserts");
    let problems = db.count("SELECT sum(jsonb_array_length(preview -> 'problems'))::bigint FROM migration_run_items").await;
    assert!(
        problems >= want.cycle_tasks,
        "data problems are previewed: {problems}"
    );
    db.drop_db().await;
}
