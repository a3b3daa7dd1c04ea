//! Expected outcomes computed from the legacy tables by independent SQL, and snapshots of the
//! target tables.

use ontofleet_testkit::TestDb;

/// Legacy tasks selected by a default run (not archived, not deleted, not done).
const SELECTED_TASKS: &str = "SELECT t.* FROM tasks t JOIN projects p ON p.id = t.project_id \
    WHERE p.status <> 'archived' AND t.deleted_at IS NULL AND t.status <> 'done'";

/// Row counts of every target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub counts: Vec<(String, i64)>,
    pub max_updated_at: Option<String>,
}

/// Every ontology table a run writes.
pub const ONTO_TABLES: [&str; 8] = [
    "onto_actors",
    "onto_projects",
    "onto_documents",
    "onto_plans",
    "onto_tasks",
    "onto_events",
    "onto_event_sync",
    "onto_edges",
];

pub async fn snapshot(db: &TestDb) -> Snapshot {
    let mut counts = Vec::new();
    for table in ONTO_TABLES.into_iter().chain(["legacy_entity_mappings"]) {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&db.pool)
                .await
                .unwrap();
        counts.push((table.to_owned(), n));
    }
    let max_updated_at: Option<String> = sqlx::query_scalar(
        "SELECT greatest((SELECT max(updated_at) FROM onto_projects), (SELECT max(updated_at) FROM onto_tasks), \
                (SELECT max(updated_at) FROM onto_plans), (SELECT max(updated_at) FROM onto_events), \
                (SELECT max(updated_at) FROM legacy_entity_mappings))::text",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    Snapshot {
        counts,
        max_updated_at,
    }
}

/// Expected target counts for a default platform run, derived from the legacy data alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    pub projects: i64,
    pub documents: i64,
    pub plans: i64,
    pub tasks: i64,
    pub cycle_tasks: i64,
    pub events: i64,
    pub sync_rows: i64,
    pub has_task: i64,
    pub has_subtask: i64,
    pub depends_on: i64,
}

async fn scalar(db: &TestDb, sql: String) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

pub async fn expected(db: &TestDb) -> Expected {
    // Tasks on a parent cycle among the selected tasks: walking parents returns to the start.
    let migrated = format!(
        "WITH RECURSIVE sel AS ({SELECTED_TASKS}), \
         walk(start, cur, depth) AS ( \
             SELECT id, parent_task_id, 1 FROM sel WHERE parent_task_id IS NOT NULL \
             UNION ALL SELECT w.start, s.parent_task_id, w.depth + 1 FROM walk w JOIN sel s ON s.id = w.cur \
              WHERE w.depth < 1000 AND w.cur <> w.start), \
         cyc AS (SELECT DISTINCT start AS id FROM walk WHERE cur = start) \
         SELECT sel.* FROM sel WHERE sel.id NOT IN (SELECT id FROM cyc)"
    );
    let valid_phases = "SELECT ph.* FROM phases ph JOIN projects p ON p.id = ph.project_id \
        WHERE p.status <> 'archived' AND ph.end_date >= ph.start_date";
    Expected {
        projects: scalar(db, "SELECT count(*) FROM projects WHERE status <> 'archived'".into()).await,
        documents: scalar(db, "SELECT count(*) FROM projects WHERE status <> 'archived' AND trim(coalesce(context, '')) <> ''".into()).await,
        plans: scalar(db, format!("SELECT count(*) FROM ({valid_phases}) v")).await,
        tasks: scalar(db, format!("SELECT count(*) FROM ({migrated}) m")).await,
        cycle_tasks: scalar(db, format!("SELECT count(*) FROM ({SELECTED_TASKS}) s")).await
            - scalar(db, format!("SELECT count(*) FROM ({migrated}) m")).await,
        events: scalar(db, format!(
            "SELECT count(*) FROM task_calendar_events e WHERE e.event_start IS NOT NULL AND e.task_id IN (SELECT id FROM ({migrated}) m)"
        ))
        .await,
        sync_rows: scalar(db, format!(
            "SELECT count(DISTINCT (e.project_calendar_id, coalesce(e.sync_source, 'google'), e.calendar_event_id)) \
               FROM task_calendar_events e WHERE e.event_start IS NOT NULL AND e.project_calendar_id IS NOT NULL \
                AND e.task_id IN (SELECT id FROM ({migrated}) m)"
        ))
        .await,
        has_task: scalar(db, format!(
            "SELECT count(DISTINCT (pt.phase_id, pt.task_id)) FROM phase_tasks pt \
               JOIN ({migrated}) m ON m.id = pt.task_id JOIN ({valid_phases}) v ON v.id = pt.phase_id \
              WHERE v.project_id = m.project_id"
        ))
        .await,
        has_subtask: scalar(db, format!(
            "WITH m AS ({migrated}) SELECT count(*) FROM m c JOIN m p ON p.id = c.parent_task_id AND p.project_id = c.project_id WHERE c.id <> p.id"
        ))
        .await,
        depends_on: scalar(db, format!(
            "WITH m AS ({migrated}) SELECT count(DISTINCT (m.id, d.dep)) FROM m \
               CROSS JOIN LATERAL unnest(m.dependencies) AS d(dep) \
              WHERE d.dep ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$' \
                AND d.dep::uuid <> m.id AND d.dep::uuid IN (SELECT m2.id FROM m m2 WHERE m2.project_id = m.project_id)"
        ))
        .await,
    }
}

/// Assert the target matches `expected` exactly and the ledger is consistent.
pub async fn assert_target(db: &TestDb, want: &Expected) {
    let count = |sql: &'static str| db.count(sql);
    assert_eq!(
        count("SELECT count(*) FROM onto_projects").await,
        want.projects,
        "onto_projects"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_documents").await,
        want.documents,
        "onto_documents"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_plans").await,
        want.plans,
        "onto_plans"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_tasks").await,
        want.tasks,
        "onto_tasks"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_events").await,
        want.events,
        "onto_events"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_event_sync").await,
        want.sync_rows,
        "onto_event_sync"
    );
    let edges = |rel: &'static str| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM onto_edges WHERE rel = $1")
            .bind(rel)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert_eq!(edges("has_plan").await, want.plans, "has_plan edges");
    assert_eq!(
        edges("has_context_document").await,
        want.documents,
        "has_context_document edges"
    );
    assert_eq!(edges("has_task").await, want.has_task, "has_task edges");
    assert_eq!(
        edges("belongs_to_plan").await,
        want.has_task,
        "belongs_to_plan edges"
    );
    assert_eq!(edges("has_event").await, want.events, "has_event edges");
    assert_eq!(
        edges("has_subtask").await,
        want.has_subtask,
        "has_subtask edges"
    );
    assert_eq!(
        edges("depends_on").await,
        want.depends_on,
        "depends_on edges"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_edges").await,
        want.plans
            + want.documents
            + want.has_task * 2
            + want.events
            + want.has_subtask
            + want.depends_on,
        "no other edges"
    );
    // Every onto row has exactly one mapping, and every mapping points at a row.
    for (table, sql) in [
        (
            "onto_projects",
            "SELECT count(*) FROM onto_projects o WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = 'onto_projects' AND m.onto_id = o.id) <> 1",
        ),
        (
            "onto_documents",
            "SELECT count(*) FROM onto_documents o WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = 'onto_documents' AND m.onto_id = o.id) <> 1",
        ),
        (
            "onto_plans",
            "SELECT count(*) FROM onto_plans o WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = 'onto_plans' AND m.onto_id = o.id) <> 1",
        ),
        (
            "onto_tasks",
            "SELECT count(*) FROM onto_tasks o WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = 'onto_tasks' AND m.onto_id = o.id) <> 1",
        ),
        (
            "onto_events",
            "SELECT count(*) FROM onto_events o WHERE (SELECT count(*) FROM legacy_entity_mappings m WHERE m.onto_table = 'onto_events' AND m.onto_id = o.id) <> 1",
        ),
    ] {
        assert_eq!(
            count(sql).await,
            0,
            "{table} rows without exactly one mapping"
        );
    }
    assert_eq!(
        count("SELECT count(*) FROM legacy_entity_mappings").await,
        want.projects + want.documents + want.plans + want.tasks + want.events,
        "mappings"
    );
    // Every selected legacy entity is mapped or logged with a category, a user and a message.
    for (what, sql) in [
        (
            "tasks",
            "SELECT count(*) FROM tasks t JOIN projects p ON p.id = t.project_id \
                    WHERE p.status <> 'archived' AND t.deleted_at IS NULL AND t.status <> 'done' \
                      AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'tasks' AND m.legacy_id = t.id) \
                      AND NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = t.id AND l.entity_type = 'task' \
                                        AND l.status IN ('failed', 'skipped') AND l.error_category IS NOT NULL \
                                        AND l.error_message <> '' AND l.user_id = p.user_id)",
        ),
        (
            "phases",
            "SELECT count(*) FROM phases ph JOIN projects p ON p.id = ph.project_id WHERE p.status <> 'archived' \
                      AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'phases' AND m.legacy_id = ph.id) \
                      AND NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = ph.id AND l.status IN ('failed', 'skipped') \
                                        AND l.error_category = 'data' AND l.user_id = p.user_id)",
        ),
        (
            "events",
            "SELECT count(*) FROM task_calendar_events e JOIN tasks t ON t.id = e.task_id JOIN projects p ON p.id = t.project_id \
                     WHERE p.status <> 'archived' AND t.deleted_at IS NULL AND t.status <> 'done' \
                      AND NOT EXISTS (SELECT 1 FROM legacy_entity_mappings m WHERE m.legacy_table = 'task_calendar_events' AND m.legacy_id = e.id) \
                      AND NOT EXISTS (SELECT 1 FROM migration_log l WHERE l.legacy_id = e.id AND l.status IN ('failed', 'skipped') \
                                        AND l.error_category IS NOT NULL AND l.user_id = p.user_id)",
        ),
        (
            "projects",
            "SELECT count(*) FROM projects p WHERE p.status <> 'archived' \
                      AND (SELECT count(*) FROM legacy_entity_mappings m WHERE m.legacy_table = 'projects' AND m.legacy_id = p.id) <> 1",
        ),
    ] {
        assert_eq!(
            count(sql).await,
            0,
            "selected {what} neither mapped nor logged with a category"
        );
    }
    assert_eq!(
        count("SELECT count(*) FROM migration_log WHERE status IN ('failed', 'skipped') \
               AND (error_category IS NULL OR error_message IS NULL OR error_message = '' OR user_id IS NULL)").await,
        0,
        "log rows without category, message or user"
    );
    assert_eq!(
        count("SELECT count(*) FROM onto_tasks WHERE priority NOT BETWEEN 2 AND 5").await,
        0,
        "priorities"
    );
    // Users without a name got an actor named after their email's local part.
    assert_eq!(
        count(
            "SELECT count(*) FROM onto_actors a JOIN users u ON u.id = a.user_id \
               WHERE u.name IS NULL AND a.name <> split_part(u.email, '@', 1)"
        )
        .await,
        0,
        "actor names of users without a name"
    );
}
