//! Integration tests of `ontofleet-seed` against a real PostgreSQL.
//!
//! Every test creates its own database (`seedtest_<random>`) on the server named by
//! `ONTOFLEET_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops
//! it at the end.

use std::str::FromStr;

use ontofleet_seed::edge::{
    EDGE_SOURCE, EdgeCase, EdgeProject, HUGE_CONTEXT_BYTES, HUGE_DESCRIPTION_BYTES,
};
use ontofleet_seed::{
    LEGACY_DDL, LEGACY_DDL_LOCK_KEY, LEGACY_TABLES, SeedError, SeedOptions, SeedReport,
    create_schema, legacy_schema_exists, reset, seed,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A throwaway database, dropped (`WITH (FORCE)`) when the value goes out of scope, also when
/// a test panics.
struct TestDb {
    server: PgConnectOptions,
    name: String,
    pool: PgPool,
}

impl TestDb {
    async fn new() -> Self {
        let base =
            std::env::var("ONTOFLEET_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let server = PgConnectOptions::from_str(&base).expect("valid test database URL");
        let mut admin = PgConnection::connect_with(&server)
            .await
            .expect("connect to the test PostgreSQL server");
        let name = format!("seedtest_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(server.clone().database(&name))
            .await
            .expect("connect to the test database");
        Self { server, name, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                let mut admin = PgConnection::connect_with(&server).await?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
        });
        if let Ok(Err(err)) = cleanup.join() {
            eprintln!("could not drop test database {}: {err}", self.name);
        }
    }
}

fn opts(
    users: u32,
    projects_per_user: u32,
    tasks_per_project: u32,
    seed: u64,
    bad_rows: bool,
) -> SeedOptions {
    SeedOptions {
        users,
        projects_per_user,
        tasks_per_project,
        seed,
        bad_rows,
        giant_project_tasks: 0,
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn table_count(pool: &PgPool, table: &str) -> u64 {
    count(pool, &format!("SELECT count(*) FROM public.{table}")).await as u64
}

async fn counts(pool: &PgPool) -> SeedReport {
    SeedReport {
        users: table_count(pool, "users").await,
        projects: table_count(pool, "projects").await,
        phases: table_count(pool, "phases").await,
        phase_tasks: table_count(pool, "phase_tasks").await,
        tasks: table_count(pool, "tasks").await,
        project_calendars: table_count(pool, "project_calendars").await,
        events: table_count(pool, "task_calendar_events").await,
    }
}

/// md5 of every row of every legacy table, in id order.
async fn fingerprints(pool: &PgPool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for table in LEGACY_TABLES {
        let md5: String = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM public.{table} t"
        )))
        .fetch_one(pool)
        .await
        .expect("fingerprint");
        out.push((table.to_owned(), md5));
    }
    out
}

fn add(a: &SeedReport, b: &SeedReport) -> SeedReport {
    SeedReport {
        users: a.users + b.users,
        projects: a.projects + b.projects,
        phases: a.phases + b.phases,
        phase_tasks: a.phase_tasks + b.phase_tasks,
        tasks: a.tasks + b.tasks,
        project_calendars: a.project_calendars + b.project_calendars,
        events: a.events + b.events,
    }
}

#[tokio::test]
async fn ddl_is_idempotent_concurrency_safe_and_detected() {
    let db = TestDb::new().await;
    assert!(!legacy_schema_exists(&db.pool).await.unwrap());
    assert!(LEGACY_DDL.contains(&format!("pg_advisory_xact_lock({LEGACY_DDL_LOCK_KEY})")));

    // Two concurrent runs on a fresh database, then a third one.
    let (a, b) = tokio::join!(create_schema(&db.pool), create_schema(&db.pool));
    a.unwrap();
    b.unwrap();
    create_schema(&db.pool).await.unwrap();
    assert!(legacy_schema_exists(&db.pool).await.unwrap());

    // The pool is still usable and the quirks are there.
    let nullable = |table: &'static str, column: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
            )
            .bind(table)
            .bind(column)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(nullable("users", "name").await, "YES");
    assert_eq!(nullable("tasks", "project_id").await, "YES");
    assert_eq!(nullable("phases", "start_date").await, "NO");
    assert_eq!(nullable("phases", "end_date").await, "NO");
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
                         WHERE t.typname = 'priority_level' AND e.enumlabel = 'urgent'"
        )
        .await,
        1
    );
    let enum_types = count(
        &db.pool,
        "SELECT count(*) FROM pg_type WHERE typtype = 'e' AND typname IN ('project_status', \
         'task_status', 'priority_level', 'task_type', 'recurrence_pattern', \
         'recurrence_end_reason', 'sync_status', 'calendar_sync_status', 'calendar_visibility')",
    )
    .await;
    assert_eq!(enum_types, 9);
    let dependencies_type: String = sqlx::query_scalar(
        "SELECT data_type FROM information_schema.columns \
         WHERE table_name = 'tasks' AND column_name = 'dependencies'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(dependencies_type, "ARRAY");
    // No foreign key on tasks.parent_task_id nor on project_calendars.onto_project_id.
    let loose = count(
        &db.pool,
        "SELECT count(*) FROM information_schema.key_column_usage k \
         JOIN information_schema.table_constraints c ON c.constraint_name = k.constraint_name \
         WHERE c.constraint_type = 'FOREIGN KEY' AND ((k.table_name = 'tasks' AND k.column_name = 'parent_task_id') \
            OR (k.table_name = 'project_calendars' AND k.column_name = 'onto_project_id'))",
    )
    .await;
    assert_eq!(loose, 0);
}

#[tokio::test]
async fn seeding_is_deterministic_and_report_matches_counts() {
    let options = opts(4, 3, 15, 7, true);
    let (a, b) = tokio::join!(TestDb::new(), TestDb::new());
    let report_a = seed(&a.pool, &options).await.unwrap();
    let report_b = seed(&b.pool, &options).await.unwrap();
    assert_eq!(report_a, report_b);
    assert_eq!(counts(&a.pool).await, report_a);
    assert_eq!(counts(&b.pool).await, report_b);
    // Normal tasks are exactly users × projects × tasks_per_project.
    let normal_tasks = count(
        &a.pool,
        "SELECT count(*) FROM tasks WHERE coalesce(source, '') NOT LIKE 'seed:edge%'",
    )
    .await;
    assert_eq!(normal_tasks, 4 * 3 * 15);
    let (fa, fb) = (fingerprints(&a.pool).await, fingerprints(&b.pool).await);
    assert_eq!(fa, fb);
}

#[tokio::test]
async fn different_seeds_differ_and_same_seed_collides() {
    let (a, b) = tokio::join!(TestDb::new(), TestDb::new());
    let r1 = seed(&a.pool, &opts(3, 2, 10, 1, false)).await.unwrap();
    let r2 = seed(&b.pool, &opts(3, 2, 10, 2, false)).await.unwrap();
    let (f1, f2) = (fingerprints(&a.pool).await, fingerprints(&b.pool).await);
    for ((table, x), (_, y)) in f1.iter().zip(&f2) {
        assert_ne!(x, y, "table {table} is identical for seeds 1 and 2");
    }

    // A different seed adds new, distinct rows to the same database.
    let r2_again = seed(&a.pool, &opts(3, 2, 10, 2, false)).await.unwrap();
    assert_eq!(r2_again, r2);
    let both = add(&r1, &r2);
    assert_eq!(counts(&a.pool).await, both);

    // The same seed again collides, and nothing is written.
    let err = seed(&a.pool, &opts(3, 2, 10, 1, false)).await.unwrap_err();
    assert!(
        matches!(
            err,
            SeedError::AlreadySeeded {
                seed: 1,
                table: "users"
            }
        ),
        "unexpected error: {err}"
    );
    assert_eq!(counts(&a.pool).await, both);
}

#[tokio::test]
async fn bad_rows_produce_every_edge_case() {
    let db = TestDb::new().await;
    let report = seed(&db.pool, &opts(2, 2, 10, 99, true)).await.unwrap();
    assert_eq!(counts(&db.pool).await, report);
    let p = &db.pool;

    let checks: Vec<(&str, String, i64)> = vec![
        (
            "user with NULL name",
            "SELECT count(*) FROM users WHERE name IS NULL AND email LIKE 'edge.null-name.%@edge-cases.test'".to_owned(),
            1,
        ),
        (
            "project of the NULL-name user",
            "SELECT count(*) FROM projects p JOIN users u ON u.id = p.user_id \
             WHERE u.name IS NULL AND p.source_metadata->>'edge_case' = 'null_user_name'".to_owned(),
            1,
        ),
        (
            "parent 2-cycle",
            "SELECT count(*) FROM tasks a JOIN tasks b ON a.parent_task_id = b.id \
             WHERE b.parent_task_id = a.id AND a.id <> b.id AND a.source = 'seed:edge:parent_cycle'".to_owned(),
            2,
        ),
        (
            "child of a cycle",
            "SELECT count(*) FROM tasks c JOIN tasks a ON c.parent_task_id = a.id \
             JOIN tasks b ON a.parent_task_id = b.id \
             WHERE b.parent_task_id = a.id AND c.id <> b.id AND c.source = 'seed:edge:child_of_cycle'".to_owned(),
            1,
        ),
        (
            "parent 3-cycle",
            "SELECT count(*) FROM tasks d JOIN tasks e ON d.parent_task_id = e.id \
             JOIN tasks f ON e.parent_task_id = f.id \
             WHERE f.parent_task_id = d.id AND d.id <> e.id AND e.id <> f.id AND d.id <> f.id".to_owned(),
            3,
        ),
        (
            "phase_tasks row to a phase of another project",
            "SELECT count(*) FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id \
             JOIN tasks t ON t.id = pt.task_id \
             WHERE ph.project_id IS DISTINCT FROM t.project_id \
               AND pt.assignment_reason = 'seed:edge:cross_project_phase'".to_owned(),
            1,
        ),
        (
            "dangling dependency",
            "SELECT count(*) FROM tasks t, unnest(t.dependencies) d \
             WHERE d ~ '^[0-9a-f-]{36}$' AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id::text = d)".to_owned(),
            1,
        ),
        (
            "dependency on a task of another project",
            "SELECT count(*) FROM tasks t CROSS JOIN LATERAL unnest(t.dependencies) d \
             JOIN tasks x ON x.id::text = d WHERE x.project_id IS DISTINCT FROM t.project_id".to_owned(),
            1,
        ),
        (
            "malformed dependencies",
            "SELECT count(*) FROM tasks t, unnest(t.dependencies) d WHERE d !~ '^[0-9a-f-]{36}$'".to_owned(),
            2,
        ),
        (
            "dangling parent",
            "SELECT count(*) FROM tasks t WHERE t.parent_task_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.id = t.parent_task_id)".to_owned(),
            1,
        ),
        ("task without project", "SELECT count(*) FROM tasks WHERE project_id IS NULL".to_owned(), 1),
        (
            "events without start",
            "SELECT count(*) FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id \
             WHERE e.event_start IS NULL AND t.source = 'seed:edge:event_without_start'".to_owned(),
            2,
        ),
        (
            "inverted phase",
            "SELECT count(*) FROM phases WHERE end_date < start_date \
             AND description = 'seed:edge:inverted_phase_dates'".to_owned(),
            1,
        ),
        (
            "100 KiB description",
            format!("SELECT count(*) FROM tasks WHERE octet_length(description) >= {HUGE_DESCRIPTION_BYTES} \
                     AND source = 'seed:edge:huge_description'"),
            1,
        ),
        ("empty context", "SELECT count(*) FROM projects WHERE context = ''".to_owned(), 1),
        (
            "huge context",
            format!("SELECT count(*) FROM projects WHERE octet_length(context) >= {HUGE_CONTEXT_BYTES}"),
            1,
        ),
        (
            "odd unicode project name",
            "SELECT count(*) FROM projects WHERE source_metadata->>'edge_case' = 'odd_unicode' \
             AND name LIKE '%東京%' AND name LIKE '%🚀%'".to_owned(),
            1,
        ),
        (
            "odd unicode user name",
            "SELECT count(*) FROM users WHERE name LIKE '%Ångström%' AND email LIKE 'edge.unicode.%'".to_owned(),
            1,
        ),
    ];
    for (what, sql, expected) in checks {
        assert_eq!(count(p, &sql).await, expected, "{what}: {sql}");
    }

    // Each kind of odd character appears in some task title.
    for needle in [
        "\u{202E}",
        "\u{200D}",
        "\u{301}",
        "\u{200B}",
        "撰写",
        "会議",
        "مراجعة",
        "בדיקת",
        "🚀",
        "\n",
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE strpos(title, $1) > 0 AND source = 'seed:edge:odd_unicode'")
            .bind(needle)
            .fetch_one(p)
            .await
            .unwrap();
        assert!(n >= 1, "no title contains {needle:?}");
    }

    // Every marker and every edge project is present; every edge project (but the all-odd one)
    // also holds well-formed tasks so the rest of it migrates.
    for case in EdgeCase::ALL {
        let n = count(
            p,
            &format!(
                "SELECT (SELECT count(*) FROM tasks WHERE source = '{m}') \
                      + (SELECT count(*) FROM phases WHERE description = '{m}') \
                      + (SELECT count(*) FROM phase_tasks WHERE assignment_reason = '{m}') \
                      + (SELECT count(*) FROM projects WHERE source_metadata->>'edge_case' = '{k}')",
                m = case.marker(),
                k = case.key()
            ),
        )
        .await;
        assert!(n >= 1, "edge case {case:?} not found");
    }
    for project in EdgeProject::ALL {
        let key = project.key();
        assert_eq!(
            count(p, &format!("SELECT count(*) FROM projects WHERE source = '{EDGE_SOURCE}' AND source_metadata->>'edge_case' = '{key}'")).await,
            1,
            "edge project {key}"
        );
        if project != EdgeProject::OddUnicode {
            let plain = count(
                p,
                &format!(
                    "SELECT count(*) FROM tasks t JOIN projects pr ON pr.id = t.project_id \
                     WHERE pr.source_metadata->>'edge_case' = '{key}' AND t.source = '{EDGE_SOURCE}'"
                ),
            )
            .await;
            assert!(
                plain >= 3,
                "edge project {key} has only {plain} well-formed tasks"
            );
        }
    }
}

#[tokio::test]
async fn normal_data_is_clean_and_realistic() {
    let db = TestDb::new().await;
    let report = seed(&db.pool, &opts(10, 10, 20, 2024, false))
        .await
        .unwrap();
    assert_eq!(counts(&db.pool).await, report);
    assert_eq!(report.users, 10);
    assert_eq!(report.projects, 100);
    assert_eq!(report.tasks, 2_000);
    let p = &db.pool;

    // Clean: no edge case in normal data.
    let must_be_zero = [
        "SELECT count(*) FROM users WHERE email LIKE '%@edge-cases.test'",
        "SELECT count(*) FROM tasks WHERE project_id IS NULL",
        "SELECT count(*) FROM tasks t WHERE t.parent_task_id IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM tasks x WHERE x.id = t.parent_task_id AND x.project_id = t.project_id)",
        "SELECT count(*) FROM tasks t, unnest(t.dependencies) d WHERE NOT EXISTS \
         (SELECT 1 FROM tasks x WHERE x.id::text = d AND x.project_id = t.project_id AND x.id <> t.id)",
        "SELECT count(*) FROM phase_tasks pt JOIN phases ph ON ph.id = pt.phase_id \
         JOIN tasks t ON t.id = pt.task_id WHERE ph.project_id IS DISTINCT FROM t.project_id",
        "SELECT count(*) FROM phases WHERE end_date < start_date",
        "SELECT count(*) FROM task_calendar_events WHERE event_start IS NULL OR event_end < event_start",
        "SELECT count(*) FROM projects WHERE context = ''",
        // Parent chains are acyclic.
        "WITH RECURSIVE chain(id, parent, path, cycle) AS ( \
           SELECT id, parent_task_id, ARRAY[id], false FROM tasks \
           UNION ALL \
           SELECT c.id, t.parent_task_id, c.path || t.id, t.id = ANY(c.path) \
           FROM chain c JOIN tasks t ON t.id = c.parent WHERE NOT c.cycle) \
         SELECT count(*) FROM chain WHERE cycle",
        // Event calendar links point at the project's own calendar.
        "SELECT count(*) FROM task_calendar_events e JOIN project_calendars c ON c.id = e.project_calendar_id \
         JOIN tasks t ON t.id = e.task_id WHERE c.project_id IS DISTINCT FROM t.project_id",
        "SELECT count(*) FROM tasks WHERE status = 'done' AND completed_at IS NULL",
        "SELECT count(*) FROM tasks WHERE task_type = 'recurring' AND recurrence_pattern IS NULL",
    ];
    for sql in must_be_zero {
        assert_eq!(count(p, sql).await, 0, "{sql}");
    }

    // Long tail of project sizes.
    let max = count(p, "SELECT max(n) FROM (SELECT count(t.id) AS n FROM projects pr LEFT JOIN tasks t ON t.project_id = pr.id GROUP BY pr.id) s").await;
    assert!(max >= 200, "largest project has {max} tasks");
    let empty = count(p, "SELECT count(*) FROM projects pr WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = pr.id)").await;
    assert!(empty >= 1, "no empty project");

    // Proportions, in percent of the relevant rows (loose bounds).
    let pct = |num: &'static str, den: &'static str| async move {
        let n = count(p, num).await as f64;
        let d = count(p, den).await as f64;
        100.0 * n / d
    };
    let bounds: [(&str, &str, &str, f64, f64); 14] = [
        (
            "archived projects",
            "SELECT count(*) FROM projects WHERE status = 'archived'",
            "SELECT count(*) FROM projects",
            3.0,
            20.0,
        ),
        (
            "done tasks",
            "SELECT count(*) FROM tasks WHERE status = 'done'",
            "SELECT count(*) FROM tasks",
            12.0,
            35.0,
        ),
        (
            "urgent tasks",
            "SELECT count(*) FROM tasks WHERE priority = 'urgent'",
            "SELECT count(*) FROM tasks",
            3.0,
            14.0,
        ),
        (
            "recurring tasks",
            "SELECT count(*) FROM tasks WHERE task_type = 'recurring'",
            "SELECT count(*) FROM tasks",
            4.0,
            13.0,
        ),
        (
            "deleted tasks",
            "SELECT count(*) FROM tasks WHERE deleted_at IS NOT NULL",
            "SELECT count(*) FROM tasks",
            2.0,
            9.0,
        ),
        (
            "subtasks",
            "SELECT count(*) FROM tasks WHERE parent_task_id IS NOT NULL",
            "SELECT count(*) FROM tasks",
            6.0,
            14.0,
        ),
        (
            "tasks with dependencies",
            "SELECT count(*) FROM tasks WHERE dependencies IS NOT NULL",
            "SELECT count(*) FROM tasks",
            6.0,
            14.0,
        ),
        (
            "tasks in several phases",
            "SELECT count(*) FROM (SELECT task_id FROM phase_tasks GROUP BY task_id HAVING count(*) > 1) s",
            "SELECT count(*) FROM tasks",
            4.0,
            15.0,
        ),
        (
            "projects with a calendar",
            "SELECT count(DISTINCT project_id) FROM project_calendars",
            "SELECT count(*) FROM projects",
            15.0,
            45.0,
        ),
        (
            "tasks with events",
            "SELECT count(DISTINCT task_id) FROM task_calendar_events",
            "SELECT count(*) FROM tasks",
            10.0,
            20.0,
        ),
        (
            "cancelled events",
            "SELECT count(*) FROM task_calendar_events WHERE sync_status = 'cancelled'",
            "SELECT count(*) FROM task_calendar_events",
            4.0,
            25.0,
        ),
        (
            "untitled events",
            "SELECT count(*) FROM task_calendar_events WHERE event_title IS NULL",
            "SELECT count(*) FROM task_calendar_events",
            5.0,
            25.0,
        ),
        (
            "projects with context",
            "SELECT count(*) FROM projects WHERE context IS NOT NULL",
            "SELECT count(*) FROM projects",
            35.0,
            75.0,
        ),
        (
            "projects with core values",
            "SELECT count(*) FROM projects WHERE num_nonnulls(core_goals_momentum, core_harmony_integration, core_integrity_ideals, core_meaning_identity, core_opportunity_freedom, core_people_bonds, core_power_resources, core_reality_understanding, core_trust_safeguards) > 0",
            "SELECT count(*) FROM projects",
            12.0,
            45.0,
        ),
    ];
    for (what, num, den, lo, hi) in bounds {
        let v = pct(num, den).await;
        assert!(
            (lo..=hi).contains(&v),
            "{what}: {v:.1} % not in [{lo}, {hi}]"
        );
    }

    // Some phases in the past, around the anchor and in the future; some phases without tasks.
    for sql in [
        "SELECT count(*) FROM phases WHERE end_date < DATE '2026-11-01'",
        "SELECT count(*) FROM phases WHERE start_date <= DATE '2026-11-01' AND end_date >= DATE '2026-11-01'",
        "SELECT count(*) FROM phases WHERE start_date > DATE '2026-11-01'",
        "SELECT count(*) FROM phases ph WHERE NOT EXISTS (SELECT 1 FROM phase_tasks pt WHERE pt.phase_id = ph.id)",
        "SELECT count(*) FROM task_calendar_events WHERE attendees IS NOT NULL AND jsonb_array_length(attendees) > 0 \
         AND attendees->0 ? 'email' AND attendees->0 ? 'responseStatus'",
        "SELECT count(*) FROM task_calendar_events WHERE recurrence_master_id IS NOT NULL AND is_exception",
        "SELECT count(*) FROM task_calendar_events WHERE sync_source IS NULL",
        "SELECT count(*) FROM tasks WHERE recurrence_ends IS NOT NULL AND recurrence_end_source IS NOT NULL",
        "SELECT count(*) FROM projects WHERE slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'",
        "SELECT count(*) FROM projects WHERE array_length(tags, 1) > 0",
    ] {
        assert!(count(p, sql).await > 0, "nothing matches {sql}");
    }

    // Titles cover all eight work modes; descriptions carry the facet keywords.
    for pattern in [
        "(deploy|fix|set up|ship|install|launch|run)", // execute
        "(draft|write|design|sketch|build a|create)",  // create
        "(polish|revise|refactor|edit|improve|clean up)", // refine
        "(research|investigate|compare|read|look into)", // research
        "(review|audit|feedback|check)",               // review
        "(meet|call|standup|sync|interview|email)",    // coordinate
        "(invoice|renew|pay|file|report|expense)",     // admin
        "(plan|roadmap|sprint|milestone|okr|prioritize)", // plan
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks WHERE title ~* $1")
            .bind(pattern)
            .fetch_one(p)
            .await
            .unwrap();
        assert!(n > 0, "no title matches {pattern}");
    }
    for keyword in ["client", "startup", "thesis", "github", "wedding"] {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM projects WHERE (coalesce(name, '') || ' ' || coalesce(description, '') || ' ' || \
             coalesce(array_to_string(tags, ' '), '')) ~* $1",
        )
        .bind(keyword)
        .fetch_one(p)
        .await
        .unwrap();
        assert!(n > 0, "no project mentions {keyword}");
    }
}

#[tokio::test]
async fn reset_empties_the_legacy_tables() {
    let db = TestDb::new().await;
    // Works on a database without the schema (creates it).
    reset(&db.pool).await.unwrap();
    assert!(legacy_schema_exists(&db.pool).await.unwrap());

    let report = seed(&db.pool, &opts(2, 3, 8, 5, true)).await.unwrap();
    assert!(report.total_rows() > 0);
    assert_eq!(counts(&db.pool).await, report);
    reset(&db.pool).await.unwrap();
    assert_eq!(counts(&db.pool).await, SeedReport::default());
    // The same seed can be applied again after a reset.
    assert_eq!(
        seed(&db.pool, &opts(2, 3, 8, 5, true)).await.unwrap(),
        report
    );
}

#[tokio::test]
async fn degenerate_options() {
    let db = TestDb::new().await;
    assert_eq!(
        seed(&db.pool, &opts(0, 5, 5, 1, false)).await.unwrap(),
        SeedReport::default()
    );
    let users_only = seed(&db.pool, &opts(3, 0, 5, 2, false)).await.unwrap();
    assert_eq!(
        (users_only.users, users_only.projects, users_only.tasks),
        (3, 0, 0)
    );
    let no_tasks = seed(&db.pool, &opts(2, 2, 0, 3, false)).await.unwrap();
    assert_eq!(
        (
            no_tasks.users,
            no_tasks.projects,
            no_tasks.tasks,
            no_tasks.events
        ),
        (2, 4, 0, 0)
    );
    let only_edges = seed(&db.pool, &opts(0, 0, 0, 4, true)).await.unwrap();
    assert_eq!(only_edges.projects, EdgeProject::ALL.len() as u64);
    assert_eq!(
        counts(&db.pool).await,
        add(&add(&users_only, &no_tasks), &only_edges)
    );
}

#[tokio::test]
async fn absurd_options_are_refused_before_touching_the_database() {
    let pool = PgPoolOptions::new()
        .connect_lazy("postgres://nobody@127.0.0.1:1/nothing")
        .unwrap();
    let err = seed(&pool, &opts(u32::MAX, u32::MAX, 10, 1, false))
        .await
        .unwrap_err();
    assert!(matches!(err, SeedError::InvalidOptions(_)), "{err}");
    let err = seed(&pool, &opts(100_000, 10, 100_000, 1, false))
        .await
        .unwrap_err();
    assert!(matches!(err, SeedError::InvalidOptions(_)), "{err}");
}
