//! The platform lock and run completion (SPEC §6.4): scoped runs refused while a platform run
//! holds the lock, `lock status` / `lock release [--force]` recording who released it, fencing
//! of a run that lost the lock, takeover of an expired lease, `run cancel`, and exactly one
//! completion when many workers finish the last items at the same moment.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::postgres::PgListener;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

fn small() -> Vec<&'static str> {
    vec![
        "--users",
        "4",
        "--projects-per-user",
        "3",
        "--tasks-per-project",
        "5",
        "--seed",
        "21",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_refusals_release_fencing_and_cancel() {
    let db = prepared("lock", &small()).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let status: Value =
        serde_json::from_str(&db.cli_ok(&["lock", "status", "--json"]).await).unwrap();
    assert_eq!(status["held"], true);
    assert_eq!(status["run_id"], run.to_string());
    assert_eq!(status["token"], 1);
    assert_eq!(status["run_status"], "running");

    // A scoped run is refused while the platform run holds the lock, unless --force.
    let user: String = sqlx::query_scalar("SELECT id::text FROM users ORDER BY id LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let refused = db.cli(&["run", "start", "--user", &user]).await;
    assert_eq!(refused.status.code(), Some(4));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(&run.to_string()), "names the holder: {err}");
    let forced = run_id(
        &db.cli_ok(&["run", "start", "--user", &user, "--force"])
            .await,
    );
    db.cli_ok(&["run", "cancel", &forced.to_string()]).await;

    // Release without --force refuses a live lease of an active run.
    let kept = db.cli(&["lock", "release"]).await;
    assert_eq!(kept.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&kept.stderr).contains("--force"));
    let released: Value =
        serde_json::from_str(&db.cli_ok(&["lock", "release", "--force", "--json"]).await).unwrap();
    assert_eq!(released["released"], true);
    assert_eq!(released["forced"], true);
    let (holder, by): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT run_id::text, released_by FROM migration_platform_lock")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(holder, None);
    assert!(
        by.is_some_and(|b| b.contains("(cli)")),
        "records who released it"
    );

    // The run lost the lock: its items cannot commit (fencing) and end cancelled; the run ends.
    let _w = db.spawn_worker("fenced", 2, &[]);
    let status = db.wait_run(run, RUN_TIMEOUT).await;
    assert_eq!(status, "completed_with_errors");
    assert_eq!(
        db.count("SELECT count(*) FROM onto_projects").await,
        0,
        "a fenced run writes nothing"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE status <> 'cancelled' AND run_id = (SELECT id FROM migration_runs WHERE scope = 'platform')")
            .await,
        0
    );
    // Nothing to release now; cancelling a finished run is a usage error.
    db.cli_ok(&["lock", "release"]).await;
    let again = db.cli(&["run", "cancel", &run.to_string()]).await;
    assert_eq!(again.status.code(), Some(2));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over_and_the_old_run_cancelled() {
    let db = prepared("takeover", &small()).await;
    let out = db.cli(&["run", "start", "--all"]).await;
    assert!(out.status.success());
    let old = run_id(&String::from_utf8_lossy(&out.stdout));
    // While the lease lives, a second platform run is refused.
    assert_eq!(
        db.cli(&["run", "start", "--all", "--resync"])
            .await
            .status
            .code(),
        Some(4)
    );
    // The lease runs out (simulated, not slept: the test must not depend on how fast a loaded
    // machine starts the processes in between).
    sqlx::query(
        "UPDATE migration_platform_lock SET expires_at = clock_timestamp() - interval '1 second'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let new = run_id(&db.cli_ok(&["run", "start", "--all", "--resync"]).await);
    let (old_status, token): (String, i64) = sqlx::query_as(
        "SELECT r.status, l.token FROM migration_runs r, migration_platform_lock l WHERE r.id = $1",
    )
    .bind(old)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(old_status, "cancelled");
    assert_eq!(token, 2, "the takeover increments the fencing token");
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs j JOIN migration_run_items i ON i.job_id = j.id WHERE i.run_id = (SELECT id FROM migration_runs ORDER BY created_at LIMIT 1) AND j.status <> 'Killed'")
            .await,
        0,
        "the old run's queued jobs are killed"
    );
    let want = expected(&db).await;
    let _w = db.spawn_worker("taker", 2, &[]);
    assert_eq!(db.wait_run(new, RUN_TIMEOUT).await, "completed");
    assert_target(&db, &want).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_workers_finishing_together_complete_the_run_once() {
    let db = prepared("complete_once", &small()).await;
    let want = expected(&db).await;
    let mut listener = PgListener::connect(&db.url).await.unwrap();
    listener.listen("ontofleet_run_completed").await.unwrap();
    // Every project transaction is held 1.5 s, so the items commit at about the same moment.
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "1500")];
    let names = ["c0", "c1", "c2"];
    let _fleet: Vec<_> = names.iter().map(|n| db.spawn_worker(n, 4, &slow)).collect();
    db.wait_workers(&names, Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let mut notifications = Vec::new();
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(2) {
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await {
            notifications.push(n.payload().to_owned());
        }
    }
    assert_eq!(
        notifications,
        vec![run.to_string()],
        "exactly one completion"
    );
    let (total, ok, summary): (i32, i32, Value) = sqlx::query_as(
        "SELECT total_items, succeeded_items, summary FROM migration_runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (i64::from(total), i64::from(ok)),
        (want.projects, want.projects)
    );
    assert_eq!(summary["items"]["succeeded"], want.projects);
    db.drop_db().await;
}
