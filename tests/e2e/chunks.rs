//! Projects bigger than the chunk size (SPEC §10 "bounded memory"): their tasks are read,
//! transformed and written in chunks inside the project's one transaction. The same dataset is
//! migrated twice — once whole (the default chunk), once in chunks of 4 tasks, so nearly every
//! project takes the cursor path and most parent, dependency and phase links cross a chunk
//! boundary — and everything written is compared in legacy terms: mappings, every onto row's
//! content, every edge by its legacy endpoints, sync rows, log rows and item counts. Then a
//! resync of the chunked database writes nothing, and a drifted task is updated in place.

use std::time::Duration;

use ontofleet_testkit::TestDb;
use uuid::Uuid;

use crate::expect::snapshot;
use crate::{RUN_TIMEOUT, prepared};

const SEED: &[&str] = &[
    "--users",
    "2",
    "--projects-per-user",
    "3",
    "--tasks-per-project",
    "30",
    "--seed",
    "9",
    "--bad-rows",
];

const CHUNK: usize = 4;

/// What a migration wrote, in legacy terms (onto ids differ between databases): per aspect, the
/// number of rows and a digest of their content.
const FINGERPRINT: &str = "\
WITH m AS (SELECT legacy_table, legacy_id, onto_id FROM legacy_entity_mappings) \
SELECT 'mappings', count(*), md5(coalesce(string_agg(legacy_table || ':' || legacy_id || ':' || checksum || ':' || onto_table, ',' \
        ORDER BY legacy_table, legacy_id), '')) FROM legacy_entity_mappings \
UNION ALL SELECT 'projects', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, o.name, o.type_key, o.state_key, \
        o.facet_context, o.facet_scale, o.facet_stage, o.start_at, o.end_at, o.props::text), ',' ORDER BY m.legacy_id), '')) \
   FROM onto_projects o JOIN m ON m.onto_id = o.id \
UNION ALL SELECT 'documents', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, o.title, o.props::text), ',' \
        ORDER BY m.legacy_id), '')) FROM onto_documents o JOIN m ON m.onto_id = o.id \
UNION ALL SELECT 'plans', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, o.name, o.type_key, o.state_key, \
        o.props::text), ',' ORDER BY m.legacy_id), '')) FROM onto_plans o JOIN m ON m.onto_id = o.id \
UNION ALL SELECT 'tasks', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, o.title, o.type_key, o.state_key, \
        o.priority, o.due_at, o.props::text), ',' ORDER BY m.legacy_id), '')) FROM onto_tasks o JOIN m ON m.onto_id = o.id \
UNION ALL SELECT 'events', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, owner.legacy_id, o.state_key, o.title, \
        o.start_at, o.end_at, o.recurrence::text, o.external_link, o.props::text), ',' ORDER BY m.legacy_id), '')) \
   FROM onto_events o JOIN m ON m.onto_id = o.id JOIN m owner ON owner.onto_id = o.owner_entity_id \
UNION ALL SELECT 'sync rows', count(*), md5(coalesce(string_agg(concat_ws('|', m.legacy_id, s.calendar_id, s.provider, \
        s.external_event_id, s.sync_status), ',' ORDER BY m.legacy_id), '')) \
   FROM onto_event_sync s JOIN m ON m.onto_id = s.event_id \
UNION ALL SELECT 'edges', count(*), md5(coalesce(string_agg(concat_ws(' ', src.legacy_table, src.legacy_id, e.rel, \
        dst.legacy_table, dst.legacy_id), ',' ORDER BY src.legacy_table, src.legacy_id, e.rel, dst.legacy_table, dst.legacy_id), '')) \
   FROM onto_edges e JOIN m src ON src.onto_id = e.src_id JOIN m dst ON dst.onto_id = e.dst_id \
UNION ALL SELECT 'edges (all)', count(*), '' FROM onto_edges \
UNION ALL SELECT 'log', count(*), md5(coalesce(string_agg(concat_ws('|', entity_type, operation, legacy_table, legacy_id, \
        status, error_category, error_message), ',' ORDER BY entity_type, legacy_table, legacy_id, operation, status, \
        error_message), '')) FROM migration_log \
UNION ALL SELECT 'items', count(*), md5(coalesce(string_agg(concat_ws('|', project_id, status, counts::text), ',' \
        ORDER BY project_id), '')) FROM migration_run_items";

async fn fingerprint(db: &TestDb) -> Vec<(String, i64, String)> {
    sqlx::query_as(FINGERPRINT)
        .fetch_all(&db.pool)
        .await
        .expect("fingerprint")
}

/// Migrate everything with one worker whose chunk is `chunk` tasks (None: the default).
async fn migrate(db: &TestDb, chunk: Option<usize>, extra: &[&str]) {
    let chunk = chunk.map(|c| c.to_string());
    let env: Vec<(&str, &str)> = chunk
        .as_deref()
        .map(|c| vec![("ONTOFLEET__PIPELINE__CHUNK_TASKS", c)])
        .unwrap_or_default();
    let mut worker = db.spawn_worker("chunks", 4, &env);
    db.wait_workers(&["chunks"], Duration::from_secs(30)).await;
    let mut args = vec!["run", "start", "--all", "--watch"];
    args.extend_from_slice(extra);
    let out = tokio::time::timeout(RUN_TIMEOUT, db.cli(&args))
        .await
        .expect("run finished in time");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "run start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    worker.kill().await.expect("stop worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_projects_write_exactly_what_whole_ones_do_and_resync_writes_nothing() {
    let whole = prepared("chunks_whole", SEED).await;
    let chunked = prepared("chunks_small", SEED).await;
    migrate(&whole, None, &[]).await;
    migrate(&chunked, Some(CHUNK), &[]).await;

    // The chunked path was taken, with links to cross: projects above the chunk size that
    // have parent, dependency and phase edges.
    let big_projects: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT project_id FROM tasks WHERE deleted_at IS NULL AND status <> 'done' \
          GROUP BY 1 HAVING count(*) > $1) s",
    )
    .bind(CHUNK as i64)
    .fetch_one(&chunked.pool)
    .await
    .unwrap();
    assert!(big_projects >= 5, "{big_projects} projects above the chunk");
    for rel in [
        "has_subtask",
        "depends_on",
        "has_task",
        "belongs_to_plan",
        "has_event",
    ] {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM onto_edges e JOIN onto_tasks t ON t.id IN (e.src_id, e.dst_id) \
              WHERE e.rel = $1 AND t.project_id IN ( \
                    SELECT o.project_id FROM onto_tasks o GROUP BY 1 HAVING count(*) > $2)",
        )
        .bind(rel)
        .bind(CHUNK as i64)
        .fetch_one(&chunked.pool)
        .await
        .unwrap();
        assert!(n > 0, "no {rel} edge in a project above the chunk size");
    }

    let a = fingerprint(&whole).await;
    let b = fingerprint(&chunked).await;
    for ((aspect, n_whole, digest_whole), (_, n_chunked, digest_chunked)) in a.iter().zip(&b) {
        assert!(*n_whole > 0, "{aspect}: nothing written");
        assert_eq!(
            (n_whole, digest_whole),
            (n_chunked, digest_chunked),
            "{aspect}: chunked migration differs from the whole one"
        );
    }
    let edges = |f: &[(String, i64, String)], k: &str| f.iter().find(|x| x.0 == k).unwrap().1;
    assert_eq!(
        edges(&b, "edges"),
        edges(&b, "edges (all)"),
        "every edge joins two mapped rows"
    );
    whole.drop_db().await;

    // A resync of unchanged data, in chunks, writes nothing.
    let before = snapshot(&chunked).await;
    let log_before = chunked.count("SELECT count(*) FROM migration_log").await;
    migrate(&chunked, Some(CHUNK), &["--resync"]).await;
    assert_eq!(snapshot(&chunked).await, before, "resync wrote rows");
    assert_eq!(
        chunked.count("SELECT count(*) FROM migration_log WHERE status = 'completed'")
            .await,
        chunked
            .count("SELECT count(*) FROM migration_log WHERE status = 'completed' AND run_id = (SELECT id FROM migration_runs ORDER BY created_at LIMIT 1)")
            .await,
        "no entity written by the resync"
    );
    assert!(chunked.count("SELECT count(*) FROM migration_log").await >= log_before);

    // A drifted task of the biggest project is updated in place; nothing else is rewritten.
    let (task, onto): (Uuid, Uuid) = sqlx::query_as(
        "SELECT m.legacy_id, m.onto_id FROM legacy_entity_mappings m JOIN tasks t ON t.id = m.legacy_id \
          WHERE m.legacy_table = 'tasks' AND t.project_id = ( \
                SELECT x.project_id FROM tasks x JOIN legacy_entity_mappings y \
                    ON y.legacy_table = 'tasks' AND y.legacy_id = x.id \
                 GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1) \
          ORDER BY t.created_at DESC, t.id LIMIT 1",
    )
    .fetch_one(&chunked.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tasks SET title = title || ' (edited)' WHERE id = $1")
        .bind(task)
        .execute(&chunked.pool)
        .await
        .unwrap();
    migrate(&chunked, Some(CHUNK), &["--resync"]).await;
    let title: String = sqlx::query_scalar("SELECT title FROM onto_tasks WHERE id = $1")
        .bind(onto)
        .fetch_one(&chunked.pool)
        .await
        .unwrap();
    assert!(title.ends_with(" (edited)"), "{title}");
    assert_eq!(
        chunked
            .count("SELECT count(*) FROM migration_log WHERE operation = 'resync' AND status = 'completed'")
            .await,
        1,
        "exactly the drifted task was resynced"
    );
    let mut after = snapshot(&chunked).await;
    let mut expected = before.clone();
    after.max_updated_at = None;
    expected.max_updated_at = None;
    assert_eq!(after, expected, "a resync updates in place");
    chunked.drop_db().await;
}
