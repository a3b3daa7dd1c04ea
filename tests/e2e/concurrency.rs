//! Two concurrent executions of the same project produce one result (SPEC §4.1).
//!
//! A project run and a user run both cover one legacy project; two worker processes execute
//! the two jobs at the same time (each transaction is held open after its writes, so the
//! executions overlap). The project's advisory lock serialises them: the first writes the
//! project, the second finds every entity `unchanged` in the ledger and writes nothing.
//! And one job delivered twice at once: the second execution finds the item terminal after the
//! lock and stops before writing.

use std::time::Duration;

use ontofleet_testkit::TestDb;
use uuid::Uuid;

use crate::{RUN_TIMEOUT, prepared, run_id};

/// How long each project transaction stays open after its writes.
const HOLD_MS: i64 = 1500;

async fn scalar(db: &TestDb, sql: &str, project: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(project)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_executions_of_one_project_write_it_once() {
    let db = prepared(
        "race",
        &[
            "--users",
            "4",
            "--projects-per-user",
            "1",
            "--tasks-per-project",
            "14",
            "--seed",
            "19",
        ],
    )
    .await;
    // The richest project whose owner has no other project: the user run is then one job too.
    let (project, user): (Uuid, Uuid) = sqlx::query_as(
        "SELECT p.id, p.user_id FROM projects p
          WHERE p.status <> 'archived'
            AND NOT EXISTS (SELECT 1 FROM projects o WHERE o.user_id = p.user_id AND o.id <> p.id)
          ORDER BY (SELECT count(*) FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id
                     WHERE t.project_id = p.id AND t.deleted_at IS NULL AND t.status <> 'done') > 0 DESC,
                   (SELECT count(*) FROM tasks t WHERE t.project_id = p.id) DESC, p.id
          LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a project owned alone");

    // Expected rows of one migration of the project, from the legacy tables.
    const TASKS: &str = "SELECT count(*) FROM tasks WHERE project_id = $1 AND deleted_at IS NULL AND status <> 'done'";
    let tasks = scalar(&db, TASKS, project).await;
    let plans = scalar(
        &db,
        "SELECT count(*) FROM phases WHERE project_id = $1 AND end_date >= start_date",
        project,
    )
    .await;
    let events = scalar(
        &db,
        "SELECT count(*) FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id
          WHERE t.project_id = $1 AND t.deleted_at IS NULL AND t.status <> 'done' AND e.event_start IS NOT NULL",
        project,
    )
    .await;
    let documents = scalar(
        &db,
        "SELECT count(*) FROM projects WHERE id = $1 AND btrim(coalesce(context, '')) <> ''",
        project,
    )
    .await;
    assert!(
        tasks >= 5 && plans >= 1 && events >= 1,
        "tasks {tasks} plans {plans} events {events}"
    );

    let hold = HOLD_MS.to_string();
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", hold.as_str())];
    let mut a = db.spawn_worker("racea", 1, &slow);
    let mut b = db.spawn_worker("raceb", 1, &slow);
    db.wait_workers(&["racea", "raceb"], Duration::from_secs(30))
        .await;
    let by_project = run_id(
        &db.cli_ok(&["run", "start", "--project", &project.to_string()])
            .await,
    );
    let by_user = run_id(
        &db.cli_ok(&["run", "start", "--user", &user.to_string()])
            .await,
    );
    for run in [by_project, by_user] {
        assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    }

    // Both executions ran on different workers, and the second one started before the first
    // one committed: they overlapped and the advisory lock serialised them. (An attempt's end is
    // its start plus its duration: `finished_at` is written inside the project transaction.)
    let rows: Vec<(Uuid, String, i64, i64, serde_json::Value)> = sqlx::query_as(
        "SELECT a.run_id, a.worker, s.ms, s.ms + a.duration_ms, i.counts
           FROM migration_attempts a
           JOIN migration_run_items i ON i.run_id = a.run_id AND i.project_id = a.project_id
          CROSS JOIN LATERAL (SELECT (extract(epoch FROM a.started_at) * 1000)::bigint AS ms) s
          WHERE a.project_id = $1 ORDER BY s.ms + a.duration_ms",
    )
    .bind(project)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "one attempt per run: {rows:?}");
    let (first, second) = (&rows[0], &rows[1]);
    assert_ne!(
        first.1.split('-').next(),
        second.1.split('-').next(),
        "two worker processes"
    );
    assert!(
        second.2 < first.3,
        "the second execution started ({}) before the first committed ({})",
        second.2,
        first.3
    );
    assert!(
        second.3 - first.3 >= HOLD_MS - 200,
        "the second execution waited for the first: finished {} ms after it",
        second.3 - first.3
    );
    println!(
        "executions overlapped by {} ms; the second finished {} ms after the first",
        first.3 - second.2,
        second.3 - first.3
    );

    // The first execution inserted everything, the second found everything unchanged.
    let entities = [
        ("project", 1),
        ("document", documents),
        ("plan", plans),
        ("task", tasks),
        ("event", events),
    ];
    for (entity, n) in entities {
        let actions = |c: &serde_json::Value| {
            ["inserted", "unchanged", "resynced", "recreated"]
                .map(|a| c[entity][a].as_i64().unwrap_or(-1))
        };
        assert_eq!(
            actions(&first.4),
            [n, 0, 0, 0],
            "first {entity}: {}",
            first.4
        );
        assert_eq!(
            actions(&second.4),
            [0, n, 0, 0],
            "second {entity}: {}",
            second.4
        );
    }
    let desired = first.4["edges"]["desired"].as_i64().unwrap();
    assert_eq!(first.4["edges"]["inserted"].as_i64(), Some(desired));
    assert_eq!(second.4["edges"]["desired"].as_i64(), Some(desired));
    assert_eq!(
        (
            second.4["edges"]["inserted"].as_i64(),
            second.4["edges"]["deleted"].as_i64()
        ),
        (Some(0), Some(0)),
        "second edges: {}",
        second.4
    );

    // One result in the database.
    let count = |sql: &'static str| db.count(sql);
    assert_eq!(count("SELECT count(*) FROM onto_projects").await, 1);
    assert_eq!(
        count("SELECT count(*) FROM onto_documents").await,
        documents
    );
    assert_eq!(count("SELECT count(*) FROM onto_plans").await, plans);
    assert_eq!(count("SELECT count(*) FROM onto_tasks").await, tasks);
    assert_eq!(count("SELECT count(*) FROM onto_events").await, events);
    assert_eq!(count("SELECT count(*) FROM onto_edges").await, desired);
    assert_eq!(count("SELECT count(*) FROM onto_actors").await, 1);
    let total = 1 + documents + plans + tasks + events;
    assert_eq!(
        count("SELECT count(*) FROM legacy_entity_mappings").await,
        total,
        "one mapping per entity"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT legacy_table, legacy_id FROM migration_log WHERE status = 'completed'
                                    GROUP BY 1, 2 HAVING count(*) = 1) once"
        )
        .await,
        total,
        "each entity logged completed exactly once"
    );
    assert_eq!(
        count("SELECT count(*) FROM migration_log").await,
        total,
        "no other log row"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(DISTINCT l.run_id) FROM migration_log l WHERE l.status = 'completed'
                AND EXISTS (SELECT 1 FROM migration_run_items i WHERE i.run_id = l.run_id AND i.project_id = $1)",
            project,
        )
        .await,
        1,
        "every row written by one run"
    );
    for worker in [&mut a, &mut b] {
        worker.kill().await.expect("stop worker");
    }
    db.drop_db().await;
}

/// A job delivered again while its first execution still runs (an orphan rescue of a worker that
/// was only slow, a queue row reset by hand): both executions start an attempt and the second
/// waits for the project lock; the first, no longer holding the queue row, rolls its
/// transaction back (a `lost` attempt) and the second writes the project — one succeeded
/// attempt, one log row per entity, nothing written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_delivered_twice_at_once_writes_its_project_once() {
    let db = prepared(
        "redeliver",
        &[
            "--users",
            "1",
            "--projects-per-user",
            "1",
            "--tasks-per-project",
            "8",
            "--seed",
            "23",
        ],
    )
    .await;
    let hold = "3000";
    let slow = [("ONTOFLEET__FAULTS__DELAY_MS", hold)];
    let mut a = db.spawn_worker("redeliva", 1, &slow);
    let mut b = db.spawn_worker("redelivb", 1, &slow);
    db.wait_workers(&["redeliva", "redelivb"], Duration::from_secs(30))
        .await;
    let project: Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE status <> 'archived'")
        .fetch_one(&db.pool)
        .await
        .expect("one live project");
    let run = run_id(
        &db.cli_ok(&["run", "start", "--project", &project.to_string()])
            .await,
    );

    // The first execution is inside its transaction (item `running`, one attempt begun).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let job: String = loop {
        let running: Option<String> = sqlx::query_scalar(
            "SELECT job_id FROM migration_run_items WHERE run_id = $1 AND status = 'running' AND attempts = 1",
        )
        .bind(run)
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if let Some(job) = running {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Deliver it again, waking the idle worker as an insert would (apalis notifies only on
    // INSERT; the worker's one-second poll is the fallback).
    let reset: Option<String> = sqlx::query_scalar(
        "WITH j AS (UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, run_at = now()
                     WHERE id = $1 RETURNING id, job_type)
         SELECT pg_notify('apalis::job::insert', json_build_object('job_type', job_type, 'id', id, 'run_at', now())::text)::text
           FROM j",
    )
    .bind(&job)
    .fetch_optional(&db.pool)
    .await
    .unwrap();
    assert!(reset.is_some(), "queue row {job} reset");
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    // The second execution began an attempt too (the item counts two), waited for the lock and
    // stopped: wait until its queue row is finished before reading what it left.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (attempts, queue): (i32, String) = sqlx::query_as(
            "SELECT i.attempts, j.status FROM migration_run_items i JOIN apalis.jobs j ON j.id = i.job_id
              WHERE i.run_id = $1",
        )
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if attempts == 2 && queue == "Done" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "second execution not seen: attempts {attempts}, queue {queue}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let count = |sql: &'static str| db.count(sql);
    assert_eq!(
        count("SELECT count(*) FROM migration_attempts WHERE outcome = 'succeeded'").await,
        1,
        "one execution wrote the project"
    );
    assert_eq!(
        count("SELECT count(*) FROM migration_attempts WHERE outcome = 'lost'").await,
        1,
        "the execution that lost its queue row wrote nothing and says so"
    );
    assert_eq!(
        count("SELECT count(*) FROM migration_run_items WHERE status = 'succeeded'").await,
        1
    );
    assert_eq!(count("SELECT count(*) FROM onto_projects").await, 1);
    let entities = count("SELECT count(*) FROM legacy_entity_mappings").await;
    assert!(entities >= 2, "project and tasks mapped: {entities}");
    assert_eq!(
        count("SELECT count(*) FROM migration_log").await,
        entities,
        "one log row per entity, none from the execution that lost its row"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_tasks").await
            + count("SELECT count(*) FROM onto_projects").await
            + count("SELECT count(*) FROM onto_plans").await
            + count("SELECT count(*) FROM onto_events").await
            + count("SELECT count(*) FROM onto_documents").await,
        entities,
        "one onto row per mapping"
    );
    assert_eq!(
        count("SELECT count(*) FROM migration_runs WHERE succeeded_items = 1 AND total_items = 1")
            .await,
        1,
        "counted once"
    );
    for worker in [&mut a, &mut b] {
        worker.kill().await.expect("stop worker");
    }
    db.drop_db().await;
}
