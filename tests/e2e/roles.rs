//! Least privilege (SPEC §13, docs/roles.sql): `db migrate` as the migrator, a full migration
//! by workers connected as the worker role, which can do no DDL and write no legacy row, and the
//! autoscaler role, which can run the KEDA trigger query and nothing else.

use std::time::Duration;

use ontofleet_testkit::TestDb;
use sqlx::postgres::PgPoolOptions;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, run_id};

const ROLES_SQL: &str = include_str!("../../docs/roles.sql");

async fn apply_roles(db: &TestDb) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(ROLES_SQL))
        .execute(&db.pool)
        .await
        .expect("docs/roles.sql");
}

/// The SQLSTATE of a statement run as `role`, `None` when it succeeds.
async fn as_role(db: &TestDb, role: &str, sql: &'static str) -> Option<String> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url_as(role))
        .await
        .unwrap_or_else(|e| panic!("connect as {role}: {e}"));
    let out = sqlx::raw_sql(sql).execute(&pool).await;
    pool.close().await;
    out.err().map(|e| {
        e.as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
            .unwrap_or_else(|| e.to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_runs_under_least_privilege_roles() {
    let db = TestDb::new("roles").await;
    db.cli_ok(&[
        "seed",
        "--users",
        "4",
        "--projects-per-user",
        "3",
        "--tasks-per-project",
        "10",
        "--seed",
        "9",
    ])
    .await;
    apply_roles(&db).await;
    // The migrator installs both schemas; then the roles get their grants on the new tables.
    let out = db
        .command(&["db", "migrate"])
        .env("ONTOFLEET_DATABASE_URL", db.url_as("ontofleet_migrator"))
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "db migrate as the migrator: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    apply_roles(&db).await;
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'apalis.jobs'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(owner, "ontofleet_migrator");

    let want = expected(&db).await;
    let worker_url = db.url_as("ontofleet_worker");
    let env = [("ONTOFLEET_DATABASE_URL", worker_url.as_str())];
    let _w1 = db.spawn_worker("least1", 2, &env);
    let _w2 = db.spawn_worker("least2", 2, &env);
    db.wait_workers(&["least1", "least2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let (items, ok): (i32, i32) =
        sqlx::query_as("SELECT total_items, succeeded_items FROM migration_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(items, ok);
    assert_target(&db, &want).await;
    // The run's completion refreshed the stats through the owner's function.
    assert!(db.count("SELECT count(*) FROM user_migration_stats").await > 0);

    // The worker: no DDL, no write to a legacy row, no role or database to create.
    for sql in [
        "CREATE TABLE public.evil (id int)",
        "CREATE SCHEMA evil",
        "ALTER TABLE onto_tasks ADD COLUMN evil int",
        "DROP TABLE migration_log",
        "UPDATE tasks SET title = 'x'",
        "DELETE FROM projects",
        "TRUNCATE apalis.jobs",
    ] {
        assert_eq!(
            as_role(&db, "ontofleet_worker", sql).await.as_deref(),
            Some("42501"),
            "worker: {sql}"
        );
    }
    // The API: reads everything it shows, writes no ontology row.
    assert_eq!(
        as_role(&db, "ontofleet_api", "SELECT count(*) FROM onto_tasks").await,
        None
    );
    assert_eq!(
        as_role(
            &db,
            "ontofleet_api",
            "UPDATE migration_runs SET summary = summary WHERE false"
        )
        .await,
        None
    );
    for sql in [
        "DELETE FROM onto_tasks",
        "UPDATE onto_projects SET name = name",
        "UPDATE tasks SET title = title",
    ] {
        assert_eq!(
            as_role(&db, "ontofleet_api", sql).await.as_deref(),
            Some("42501"),
            "api: {sql}"
        );
    }
    // `serve` as the API role: reads, a mutation with its audit row, a token check.
    let secret = db
        .cli_ok(&["token", "create", "--name", "least", "--role", "operator"])
        .await;
    let api_url = db.url_as("ontofleet_api");
    let server =
        crate::api::Server::start(&db, &[("ONTOFLEET_DATABASE_URL", api_url.as_str())]).await;
    for (method, path) in [
        (reqwest::Method::GET, format!("/runs/{run}")),
        (reqwest::Method::GET, "/stats/users".to_owned()),
        (reqwest::Method::GET, "/audit".to_owned()),
        (reqwest::Method::POST, "/stats/refresh".to_owned()),
        (reqwest::Method::POST, format!("/runs/{run}/validate")),
    ] {
        let a = crate::api::call(
            &server,
            method.clone(),
            &path,
            Some(secret.trim()),
            None,
            &[],
        )
        .await;
        assert_eq!(
            a.status, 200,
            "{method} {path} as ontofleet_api: {}",
            a.text
        );
    }
    drop(server);
    assert_eq!(
        db.count(
            "SELECT count(*) FROM admin_audit WHERE action = 'stats.refresh' AND actor = 'least'"
        )
        .await,
        1
    );
    for sql in [
        "UPDATE admin_audit SET actor = actor",
        "DELETE FROM admin_audit",
        "TRUNCATE admin_audit",
    ] {
        assert_eq!(
            as_role(&db, "ontofleet_api", sql).await.as_deref(),
            Some("42501"),
            "api: {sql}"
        );
    }
    for sql in [
        "SELECT count(*) FROM admin_tokens",
        "SELECT count(*) FROM admin_audit",
    ] {
        assert_eq!(
            as_role(&db, "ontofleet_worker", sql).await.as_deref(),
            Some("42501"),
            "worker: {sql}"
        );
    }
    // The autoscaler: the trigger query, and nothing else.
    let trigger = crate::deploy::trigger_query();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url_as("ontofleet_autoscaler"))
        .await
        .unwrap();
    let value: f64 = sqlx::query_scalar(sqlx::AssertSqlSafe(trigger))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(value, 0.0, "nothing left after the run");
    pool.close().await;
    for sql in [
        "SELECT options FROM migration_runs",
        "SELECT count(*) FROM migration_run_items",
        "SELECT count(*) FROM apalis.jobs",
        "SELECT count(*) FROM tasks",
        "SELECT count(*) FROM onto_tasks",
        "UPDATE migration_runs SET status = status",
    ] {
        assert_eq!(
            as_role(&db, "ontofleet_autoscaler", sql).await.as_deref(),
            Some("42501"),
            "autoscaler: {sql}"
        );
    }
    db.drop_db().await;
}
