//! Long projects and lost holders (issue #27): a worker whose job transactions hold every
//! pooled connection still beats, so no live worker's jobs are re-enqueued and no project runs
//! twice; a holder whose job was re-enqueued under it writes nothing; the platform lock's lease
//! outlives a project longer than the lease; a pool too small for the concurrency is refused.

use std::time::{Duration, Instant};

use ontofleet_testkit::{TestDb, signal};
use uuid::Uuid;

use crate::chaos::measure;
use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

fn full() -> bool {
    std::env::var("LONG_PROJECTS_FULL").is_ok_and(|v| v == "1")
}

/// Make every project long: `copies` more tasks each, copied round-robin from its own.
async fn pad_projects(db: &TestDb, copies: i32) {
    sqlx::query(
        "WITH src AS (SELECT t.*, row_number() OVER (PARTITION BY t.project_id ORDER BY t.id) - 1 AS i, \
                             count(*) OVER (PARTITION BY t.project_id) AS n \
                        FROM tasks t WHERE t.project_id IS NOT NULL AND t.deleted_at IS NULL) \
         INSERT INTO tasks (user_id, project_id, title, description, details, task_steps, status, priority, \
                            task_type, start_date, duration_minutes, source, created_at, updated_at) \
         SELECT s.user_id, s.project_id, s.title || ' (copy ' || g || ')', s.description, s.details, s.task_steps, \
                s.status, s.priority, s.task_type, s.start_date, s.duration_minutes, s.source, s.created_at, s.updated_at \
           FROM (SELECT DISTINCT project_id, n FROM src) p CROSS JOIN generate_series(0, $1 - 1) g \
           JOIN src s ON s.project_id = p.project_id AND s.i = g % p.n",
    )
    .bind(copies)
    .execute(&db.pool)
    .await
    .expect("pad projects");
    sqlx::query("ANALYZE tasks")
        .execute(&db.pool)
        .await
        .expect("analyze");
}

/// Every project active (the seed archives some), so each one is selected by a run.
async fn activate_projects(db: &TestDb) {
    sqlx::query("UPDATE projects SET status = 'active' WHERE status = 'archived'")
        .execute(&db.pool)
        .await
        .expect("activate projects");
}

/// Lines of a worker's log that contain `needle`.
fn log_lines(db: &TestDb, worker: &str, needle: &str) -> Vec<String> {
    std::fs::read_to_string(db.worker_log(worker))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Two workers whose job transactions hold every connection of their pools for longer than
/// the heartbeat's dead-after: each item runs exactly once, nobody is rescued.
///
/// Short form (`make test`): 8 projects padded with 1,000 tasks each, each transaction held 6 s
/// (fault delay) against a dead-after of 3 s and an acquire timeout of 1 s, pools shaped like
/// the defaults (10 connections for a concurrency of 8: here 4 for 2). `LONG_PROJECTS_FULL=1` with `ONTOFLEET_BIN` set to
/// a release build: 16 projects padded with 30,000 tasks each, at the default settings, no delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_projects_run_once_and_nobody_is_rescued() {
    let (seed, copies): (&[&str], i32) = if full() {
        (
            &[
                "--users",
                "4",
                "--projects-per-user",
                "4",
                "--tasks-per-project",
                "30",
                "--seed",
                "27",
            ],
            30_000,
        )
    } else {
        (
            &[
                "--users",
                "4",
                "--projects-per-user",
                "2",
                "--tasks-per-project",
                "10",
                "--seed",
                "27",
            ],
            1_000,
        )
    };
    let db = prepared("long", seed).await;
    activate_projects(&db).await;
    pad_projects(&db, copies).await;
    let want = expected(&db).await;
    let env: Vec<(&str, &str)> = if full() {
        Vec::new()
    } else {
        vec![
            ("ONTOFLEET__DATABASE__MAX_CONNECTIONS", "4"),
            ("ONTOFLEET__DATABASE__ACQUIRE_TIMEOUT_SECS", "1"),
            ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1"),
            ("ONTOFLEET__WORKER__MISSED_HEARTBEATS", "3"),
            ("ONTOFLEET__FAULTS__DELAY_MS", "6000"),
        ]
    };
    let concurrency = if full() { 8 } else { 2 };
    let _fleet = [
        db.spawn_worker("long-a", concurrency, &env),
        db.spawn_worker("long-b", concurrency, &env),
    ];
    db.wait_workers(&["long-a", "long-b"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let timeout = if full() {
        Duration::from_secs(1800)
    } else {
        RUN_TIMEOUT
    };
    let started = Instant::now();
    assert_eq!(db.wait_run(run, timeout).await, "completed");
    println!(
        "long projects: run took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_target(&db, &want).await;
    let row = measure(&db, run, "long projects", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    for w in ["long-a", "long-b"] {
        let rescues = log_lines(&db, w, "missed their heartbeats");
        assert!(rescues.is_empty(), "{w} re-enqueued live jobs: {rescues:?}");
        let starved = log_lines(&db, w, "heartbeat failed");
        assert!(starved.is_empty(), "{w}'s heartbeat starved: {starved:?}");
    }
    assert_eq!(
        row.attempts, row.jobs,
        "attempts started = items (each project ran once)"
    );
    let attempts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM migration_attempts WHERE run_id = $1 AND outcome = 'succeeded'",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(attempts, row.jobs, "one recorded attempt per item");
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE attempts <> 1")
            .await,
        0,
        "every job claimed once"
    );
    db.drop_db().await;
}

/// A worker frozen mid-transaction (SIGSTOP: a long GC pause, a partitioned pod) loses its job
/// to a live worker; when it thaws, it must write nothing: its transaction rolls back, its
/// attempt is recorded as `lost`, and the live worker's execution is the one that counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_its_job_writes_nothing() {
    let db = prepared(
        "lost",
        &[
            "--users",
            "1",
            "--projects-per-user",
            "1",
            "--tasks-per-project",
            "8",
            "--seed",
            "28",
        ],
    )
    .await;
    activate_projects(&db).await;
    let want = expected(&db).await;
    let project: Uuid = sqlx::query_scalar("SELECT id FROM projects LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let quick = [
        ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1"),
        ("ONTOFLEET__WORKER__MISSED_HEARTBEATS", "2"),
    ];
    let mut slow_env = quick.to_vec();
    slow_env.push(("ONTOFLEET__FAULTS__DELAY_MS", "4000"));
    let old = db.spawn_worker("old", 1, &slow_env);
    db.wait_workers(&["old"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    // The old holder is inside its transaction (the delay comes after the writes).
    db.wait_until(
        "SELECT count(*) FROM migration_run_items WHERE status = 'running' AND worker LIKE 'old-%'",
        RUN_TIMEOUT,
        "the old holder never started",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&old, "STOP");
    let _new = db.spawn_worker("new", 1, &quick);
    // The live worker finds the frozen one silent, re-enqueues its job and claims it; it then
    // waits for the project's lock, which the frozen transaction holds.
    db.wait_until(
        "SELECT count(*) FROM apalis.jobs WHERE lock_by LIKE 'new-%'",
        RUN_TIMEOUT,
        "the job was never rescued",
    )
    .await;
    signal(&old, "CONT");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    assert_target(&db, &want).await;
    let row = measure(&db, run, "lost holder", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    let trail: Vec<(String, String)> = sqlx::query_as(
        "SELECT split_part(worker, '-', 1), outcome FROM migration_attempts \
          WHERE run_id = $1 AND project_id = $2 ORDER BY attempt",
    )
    .bind(run)
    .bind(project)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        trail,
        vec![
            ("old".to_owned(), "lost".to_owned()),
            ("new".to_owned(), "succeeded".to_owned())
        ],
        "the old holder's attempt is lost, the new one's counts"
    );
    let (status, worker): (String, String) = sqlx::query_as(
        "SELECT status, split_part(worker, '-', 1) FROM migration_run_items WHERE run_id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), worker.as_str()), ("succeeded", "new"));
    drop(old);
    db.drop_db().await;
}

/// A project that takes longer than the platform lock's lease: the lease is renewed while the
/// run is worked on, so a second `run start --all` is refused (exit 4) and the first run
/// completes with every item written, none fenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_outlives_a_project_longer_than_it() {
    let db = prepared(
        "lease",
        &[
            "--users",
            "1",
            "--projects-per-user",
            "2",
            "--tasks-per-project",
            "4",
            "--seed",
            "29",
        ],
    )
    .await;
    activate_projects(&db).await;
    let want = expected(&db).await;
    let env = [
        ("ONTOFLEET__LOCK__LEASE_SECS", "3"),
        ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1"),
        ("ONTOFLEET__FAULTS__DELAY_MS", "8000"),
    ];
    let _w = db.spawn_worker("lease", 2, &env);
    db.wait_workers(&["lease"], Duration::from_secs(30)).await;
    let mut start = db.command(&["run", "start", "--all"]);
    start.env("ONTOFLEET__LOCK__LEASE_SECS", "3");
    let out = start.output().await.unwrap();
    assert!(out.status.success());
    let run = run_id(&String::from_utf8_lossy(&out.stdout));
    // Well past the lease, with both projects still inside their transactions.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE status = 'running'")
            .await,
        2,
        "both projects still running"
    );
    let second = db.cli(&["run", "start", "--all"]).await;
    assert_eq!(
        second.status.code(),
        Some(4),
        "the lease of a run being worked on must not lapse: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE status = 'succeeded'")
            .await,
        2
    );
    assert_target(&db, &want).await;
    db.drop_db().await;
}

/// A pool that cannot serve the concurrency is refused at start: one line, exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_smaller_than_the_concurrency_is_refused() {
    let db = TestDb::new("pool_refused").await;
    let mut cmd = db.command(&["worker", "--concurrency", "12"]);
    cmd.env("ONTOFLEET__DATABASE__MAX_CONNECTIONS", "10");
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("the worker must refuse at once, not run")
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("max_connections") && err.contains("concurrency"),
        "says what to change: {err}"
    );
    db.drop_db().await;
}
