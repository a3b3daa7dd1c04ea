//! Chaos suite (issue #4): real worker processes and a real PostgreSQL under SIGKILL loops,
//! `pg_terminate_backend` loops, a PostgreSQL crash-restart (private cluster), injected faults of
//! every category, and two platform runs started at the same moment. Each scenario asserts that
//! the run ends, nothing is lost or duplicated, every failed or skipped item says why, and
//! persisted backoff delays were respected; the suite prints one table row per scenario.
//!
//! `make test` runs the short form; `make chaos` sets `CHAOS_FULL=1` for more data and more
//! disruptions.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use ontofleet_testkit::cluster::Cluster;
use ontofleet_testkit::{TestDb, signal};
use sqlx::postgres::PgPoolOptions;
use tokio::process::Child;
use uuid::Uuid;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

/// Recoverable backoff used by the chaos workers (short, so retries happen within the test).
const BASE_SECS: f64 = 0.3;
const FACTOR: f64 = 2.0;
const CAP_SECS: f64 = 2.0;
const JITTER: f64 = 0.2;

fn full() -> bool {
    std::env::var("CHAOS_FULL").is_ok_and(|v| v == "1")
}

/// Worker settings shared by the scenarios: fast orphan recovery, short backoff.
fn chaos_env() -> Vec<(&'static str, String)> {
    vec![
        ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1".into()),
        ("ONTOFLEET__WORKER__MISSED_HEARTBEATS", "3".into()),
        ("ONTOFLEET__WORKER__POLL_INTERVAL_SECS", "1".into()),
        (
            "ONTOFLEET__RETRY__RECOVERABLE__BASE_SECS",
            BASE_SECS.to_string(),
        ),
        ("ONTOFLEET__RETRY__RECOVERABLE__FACTOR", FACTOR.to_string()),
        (
            "ONTOFLEET__RETRY__RECOVERABLE__CAP_SECS",
            CAP_SECS.to_string(),
        ),
        ("ONTOFLEET__RETRY__RECOVERABLE__JITTER", JITTER.to_string()),
    ]
}

fn spawn(db: &TestDb, name: &str, extra: &[(&str, &str)]) -> Child {
    let mut env: Vec<(&str, &str)> = Vec::new();
    let base = chaos_env();
    for (k, v) in &base {
        env.push((k, v.as_str()));
    }
    env.extend_from_slice(extra);
    db.spawn_worker(name, 2, &env)
}

fn seed_args() -> Vec<&'static str> {
    if full() {
        vec![
            "--users",
            "20",
            "--projects-per-user",
            "5",
            "--tasks-per-project",
            "10",
            "--seed",
            "77",
        ]
    } else {
        vec![
            "--users",
            "6",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "6",
            "--seed",
            "77",
        ]
    }
}

/// One line of the table.
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) jobs: i64,
    pub(crate) lost: i64,
    pub(crate) duplicated: i64,
    pub(crate) attempts: i64,
    pub(crate) recover_secs: f64,
}

/// What every scenario must satisfy, measured on the database after the run ended.
pub(crate) async fn measure(db: &TestDb, run: Uuid, scenario: &str, recover_secs: f64) -> Row {
    let one = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let jobs = one("SELECT count(*) FROM migration_run_items WHERE run_id = $1").await;
    // Lost: an item that never ended, or one reported done whose project has no mapping.
    let lost = one(
        "SELECT count(*) FROM migration_run_items i WHERE i.run_id = $1 AND (i.status NOT IN \
           ('succeeded', 'partial', 'failed', 'skipped', 'cancelled') OR (i.status IN ('succeeded', 'partial') \
           AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects' \
                            AND m.legacy_id = i.project_id)))",
    )
    .await;
    // Duplicated: an onto row no mapping points at (a second write of an entity), more than one
    // `migrate` log row per legacy entity, an edge key twice.
    let duplicated: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM onto_projects o WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.onto_id = o.id)) \
              + (SELECT count(*) FROM onto_plans o WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.onto_id = o.id)) \
              + (SELECT count(*) FROM onto_tasks o WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.onto_id = o.id)) \
              + (SELECT count(*) FROM onto_events o WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.onto_id = o.id)) \
              + (SELECT count(*) FROM onto_documents o WHERE NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.onto_id = o.id)) \
              + (SELECT count(*) - count(DISTINCT (legacy_table, legacy_id)) FROM migration_log \
                  WHERE operation = 'migrate' AND status = 'completed') \
              + (SELECT count(*) - count(DISTINCT (src_kind, src_id, rel, dst_kind, dst_id)) FROM onto_edges)",
    )
    .fetch_one(&db.pool)
    .await
    .expect("duplicates");
    // Executions started (the item's counter): a killed execution leaves no attempt row, as
    // its transaction died with it, but it was counted when it began.
    let attempts =
        one("SELECT coalesce(sum(attempts), 0)::bigint FROM migration_run_items WHERE run_id = $1")
            .await;
    let unexplained = one(
        "SELECT count(*) FROM migration_run_items WHERE run_id = $1 AND status IN ('failed', 'skipped') \
            AND (error_category IS NULL OR coalesce(last_error, '') = '')",
    )
    .await;
    assert_eq!(
        unexplained, 0,
        "{scenario}: failed/skipped items without a category and a message"
    );
    let early = early_retries(db, run).await;
    assert!(
        early.is_empty(),
        "{scenario}: retries ran before their backoff delay: {early:?}"
    );
    Row {
        scenario: scenario.to_owned(),
        jobs,
        lost,
        duplicated,
        attempts,
        recover_secs,
    }
}

/// Attempts that started before the backoff of the recoverable failure preceding them had
/// passed (minus the jitter and 50 ms of clock granularity).
async fn early_retries(db: &TestDb, run: Uuid) -> Vec<(Uuid, i32, f64, f64)> {
    let pairs: Vec<(Uuid, i32, f64)> = sqlx::query_as(
        "SELECT a.project_id, a.attempt, extract(epoch FROM b.started_at - a.finished_at)::float8 \
           FROM migration_attempts a JOIN migration_attempts b \
             ON b.run_id = a.run_id AND b.project_id = a.project_id AND b.attempt = a.attempt + 1 \
          WHERE a.run_id = $1 AND a.outcome = 'retry' AND a.error_category = 'recoverable'",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .expect("attempt pairs");
    pairs
        .into_iter()
        .filter_map(|(p, attempt, gap)| {
            let delay = (BASE_SECS * FACTOR.powi(attempt - 1)).min(CAP_SECS) * (1.0 - JITTER);
            (gap < delay - 0.05).then_some((p, attempt, gap, delay))
        })
        .collect()
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>5} {:>5} {:>10} {:>8} {:>11}",
        "scenario", "jobs", "lost", "duplicated", "attempts", "recover (s)"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<26} {:>5} {:>5} {:>10} {:>8} {:>11.1}",
            r.scenario, r.jobs, r.lost, r.duplicated, r.attempts, r.recover_secs
        );
    }
    out
}

async fn wait_progress(db: &TestDb, run: Uuid, done: i64) {
    let started = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM migration_run_items WHERE run_id = $1 AND status IN ('succeeded', 'partial')",
        )
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .expect("progress");
        if n >= done {
            return;
        }
        assert!(started.elapsed() < RUN_TIMEOUT, "no progress on run {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGKILL a worker again and again mid-run, starting a replacement each time.
async fn sigkill_loop() -> Row {
    let db = prepared("chaos_kill", &seed_args()).await;
    let want = expected(&db).await;
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "150")];
    let mut fleet: Vec<Child> = (0..3)
        .map(|i| spawn(&db, &format!("k{i}"), &slow))
        .collect();
    db.wait_workers(&["k0", "k1", "k2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let kills = if full() { 10 } else { 3 };
    let mut last_kill = Instant::now();
    for k in 0..kills {
        wait_progress(&db, run, (k as i64 + 1) * 2).await;
        let victim = k % fleet.len();
        signal(&fleet[victim], "KILL");
        fleet[victim].wait().await.expect("reap killed worker");
        last_kill = Instant::now();
        fleet[victim] = spawn(&db, &format!("k{victim}r{k}"), &slow);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let recover = last_kill.elapsed().as_secs_f64();
    assert_target(&db, &want).await;
    let row = measure(&db, run, "sigkill workers", recover).await;
    assert!(
        row.attempts > row.jobs,
        "the kills interrupted no execution"
    );
    drop(fleet);
    db.drop_db().await;
    row
}

/// Terminate the workers' database sessions in a loop.
async fn terminate_loop() -> Row {
    let db = prepared("chaos_term", &seed_args()).await;
    let want = expected(&db).await;
    let slow = [
        ("ONTOFLEET__FAULTS__DELAY_MS", "100"),
        ("ONTOFLEET__DATABASE__APPLICATION_NAME", "ontofleet-chaos"),
    ];
    let fleet: Vec<Child> = (0..2)
        .map(|i| spawn(&db, &format!("t{i}"), &slow))
        .collect();
    db.wait_workers(&["t0", "t1"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let rounds = if full() { 20 } else { 6 };
    let mut terminated = 0_i64;
    let mut last = Instant::now();
    for _ in 0..rounds {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
              WHERE datname = current_database() AND application_name = 'ontofleet-chaos' \
                AND pid <> pg_backend_pid()) t",
        )
        .fetch_one(&db.pool)
        .await
        .expect("terminate");
        terminated += n;
        last = Instant::now();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(terminated > 0, "no worker session was terminated");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let recover = last.elapsed().as_secs_f64();
    assert_target(&db, &want).await;
    let row = measure(&db, run, "pg_terminate_backend", recover).await;
    assert!(
        row.attempts > row.jobs,
        "the terminations interrupted no execution"
    );
    drop(fleet);
    db.drop_db().await;
    row
}

/// The private cluster of the crash scenario. Nothing but the WAL writer may write WAL out, so
/// that a stopped WAL writer holds every asynchronous commit in shared memory until the crash
/// (see `pg_restart`): no autovacuum, no background writer, a WAL writer that wakes rarely.
fn crash_cluster() -> Cluster {
    Cluster::primary(&[
        "autovacuum=off",
        "bgwriter_lru_maxpages=0",
        "wal_writer_delay=10s",
        "wal_buffers=16MB",
    ])
}

/// Crash (immediate shutdown: no checkpoint, recovery on start) and start again, under `db`,
/// whose pool is closed first and opened again after. A stopped WAL writer is SIGKILLed first,
/// so it cannot write out what it holds when it is continued.
async fn crash_restart(cluster: &Cluster, db: TestDb, stopped_wal_writer: u32) -> TestDb {
    db.pool.close().await;
    kill(stopped_wal_writer, "KILL");
    cluster.ctl(&["stop", "-m", "immediate", "-w"]);
    cluster.ctl(&["start", "-w"]);
    TestDb {
        pool: PgPoolOptions::new()
            .max_connections(3)
            .connect(&db.url)
            .await
            .expect("reconnect after the restart"),
        ..db
    }
}

fn kill(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(ok.success(), "kill -{sig} {pid}");
}

/// Freeze the server's WAL writer: from now on an asynchronous commit stays in the WAL buffers
/// (shared memory) and a crash loses it, while a synchronous commit still flushes the WAL itself
/// (and everything before it). Returns its pid, for [`crash_restart`].
async fn stop_wal_writer(pool: &sqlx::PgPool) -> u32 {
    let pid: i32 =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
            .fetch_one(pool)
            .await
            .expect("walwriter pid");
    let pid = u32::try_from(pid).expect("pid");
    kill(pid, "STOP");
    pid
}

async fn succeeded_items(pool: &sqlx::PgPool, run: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT project_id FROM migration_run_items WHERE run_id = $1 AND status = 'succeeded' ORDER BY 1",
    )
    .bind(run)
    .fetch_all(pool)
    .await
    .expect("succeeded items")
}

/// Crash-restart PostgreSQL itself mid-run.
async fn pg_restart() -> Row {
    let cluster = crash_cluster();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&cluster.url("postgres"))
        .await
        .expect("private cluster");
    sqlx::query("CREATE DATABASE chaos")
        .execute(&admin)
        .await
        .expect("create database");
    admin.close().await;
    let url = cluster.url("chaos");
    let db = TestDb {
        name: "chaos".into(),
        pool: PgPoolOptions::new()
            .max_connections(3)
            .connect(&url)
            .await
            .expect("connect"),
        url,
    };
    let mut seed = vec!["seed"];
    seed.extend(seed_args());
    db.cli_ok(&seed).await;
    db.cli_ok(&["db", "migrate"]).await;
    let want = expected(&db).await;
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "150")];
    let fleet: Vec<Child> = (0..2)
        .map(|i| spawn(&db, &format!("r{i}"), &slow))
        .collect();
    db.wait_workers(&["r0", "r1"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    wait_progress(&db, run, 3).await;
    // Workers commit asynchronously. With the WAL writer frozen, the project commits that
    // follow are acknowledged (and visible) but not on disk: the crash must take them, and
    // their jobs must run again, once each.
    let wal_writer = stop_wal_writer(&db.pool).await;
    let before = succeeded_items(&db.pool, run).await;
    wait_progress(&db, run, before.len() as i64 + 2).await;
    let acknowledged = succeeded_items(&db.pool, run).await;
    let db = crash_restart(&cluster, db, wal_writer).await;
    let restarted = Instant::now();
    // Read before any of them can be redone (their jobs are re-enqueued once the crashed
    // workers' heartbeats are 3 s silent).
    let survived = succeeded_items(&db.pool, run).await;
    let gone: Vec<Uuid> = acknowledged
        .iter()
        .filter(|p| !survived.contains(p))
        .copied()
        .collect();
    assert!(
        !gone.is_empty(),
        "the crash lost no acknowledged commit: the asynchronous window was not exercised \
         ({} acknowledged, all survived)",
        acknowledged.len()
    );
    // The completion is announced only once it is durable: freeze the WAL writer again, wait
    // for the NOTIFY, crash at once, and the run is still complete (and the lock released).
    let mut listener = sqlx::postgres::PgListener::connect(&db.url)
        .await
        .expect("listen");
    listener
        .listen("ontofleet_run_completed")
        .await
        .expect("listen");
    let wal_writer = stop_wal_writer(&db.pool).await;
    let done: bool =
        sqlx::query_scalar("SELECT status = 'completed' FROM migration_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .expect("run status");
    if !done {
        let note = tokio::time::timeout(RUN_TIMEOUT, listener.recv())
            .await
            .expect("no completion announced")
            .expect("notification");
        assert_eq!(note.payload(), run.to_string());
    }
    let recover = restarted.elapsed().as_secs_f64();
    drop(listener);
    let db = crash_restart(&cluster, db, wal_writer).await;
    let (status, holder): (String, Option<Uuid>) = sqlx::query_as(
        "SELECT r.status, l.run_id FROM migration_runs r, migration_platform_lock l WHERE r.id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .expect("run after the crash");
    assert_eq!(
        (status.as_str(), holder),
        ("completed", None),
        "an announced completion survives a crash"
    );
    assert_target(&db, &want).await;
    let row = measure(&db, run, "postgres crash-restart", recover).await;
    for p in &gone {
        let redone: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM migration_attempts WHERE run_id = $1 AND project_id = $2 AND outcome = 'succeeded'",
        )
        .bind(run)
        .bind(p)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            redone, 1,
            "project {p}: a lost commit is redone exactly once"
        );
    }
    println!(
        "postgres crash-restart: {} acknowledged commit(s) lost in the crash, each redone once",
        gone.len()
    );
    drop(fleet);
    db.pool.close().await;
    drop(cluster);
    row
}

/// An attempt row: number, outcome, category, message, fallback.
type AttemptTrail = (i32, String, Option<String>, Option<String>, bool);

/// One run whose every project fails its first `attempts` attempts as `kind`; returns the
/// row and checks the item outcome and attempt trail the policy prescribes.
async fn fault(kind: &str, attempts: &str) -> Row {
    let db = prepared(&format!("chaos_{kind}"), &seed_args()).await;
    let mut env = vec![
        ("ONTOFLEET__FAULTS__FAIL_PROJECT", "*"),
        ("ONTOFLEET__FAULTS__FAIL_KIND", kind),
        ("ONTOFLEET__FAULTS__FAIL_ATTEMPTS", attempts),
    ];
    if kind == "timeout" {
        env.push(("ONTOFLEET__JOB__TIMEOUT_SECS", "1"));
    }
    let fleet = [spawn(&db, "f0", &env), spawn(&db, "f1", &env)];
    db.wait_workers(&["f0", "f1"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let started = Instant::now();
    let status = db.wait_run(run, RUN_TIMEOUT).await;
    let n: i32 = attempts.parse().unwrap();
    // (run status, item status, attempts per item, category of the failures, fallback on the last)
    let (want_run, want_item, want_attempts, want_category, last_fallback) = match (kind, n) {
        ("recoverable" | "timeout", n) => ("completed", "succeeded", n + 1, "recoverable", false),
        ("data", 1) => ("completed", "succeeded", 2, "data", true),
        ("data", _) => ("completed_with_errors", "failed", 2, "data", true),
        ("fatal" | "panic", _) => ("completed_with_errors", "skipped", 1, "fatal", false),
        other => panic!("no expectation for {other:?}"),
    };
    assert_eq!(status, want_run, "{kind}×{n}: run status");
    let items: Vec<(String, i32, Option<String>)> = sqlx::query_as(
        "SELECT status, attempts, error_category FROM migration_run_items WHERE run_id = $1",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!items.is_empty());
    for (s, a, c) in &items {
        assert_eq!(
            (s.as_str(), *a),
            (want_item, want_attempts),
            "{kind}×{n}: item"
        );
        // A success clears the item's error; the attempts keep the history.
        let want_c = (want_item != "succeeded").then_some(want_category);
        assert_eq!(c.as_deref(), want_c, "{kind}×{n}: item category");
    }
    // The attempt trail: one row per execution, failures with the category and a message.
    let trail: Vec<AttemptTrail> = sqlx::query_as(
        "SELECT attempt, outcome, error_category, error_message, fallback FROM migration_attempts \
          WHERE run_id = $1 ORDER BY project_id, attempt",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        trail.len(),
        items.len() * want_attempts as usize,
        "{kind}×{n}: one attempt row per execution"
    );
    for (attempt, outcome, category, message, fallback) in &trail {
        let failed = *attempt <= n;
        if failed {
            assert_eq!(
                category.as_deref(),
                Some(want_category),
                "{kind}: attempt {attempt}"
            );
            assert!(message.as_deref().is_some_and(|m| !m.is_empty()));
            if kind == "panic" {
                assert!(message.as_deref().unwrap().contains("panic"));
            }
            if kind == "timeout" {
                assert!(message.as_deref().unwrap().contains("timed out"));
            }
        } else {
            assert_eq!(outcome, "succeeded", "{kind}: attempt {attempt}");
        }
        if *attempt == want_attempts {
            assert_eq!(
                *fallback, last_fallback,
                "{kind}: fallback on the last attempt"
            );
        }
    }
    if want_item == "succeeded" {
        assert_target(&db, &expected(&db).await).await;
    }
    let row = measure(
        &db,
        run,
        &format!("fault {kind}×{n}"),
        started.elapsed().as_secs_f64(),
    )
    .await;
    drop(fleet);
    db.drop_db().await;
    row
}

/// Two `run start --all` at the same moment: exactly one starts, the other exits 4 with one
/// line on stderr.
async fn double_start() -> Row {
    let db = prepared("chaos_double", &seed_args()).await;
    let rounds = if full() { 10 } else { 3 };
    let t0 = Instant::now();
    for _ in 0..rounds {
        let a = db.command(&["run", "start", "--all"]).output();
        let b = db.command(&["run", "start", "--all"]).output();
        let (a, b) = tokio::join!(a, b);
        let (a, b) = (a.unwrap(), b.unwrap());
        let codes = [a.status.code(), b.status.code()];
        let (winner, loser) = match codes {
            [Some(0), Some(4)] => (a, b),
            [Some(4), Some(0)] => (b, a),
            other => panic!(
                "expected one 0 and one 4, got {other:?}: {} | {}",
                String::from_utf8_lossy(&a.stderr),
                String::from_utf8_lossy(&b.stderr)
            ),
        };
        let err = String::from_utf8_lossy(&loser.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
        assert!(err.contains("lock"), "says why: {err:?}");
        let run = run_id(&String::from_utf8_lossy(&winner.stdout));
        db.cli_ok(&["run", "cancel", &run.to_string()]).await;
        assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "cancelled");
    }
    let runs = db.count("SELECT count(*) FROM migration_runs").await;
    assert_eq!(runs, rounds as i64, "a refused start leaves no run row");
    let jobs = db
        .count("SELECT count(*) FROM apalis.jobs WHERE status NOT IN ('Killed')")
        .await;
    assert_eq!(jobs, 0, "cancelled runs leave no live job");
    let row = Row {
        scenario: "two run start --all".into(),
        jobs: db.count("SELECT count(*) FROM migration_run_items").await,
        lost: 0,
        // Runs beyond one per round (asserted 0 above; kept for the table).
        duplicated: runs - rounds as i64,
        attempts: 0,
        recover_secs: t0.elapsed().as_secs_f64(),
    };
    db.drop_db().await;
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_suite() {
    let mut rows = vec![
        sigkill_loop().await,
        terminate_loop().await,
        pg_restart().await,
        double_start().await,
    ];
    for (kind, n) in [
        ("recoverable", "2"),
        ("data", "1"),
        ("data", "2"),
        ("fatal", "1"),
        ("panic", "1"),
        ("timeout", "1"),
    ] {
        rows.push(fault(kind, n).await);
    }
    let printed = table(&rows);
    println!(
        "\nchaos ({}):\n{printed}",
        if full() { "full" } else { "short" }
    );
    for r in &rows {
        assert_eq!(
            (r.lost, r.duplicated),
            (0, 0),
            "{}: lost/duplicated\n{printed}",
            r.scenario
        );
    }
}

/// SIGTERM: the worker stops fetching, finishes what it runs and exits 0 within 30 s, leaving
/// no job `Running`; another worker finishes the run exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigtermed_worker_drains_and_exits_zero_within_30s() {
    let db = prepared("chaos_term_signal", &seed_args()).await;
    let want = expected(&db).await;
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "1500")];
    let mut worker = spawn(&db, "drain", &slow);
    db.wait_workers(&["drain"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let started = Instant::now();
    while db
        .count("SELECT count(*) FROM apalis.jobs WHERE status = 'Running'")
        .await
        == 0
    {
        assert!(started.elapsed() < RUN_TIMEOUT, "no job started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&worker, "TERM");
    let termed = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .expect("worker still running 30 s after SIGTERM")
        .expect("wait");
    println!(
        "SIGTERMed worker exited with {status} after {:.1}s",
        termed.elapsed().as_secs_f64()
    );
    assert_eq!(status.code(), Some(0), "graceful exit code");
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status IN ('Running', 'Queued') AND lock_by LIKE 'drain-%'")
            .await,
        0,
        "a drained worker leaves no job running or reserved"
    );
    let _next = spawn(&db, "after", &[]);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    assert_target(&db, &want).await;
    let row = measure(&db, run, "sigterm", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    db.drop_db().await;
}
