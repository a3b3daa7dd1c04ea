//! The queue layer's guarantees with real worker processes (issue #13): a job claimed ahead of
//! a free slot by a worker that dies is re-enqueued and runs exactly once; a project transaction
//! that rolls back — the queue row's completion with it — leaves the job to be retried.

use std::time::{Duration, Instant};

use ontofleet_testkit::{TestDb, signal};
use uuid::Uuid;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

fn seed() -> Vec<&'static str> {
    vec![
        "--users",
        "4",
        "--projects-per-user",
        "3",
        "--tasks-per-project",
        "5",
        "--seed",
        "23",
    ]
}

async fn wait_for(db: &TestDb, what: &str, sql: &'static str) {
    let started = Instant::now();
    while db.count(sql).await == 0 {
        assert!(started.elapsed() < RUN_TIMEOUT, "never saw: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_claimed_ahead_by_a_dead_worker_is_rescued_and_runs_once() {
    let db = prepared("claimed_ahead", &seed()).await;
    let want = expected(&db).await;
    // One slot, each project held 1.5 s: once the first job has run, the worker claims the next
    // one ahead of its slot (its prefetch covers two claim round trips at that pace).
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", "1500")];
    let mut victim = db.spawn_worker("ahead", 1, &slow);
    db.wait_workers(&["ahead"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    // Its one slot busy with a started job (item `running`) and another job claimed ahead
    // (item still `queued`): the latter cannot start before the former ends, 1.5 s later.
    wait_for(
        &db,
        "a job claimed ahead while the slot is busy",
        "SELECT count(*) FROM (SELECT 1 FROM apalis.jobs j JOIN migration_run_items i ON i.job_id = j.id \
          WHERE j.lock_by LIKE 'ahead-%' AND j.status = 'Running' \
         HAVING count(*) FILTER (WHERE i.status = 'running') = 1 \
            AND count(*) FILTER (WHERE i.status = 'queued') >= 1) s",
    )
    .await;
    let ahead: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT j.id, i.project_id FROM apalis.jobs j JOIN migration_run_items i ON i.job_id = j.id \
          WHERE j.lock_by LIKE 'ahead-%' AND j.status = 'Running' AND i.status = 'queued'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    signal(&victim, "KILL");
    victim.wait().await.unwrap();
    assert!(!ahead.is_empty());

    let _rescuer = db.spawn_worker("rescuer", 2, &[]);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    for (job, project) in &ahead {
        let (attempts, attempt_rows, status): (i32, i64, String) = sqlx::query_as(
            "SELECT i.attempts, (SELECT count(*) FROM migration_attempts a WHERE a.run_id = i.run_id AND a.project_id = i.project_id), \
                    (SELECT j.status FROM apalis.jobs j WHERE j.id = $2) \
               FROM migration_run_items i WHERE i.run_id = $1 AND i.project_id = $3",
        )
        .bind(run)
        .bind(job)
        .bind(project)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            (attempts, attempt_rows, status.as_str()),
            (1, 1, "Done"),
            "job {job} claimed ahead by the dead worker ran exactly once, by the rescuer"
        );
    }
    assert_target(&db, &want).await;
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log WHERE status = 'completed' AND entity_type = 'project'")
            .await,
        want.projects,
        "each project written once"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status <> 'Done'")
            .await,
        0
    );
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_transaction_that_rolls_back_leaves_its_job_retryable() {
    let db = prepared("rollback_retry", &seed()).await;
    let project: Uuid = sqlx::query_scalar(
        "SELECT id FROM projects WHERE status <> 'archived' ORDER BY id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // The first commit of an onto project fails at COMMIT (a deferred check, after every
    // statement of the transaction — the queue row's completion included — has run).
    sqlx::raw_sql(
        "CREATE SEQUENCE fail_once; \
         CREATE FUNCTION fail_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF nextval('fail_once') = 1 THEN \
             RAISE EXCEPTION 'injected commit failure' USING ERRCODE = 'serialization_failure'; END IF; \
           RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER fail_first_commit AFTER INSERT ON onto_projects \
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_first_commit();",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let _worker = db.spawn_worker("rollback", 1, &[]);
    db.wait_workers(&["rollback"], Duration::from_secs(30))
        .await;
    let run = run_id(
        &db.cli_ok(&["run", "start", "--project", &project.to_string()])
            .await,
    );
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let outcomes: Vec<(i32, String, Option<String>)> = sqlx::query_as(
        "SELECT attempt, outcome, error_category FROM migration_attempts WHERE run_id = $1 ORDER BY attempt",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        vec![
            (1, "retry".to_owned(), Some("recoverable".to_owned())),
            (2, "succeeded".to_owned(), None)
        ]
    );
    let (status, attempts): (String, i32) = sqlx::query_as(
        "SELECT j.status, j.attempts FROM apalis.jobs j JOIN migration_run_items i ON i.job_id = j.id WHERE i.run_id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("Done", 2),
        "claimed twice, done once"
    );
    assert_eq!(db.count("SELECT count(*) FROM onto_projects").await, 1);
    assert_eq!(
        db.count("SELECT count(*) FROM migration_log WHERE status = 'completed' AND entity_type = 'project'")
            .await,
        1
    );
    db.drop_db().await;
}
