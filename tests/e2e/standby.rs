//! The governor against a real physical standby (SPEC §14): a private primary and a streaming
//! standby made with `pg_basebackup -R`, both started here on their own sockets. While a run
//! writes, the standby's replay is paused: the verdict becomes `throttled` within 2 s naming the
//! standby, the run's items in flight drop to the limit; after `pg_wal_replay_resume()` the run
//! goes back to full speed and completes with the exact target rows.

use std::time::{Duration, Instant};

use ontofleet_testkit::TestDb;
use ontofleet_testkit::cluster::{self, Cluster};
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;

use crate::chaos::measure;
use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, run_id};

async fn governor(db: &TestDb) -> Value {
    serde_json::from_str(&db.cli_ok(&["governor", "status", "--json"]).await).expect("JSON")
}

async fn running(db: &TestDb, run: uuid::Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM migration_run_items WHERE run_id = $1 AND status = 'running'",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_lag_on_a_real_standby_throttles_the_run() {
    if !cluster::available() {
        // CI has the server binaries (the PostgreSQL this suite runs against is installed
        // from Debian's packages); a developer machine without them cannot start a standby.
        assert!(
            std::env::var("CI").is_err(),
            "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are missing"
        );
        eprintln!("SKIPPED: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
        return;
    }
    let primary = Cluster::primary(&[]);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&primary.url("postgres"))
        .await
        .expect("primary");
    sqlx::query("CREATE DATABASE standbytest")
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let standby = primary.standby("replica1", &[]);
    let url = primary.url("standbytest");
    let db = TestDb {
        name: "standbytest".into(),
        pool: PgPoolOptions::new()
            .max_connections(3)
            .connect(&url)
            .await
            .unwrap(),
        url,
    };
    db.cli_ok(&[
        "seed",
        "--users",
        "12",
        "--projects-per-user",
        "10",
        "--tasks-per-project",
        "6",
        "--seed",
        "88",
    ])
    .await;
    db.cli_ok(&["db", "migrate"]).await;
    sqlx::query("UPDATE projects SET status = 'active' WHERE status = 'archived'")
        .execute(&db.pool)
        .await
        .unwrap();
    let want = expected(&db).await;
    // The standby streams: the primary sees it by its cluster name.
    let mut seen = false;
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'replica1'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if n == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the standby never connected");
    let env = [
        ("ONTOFLEET__GOVERNOR__INTERVAL_MS", "200"),
        ("ONTOFLEET__GOVERNOR__RECOVER_SECS", "1"),
        ("ONTOFLEET__GOVERNOR__THROTTLE_INFLIGHT", "1"),
        ("ONTOFLEET__GOVERNOR__REPLAY_LAG_BYTES", "262144"),
        ("ONTOFLEET__FAULTS__DELAY_MS", "150"),
    ];
    let _fleet = [
        db.spawn_worker("sa", 4, &env),
        db.spawn_worker("sb", 4, &env),
    ];
    db.wait_workers(&["sa", "sb"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(governor(&db).await["level"], "ok", "healthy standby");
    let replica = PgPoolOptions::new()
        .max_connections(1)
        .connect(&standby.url("standbytest"))
        .await
        .expect("standby");
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .unwrap();
    let paused = Instant::now();
    // The published verdict, read directly (a CLI call per poll would add its own start-up).
    loop {
        let level: String = sqlx::query_scalar(
            "SELECT CASE WHEN valid_until > now() THEN level ELSE 'ok' END FROM migration_governor",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if level == "throttled" {
            break;
        }
        assert!(
            paused.elapsed() < Duration::from_secs(5),
            "not throttled 5 s after replay paused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = paused.elapsed();
    let status = governor(&db).await;
    println!(
        "throttled {:.2} s after the standby's replay paused",
        took.as_secs_f64()
    );
    assert!(took <= Duration::from_secs(2), "throttled after {took:?}");
    let reason = &status["reasons"][0];
    assert_eq!(reason["signal"], "replay_lag_bytes");
    assert_eq!(reason["subject"], "replica1");
    assert!(
        reason["text"]
            .as_str()
            .unwrap()
            .ends_with("on standby replica1"),
        "{reason}"
    );
    // In-flight items finish; then at most the limit runs.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut peak = 0;
    for _ in 0..40 {
        peak = peak.max(running(&db, run).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(peak <= 1, "{peak} items in flight while throttled to 1");
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .unwrap();
    let resumed = Instant::now();
    while governor(&db).await["level"] != "ok" {
        assert!(
            resumed.elapsed() < Duration::from_secs(15),
            "still throttled after replay resumed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back to full speed: more than the throttle's one item at once.
    let mut peak = 0;
    let t0 = Instant::now();
    while peak < 2 && t0.elapsed() < Duration::from_secs(10) {
        peak = peak.max(running(&db, run).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(peak >= 2, "the run did not speed up again");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    assert_target(&db, &want).await;
    let row = measure(&db, run, "standby", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    let show: Value = serde_json::from_str(
        &db.cli_ok(&["run", "show", &run.to_string(), "--json"])
            .await,
    )
    .unwrap();
    assert!(
        show["control"]["throttled_secs_by_reason"]["replay_lag"]
            .as_f64()
            .is_some_and(|s| s > 0.5),
        "time throttled by replay lag: {}",
        show["control"]
    );
    replica.close().await;
    db.pool.close().await;
    drop(standby);
    drop(primary);
}
