//! Run controls and the governor (SPEC §14), with real worker processes: a pause starts nothing
//! until the resume and loses nothing; fleet-wide limits hold across many workers; the error
//! budget pauses a run; a signal that cannot be read throttles; a business-hours window lowers
//! the cap; another process takes the governor over when its leader dies; a paused platform
//! run keeps the lock past its lease; the KEDA trigger counts what may run.

use std::time::{Duration, Instant};

use ontofleet_testkit::{TestDb, signal};
use serde_json::Value;
use uuid::Uuid;

use crate::chaos::measure;
use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

fn seed(projects_per_user: &str, users: &str) -> Vec<String> {
    [
        "--users",
        users,
        "--projects-per-user",
        projects_per_user,
        "--tasks-per-project",
        "4",
        "--seed",
        "141",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

async fn prepared_active(prefix: &str, users: &str, per_user: &str) -> TestDb {
    let args = seed(per_user, users);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let db = prepared(prefix, &refs).await;
    sqlx::query("UPDATE projects SET status = 'active' WHERE status = 'archived'")
        .execute(&db.pool)
        .await
        .unwrap();
    db
}

async fn json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&db.cli_ok(&all).await).expect("JSON")
}

async fn scalar_i64(db: &TestDb, sql: &str, run: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn running(db: &TestDb, run: Uuid) -> i64 {
    scalar_i64(
        db,
        "SELECT count(*) FROM migration_run_items WHERE run_id = $1 AND status = 'running'",
        run,
    )
    .await
}

async fn done(db: &TestDb, run: Uuid) -> i64 {
    scalar_i64(
        db,
        "SELECT count(*) FROM migration_run_items WHERE run_id = $1 \
          AND status IN ('succeeded', 'partial', 'failed', 'skipped', 'cancelled')",
        run,
    )
    .await
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let t0 = Instant::now();
    while !check().await {
        assert!(t0.elapsed() < timeout, "{what} (after {timeout:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The KEDA trigger's value now (the rendered query of deploy/).
async fn trigger(db: &TestDb) -> f64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(crate::deploy::trigger_query()))
        .fetch_one(&db.pool)
        .await
        .expect("trigger query")
}

/// Pause mid-run with three worker processes: no attempt starts between pause and resume, the
/// trigger counts nothing meanwhile, and the resume completes exactly what was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_starts_nothing_and_resumes_with_what_is_left() {
    let db = prepared_active("pause", "6", "5").await;
    let want = expected(&db).await;
    let env = [("ONTOFLEET__FAULTS__DELAY_MS", "300")];
    let _fleet: Vec<_> = (0..3)
        .map(|i| db.spawn_worker(&format!("p{i}"), 2, &env))
        .collect();
    db.wait_workers(&["p0", "p1", "p2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    wait_for("progress before the pause", RUN_TIMEOUT, async || {
        done(&db, run).await >= 5
    })
    .await;
    let paused = json(
        &db,
        &[
            "run",
            "pause",
            &run.to_string(),
            "--reason",
            "deploy window",
        ],
    )
    .await;
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["previous_status"], "running");
    // In-flight items finish; then nothing moves.
    wait_for("in-flight items finish", RUN_TIMEOUT, async || {
        running(&db, run).await == 0
    })
    .await;
    let frozen = done(&db, run).await;
    assert!(frozen < 30, "the pause came before the end ({frozen} done)");
    assert_eq!(trigger(&db).await, 0.0, "a paused run asks for no pod");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        done(&db, run).await,
        frozen,
        "nothing finished while paused"
    );
    let show = json(&db, &["run", "show", &run.to_string()]).await;
    assert_eq!(show["status"], "paused");
    assert_eq!(show["control"]["pause_reason"], "deploy window");
    assert!(
        show["control"]["state"]
            .as_str()
            .unwrap()
            .starts_with("paused by "),
        "{}",
        show["control"]
    );
    let again = db.cli(&["run", "pause", &run.to_string()]).await;
    assert_eq!(again.status.code(), Some(2), "already paused: a conflict");
    let resumed = json(&db, &["run", "resume", &run.to_string()]).await;
    assert_eq!(resumed["status"], "running");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    // No attempt started while the run was paused (the database's clock on both sides).
    let (started_while_paused, paused_secs): (i64, f64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM migration_attempts a WHERE a.run_id = p.run_id \
                  AND a.started_at >= p.started_at AND a.started_at < p.ended_at), \
                extract(epoch FROM p.ended_at - p.started_at)::float8 \
           FROM migration_run_pauses p WHERE p.run_id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(started_while_paused, 0);
    assert!(paused_secs >= 3.0, "paused for {paused_secs} s");
    assert_target(&db, &want).await;
    let row = measure(&db, run, "pause", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    let audit = db
        .count("SELECT count(*) FROM admin_audit WHERE action IN ('run.pause', 'run.resume')")
        .await;
    assert_eq!(audit, 2, "each control is audited");
    let show = json(&db, &["run", "show", &run.to_string()]).await;
    assert!(show["control"]["paused_secs"].as_f64().unwrap() >= 3.0);
    db.drop_db().await;
}

/// `--max-inflight 3` with four workers of concurrency 8: the fleet never runs more than 3 of
/// the run's items at once, and the trigger asks for no more; `--max-rate 20`: at most 200
/// projects start in any 10 s window (+ slack: one second's bucket, 20, since the window is
/// counted in whole seconds) and about 20 in each second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_wide_limits_hold_across_workers() {
    let db = prepared_active("limits", "20", "16").await;
    let total: i64 = db
        .count("SELECT count(*) FROM projects WHERE status <> 'archived'")
        .await;
    assert!(total >= 300, "{total} projects");
    // The limit is in place before any worker claims.
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let limited = json(
        &db,
        &["run", "limit", &run.to_string(), "--max-inflight", "3"],
    )
    .await;
    assert_eq!(limited["max_inflight"], 3);
    assert_eq!(
        trigger(&db).await,
        3.0,
        "the trigger counts the in-flight limit"
    );
    let env = [("ONTOFLEET__FAULTS__DELAY_MS", "40")];
    let fleet: Vec<_> = (0..4)
        .map(|i| db.spawn_worker(&format!("l{i}"), 8, &env))
        .collect();
    let mut peak = 0;
    let t0 = Instant::now();
    while done(&db, run).await < 60 {
        peak = peak.max(running(&db, run).await);
        assert!(t0.elapsed() < RUN_TIMEOUT, "no progress under the limit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(peak <= 3, "{peak} items ran at once under --max-inflight 3");
    assert!(peak >= 2, "the limit, not starvation: peak {peak}");
    // Now the rate: 20 projects per second.
    json(&db, &["run", "limit", &run.to_string(), "--max-rate", "20"]).await;
    let rate_from: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let starts: Vec<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM started_at)::float8 FROM migration_attempts \
          WHERE run_id = $1 AND started_at > $2 + interval '1 second' ORDER BY 1",
    )
    .bind(run)
    .bind(rate_from)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let items = scalar_i64(
        &db,
        "SELECT total_items::bigint FROM migration_runs WHERE id = $1",
        run,
    )
    .await;
    println!(
        "rate: {} starts after the first second under --max-rate 20 ({items} items)",
        starts.len()
    );
    assert!(starts.len() > 200, "{} starts under the rate", starts.len());
    let worst = starts
        .iter()
        .map(|t| {
            starts
                .iter()
                .filter(|s| **s >= *t && **s < t + 10.0)
                .count()
        })
        .max()
        .unwrap_or(0);
    println!("rate: at most {worst} starts in a 10 s window");
    assert!(
        worst <= 220,
        "{worst} projects started in a 10 s window under --max-rate 20"
    );
    // At most 20 in any second, too: no burst spends a window's allowance at once.
    let span = starts.last().unwrap() - starts.first().unwrap();
    assert!(
        span >= starts.len() as f64 / 20.0 - 2.0,
        "{} starts in {span:.1} s",
        starts.len()
    );
    drop(fleet);
    db.drop_db().await;
}

/// An error budget of 50 % over the last 5 items: injected `data` faults fail every item, and
/// the run pauses itself naming the categories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_budget_pauses_a_failing_run() {
    let db = prepared_active("budget", "6", "5").await;
    let env = [
        ("ONTOFLEET__FAULTS__FAIL_PROJECT", "*"),
        ("ONTOFLEET__FAULTS__FAIL_KIND", "data"),
        ("ONTOFLEET__FAULTS__FAIL_ATTEMPTS", "2"),
    ];
    let _w = db.spawn_worker("budget", 1, &env);
    db.wait_workers(&["budget"], Duration::from_secs(30)).await;
    let run = run_id(
        &db.cli_ok(&[
            "run",
            "start",
            "--all",
            "--max-failure-rate",
            "50",
            "--failure-window",
            "5",
        ])
        .await,
    );
    wait_for("the budget pauses the run", RUN_TIMEOUT, async || {
        json(&db, &["run", "show", &run.to_string()]).await["status"] == "paused"
    })
    .await;
    let show = json(&db, &["run", "show", &run.to_string()]).await;
    let c = &show["control"];
    assert_eq!(c["pause_kind"], "error_budget");
    let reason = c["pause_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("error budget: 100 % of the last 5 items failed (data: 5"),
        "{reason}"
    );
    // Nothing more fails: the budget stopped the run at its fifth failure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        scalar_i64(
            &db,
            "SELECT count(*) FROM migration_run_items WHERE run_id = $1 AND status = 'failed'",
            run
        )
        .await,
        5
    );
    db.drop_db().await;
}

/// The governor fails closed: a configured signal that cannot be read (a throttle query that
/// errs) throttles, naming it; the run's items in flight drop to `throttle_inflight`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_signal_throttles() {
    let db = prepared_active("unreadable", "6", "5").await;
    let env = [
        ("ONTOFLEET__GOVERNOR__INTERVAL_MS", "200"),
        ("ONTOFLEET__GOVERNOR__THROTTLE_QUERY", "SELECT 1 / 0"),
        ("ONTOFLEET__FAULTS__DELAY_MS", "200"),
    ];
    let _w = db.spawn_worker("unread", 4, &env);
    db.wait_workers(&["unread"], Duration::from_secs(30)).await;
    wait_for(
        "the governor throttles",
        Duration::from_secs(10),
        async || json(&db, &["governor", "status"]).await["level"] == "throttled",
    )
    .await;
    let st = json(&db, &["governor", "status"]).await;
    assert_eq!(st["reasons"][0]["signal"], "unreadable");
    assert!(
        st["reasons"][0]["text"]
            .as_str()
            .unwrap()
            .contains("division by zero"),
        "{st}"
    );
    assert_eq!(st["cap"], 1);
    assert!(st["leader"].as_str().unwrap().starts_with("unread-"));
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let mut peak = 0;
    while done(&db, run).await < 10 {
        peak = peak.max(running(&db, run).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(peak <= 1, "{peak} in flight while throttled to 1");
    let show = json(&db, &["run", "show", &run.to_string()]).await;
    assert_eq!(show["control"]["governor_level"], "throttled");
    assert!(
        show["control"]["state"]
            .as_str()
            .unwrap()
            .starts_with("throttled: throttle_query cannot be read"),
        "{}",
        show["control"]
    );
    db.drop_db().await;
}

/// A business-hours window in force (every day, all day, UTC): the verdict is `throttled` with
/// the schedule as its reason and the window's cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_hours_window_lowers_the_cap() {
    let db = prepared_active("window", "2", "2").await;
    let config = std::env::temp_dir().join(format!("{}-governor.toml", db.name));
    std::fs::write(
        &config,
        "[governor]\ninterval_ms = 200\n\n[[governor.window]]\ndays = [\"mon-sun\"]\nfrom = \"00:00\"\n\
         to = \"24:00\"\ntimezone = \"UTC\"\nmax_inflight = 2\n",
    )
    .unwrap();
    let _w = db.spawn_worker_with("window", 2, &[], Some(&config));
    wait_for(
        "the window throttles",
        Duration::from_secs(15),
        async || json(&db, &["governor", "status"]).await["level"] == "throttled",
    )
    .await;
    let st = json(&db, &["governor", "status"]).await;
    assert_eq!(st["reasons"][0]["signal"], "schedule");
    assert_eq!(st["cap"], 2);
    let _ = std::fs::remove_file(&config);
    db.drop_db().await;
}

/// Governor failover: the leader is SIGKILLed; another process takes the role over within a
/// few seconds and goes on publishing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_takes_the_governor_over() {
    let db = prepared_active("failover", "1", "1").await;
    let env = [("ONTOFLEET__GOVERNOR__INTERVAL_MS", "200")];
    let mut a = db.spawn_worker("gova", 1, &env);
    db.wait_workers(&["gova"], Duration::from_secs(30)).await;
    wait_for("a leader", Duration::from_secs(10), async || {
        json(&db, &["governor", "status"]).await["leader"]
            .as_str()
            .is_some_and(|l| l.starts_with("gova-"))
    })
    .await;
    let _b = db.spawn_worker("govb", 1, &env);
    db.wait_workers(&["govb"], Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        json(&db, &["governor", "status"]).await["leader"]
            .as_str()
            .unwrap()
            .starts_with("gova-"),
        "one leader: the first keeps it"
    );
    signal(&a, "KILL");
    a.wait().await.unwrap();
    let killed = Instant::now();
    wait_for(
        "the other takes over",
        Duration::from_secs(10),
        async || {
            json(&db, &["governor", "status"]).await["leader"]
                .as_str()
                .is_some_and(|l| l.starts_with("govb-"))
        },
    )
    .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(5), "took over after {took:?}");
    let first = json(&db, &["governor", "status"]).await["sampled_at"].clone();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_ne!(
        json(&db, &["governor", "status"]).await["sampled_at"],
        first,
        "the new leader publishes"
    );
    db.drop_db().await;
}

/// A paused platform run keeps the platform lock past its lease (a live worker renews it), so
/// no other platform run can take it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_platform_run_keeps_the_lock() {
    let db = prepared_active("pausedlock", "2", "3").await;
    let lease = [
        ("ONTOFLEET__LOCK__LEASE_SECS", "3"),
        ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1"),
        ("ONTOFLEET__FAULTS__DELAY_MS", "500"),
    ];
    let _w = db.spawn_worker("keeper", 1, &lease);
    db.wait_workers(&["keeper"], Duration::from_secs(30)).await;
    let mut start = db.command(&["run", "start", "--all"]);
    start.env("ONTOFLEET__LOCK__LEASE_SECS", "3");
    let out = start.output().await.unwrap();
    assert!(out.status.success());
    let run = run_id(&String::from_utf8_lossy(&out.stdout));
    db.cli_ok(&["run", "pause", &run.to_string()]).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let lock = json(&db, &["lock", "status"]).await;
    assert_eq!(lock["run_id"], run.to_string());
    assert_eq!(
        lock["held"], true,
        "the lease is renewed while paused: {lock}"
    );
    let second = db.cli(&["run", "start", "--all"]).await;
    assert_eq!(second.status.code(), Some(4));
    db.cli_ok(&["run", "resume", &run.to_string()]).await;
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    db.drop_db().await;
}
