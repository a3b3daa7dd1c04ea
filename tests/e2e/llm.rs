//! The `openai` classifier through the queue, against the fake server (SPEC §5.1): a run under
//! rate limits, outages and resets completes with the rules run's work modes, pays each batch
//! once, never retries before `Retry-After`, and a resync of unchanged data calls nothing; a
//! refused key opens the breaker, the run falls back to `rules`, and the key appears nowhere.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use ontofleet_testkit::TestDb;
use ontofleet_testkit::fake_llm::{FakeConfig, FakeLlm, Fault};
use uuid::Uuid;

use crate::{RUN_TIMEOUT, prepared, run_id};

const KEY: &str = "sk-e2e-SECRET-9731";

/// Worker environment for the `openai` classifier at `fake`.
fn openai_env(
    fake: &FakeLlm,
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ONTOFLEET__CLASSIFIER__KIND", "openai".to_owned()),
        ("ONTOFLEET__CLASSIFIER__BASE_URL", fake.base_url()),
        ("ONTOFLEET__CLASSIFIER__MODEL", "fake-model".to_owned()),
        (
            "ONTOFLEET__CLASSIFIER__API_KEY_ENV",
            "E2E_LLM_KEY".to_owned(),
        ),
        ("E2E_LLM_KEY", KEY.to_owned()),
        ("ONTOFLEET__CLASSIFIER__TIMEOUT_SECS", "5".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

fn spawn(
    db: &TestDb,
    name: &str,
    concurrency: usize,
    env: &[(&'static str, String)],
) -> tokio::process::Child {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    db.spawn_worker(name, concurrency, &env)
}

/// Per legacy task: (type key, work mode, classifier) of its onto row.
async fn classified(db: &TestDb) -> HashMap<Uuid, (String, String, String)> {
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT m.legacy_id, o.type_key, o.props #>> '{classification,work_mode}', \
                o.props #>> '{classification,classifier}' \
           FROM onto_tasks o JOIN legacy_entity_mappings m ON m.onto_id = o.id AND m.legacy_table = 'tasks'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, k, m, c)| (id, (k, m, c)))
        .collect()
}

/// ⌈tasks / 20⌉ summed over the run's projects: the calls a fault-free run makes.
async fn batches(db: &TestDb, run: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(ceil(n / 20.0)), 0)::bigint FROM ( \
           SELECT count(t.id) AS n FROM migration_run_items i \
             JOIN tasks t ON t.project_id = i.project_id AND t.deleted_at IS NULL AND t.status <> 'done' \
            WHERE i.run_id = $1 GROUP BY i.project_id) s",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn wait_done(db: &TestDb, run: Uuid) {
    let status = db.wait_run(run, RUN_TIMEOUT).await;
    assert_eq!(status, "completed", "run {run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_cost_retries_not_answers_and_resync_calls_nothing() {
    let template = prepared(
        "llm",
        &[
            "--users",
            "6",
            "--projects-per-user",
            "4",
            "--tasks-per-project",
            "30",
            "--seed",
            "11",
        ],
    )
    .await;
    let rules = TestDb::from_template("llm_rules", &template).await;
    let db = TestDb::from_template("llm_openai", &template).await;

    // The rules run: the answers the fake gives, resolved the same way.
    {
        let _w = rules.spawn_worker("rules", 4, &[]);
        rules
            .wait_workers(&["rules"], Duration::from_secs(30))
            .await;
        let run = run_id(&rules.cli_ok(&["run", "start", "--all"]).await);
        wait_done(&rules, run).await;
    }

    let fake = FakeLlm::start(
        "127.0.0.1:0",
        FakeConfig {
            rates: vec![
                (Fault::Status(429), 0.2),
                (Fault::Status(500), 0.08),
                (Fault::Status(503), 0.03),
                (Fault::Reset, 0.05),
            ],
            seed: 5,
            retry_after_secs: 3,
            api_key: Some(KEY.to_owned()),
            ..FakeConfig::default()
        },
    )
    .await
    .unwrap();
    // Policy delays well under the fake's Retry-After, so the header is what holds retries
    // back; attempts enough that no batch fails 12 times in a row (0.36^12 per batch).
    let env = openai_env(
        &fake,
        &[
            ("ONTOFLEET__RETRY__RECOVERABLE__MAX_ATTEMPTS", "12"),
            ("ONTOFLEET__RETRY__RECOVERABLE__BASE_SECS", "0.2"),
            ("ONTOFLEET__RETRY__RECOVERABLE__CAP_SECS", "1"),
            ("ONTOFLEET__CLASSIFIER__BREAKER_COOLDOWN_SECS", "1"),
        ],
    );
    let _w1 = spawn(&db, "llm1", 4, &env);
    let _w2 = spawn(&db, "llm2", 4, &env);
    db.wait_workers(&["llm1", "llm2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    wait_done(&db, run).await;

    // Every task answered by the model, with the rules' work mode; the type key is the rules
    // run's wherever the rules' key is one the catalogue offers the model.
    let keys: HashSet<String> = sqlx::query_scalar(
        "SELECT type_key FROM onto_templates WHERE status = 'active' AND NOT is_abstract AND type_key LIKE 'task.%'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let got = classified(&db).await;
    let want = classified(&rules).await;
    assert_eq!(got.len(), want.len(), "same tasks migrated");
    assert!(got.len() > 200, "{} tasks", got.len());
    let mut same_key = 0;
    for (id, (key, mode, classifier)) in &got {
        let (rules_key, rules_mode, _) = &want[id];
        assert_eq!(classifier, "openai", "task {id}");
        assert_eq!(mode, rules_mode, "task {id}");
        if keys.contains(rules_key.as_str()) {
            assert_eq!(key, rules_key, "task {id}");
            same_key += 1;
        }
    }
    assert!(same_key > got.len() / 2, "{same_key} of {}", got.len());

    // Each batch answered once: retries re-send only the batches that failed, and the cache
    // spares the rest. Faults were injected and cost calls, not answers.
    let stats = fake.stats.to_json();
    let answered = fake.stats.answered.load(Ordering::Relaxed);
    let calls = fake.stats.calls.load(Ordering::Relaxed);
    let faults: u64 = stats["faults"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(answered as i64, batches(&db, run).await, "{stats}");
    assert_eq!(calls, answered + faults, "{stats}");
    assert!(stats["faults"]["429"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert!(faults >= 4, "{stats}");

    // No retry before its Retry-After: the attempt after a 429 starts ≥ 3 s after it ended.
    let gaps: Vec<(String, f64)> = sqlx::query_as(
        "SELECT a.error_message, extract(epoch FROM (b.started_at - a.finished_at))::float8 \
           FROM migration_attempts a JOIN migration_attempts b \
             ON b.run_id = a.run_id AND b.project_id = a.project_id AND b.attempt = a.attempt + 1 \
          WHERE a.run_id = $1 AND a.outcome = 'retry'",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let limited: Vec<f64> = gaps
        .iter()
        .filter(|(m, _)| m.contains("HTTP 429") || m.contains("HTTP 503"))
        .map(|(_, g)| *g)
        .collect();
    assert!(!limited.is_empty(), "no rate-limited attempt: {gaps:?}");
    for gap in &limited {
        assert!(
            *gap >= 2.95,
            "retried {gap:.2} s after a Retry-After: 3 ({gaps:?})"
        );
    }
    let counted: serde_json::Value = serde_json::from_str(
        &db.cli_ok(&["run", "show", &run.to_string(), "--json"])
            .await,
    )
    .unwrap();
    assert_eq!(
        counted["entities"]["classified"]["openai"].as_u64(),
        Some(got.len() as u64),
        "run show counts tasks by classifier: {}",
        counted["entities"]
    );

    // A resync of unchanged data calls nothing; one changed task costs one call of one task.
    let before = fake.stats.calls.load(Ordering::Relaxed);
    let again = run_id(&db.cli_ok(&["run", "start", "--all", "--resync"]).await);
    wait_done(&db, again).await;
    assert_eq!(
        fake.stats.calls.load(Ordering::Relaxed),
        before,
        "resync called the model"
    );
    let changed: Uuid = sqlx::query_scalar(
        "UPDATE tasks SET title = 'Schedule the quarterly review meeting with finance' \
          WHERE id = (SELECT id FROM tasks WHERE deleted_at IS NULL AND status <> 'done' ORDER BY id LIMIT 1) RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let tasks_before = fake.stats.tasks.load(Ordering::Relaxed);
    let answered_before = fake.stats.answered.load(Ordering::Relaxed);
    let third = run_id(&db.cli_ok(&["run", "start", "--all", "--resync"]).await);
    wait_done(&db, third).await;
    assert_eq!(
        fake.stats.answered.load(Ordering::Relaxed),
        answered_before + 1
    );
    assert_eq!(fake.stats.tasks.load(Ordering::Relaxed), tasks_before + 1);
    assert_eq!(classified(&db).await[&changed].2, "openai");

    rules.drop_db().await;
    db.drop_db().await;
    template.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_opens_the_breaker_and_the_run_falls_back_to_rules() {
    let db = prepared(
        "llmkey",
        &[
            "--users",
            "6",
            "--projects-per-user",
            "4",
            "--tasks-per-project",
            "10",
            "--seed",
            "3",
        ],
    )
    .await;
    // The fake wants another key, and quotes the one it was given in its 401.
    let fake = FakeLlm::start(
        "127.0.0.1:0",
        FakeConfig {
            api_key: Some("sk-the-right-one".to_owned()),
            ..FakeConfig::default()
        },
    )
    .await
    .unwrap();
    let env = openai_env(&fake, &[("ONTOFLEET__CLASSIFIER__BREAKER_FAILURES", "3")]);
    // One project at a time per worker: calls in flight when the breaker opens are few.
    // key1 serves its metrics, to show its breaker open.
    let ops = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut env1 = env.clone();
    env1.push(("ONTOFLEET__TELEMETRY__LISTEN", ops.clone()));
    let _w1 = spawn(&db, "key1", 1, &env1);
    let _w2 = spawn(&db, "key2", 1, &env);
    db.wait_workers(&["key1", "key2"], Duration::from_secs(30))
        .await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    wait_done(&db, run).await;
    let (_, page) = ontofleet_testkit::sink::http_get(&ops, "/metrics")
        .await
        .unwrap();
    let value = |series: &str| {
        page.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or_else(|| panic!("{series} missing:\n{page}"))
    };
    assert_eq!(value("ontofleet_classifier_breaker_open "), 1.0, "{page}");
    let refusals =
        value("ontofleet_classifier_calls_total{classifier=\"openai\",result=\"misconfigured\"} ");
    assert!(
        (3.0..=6.0).contains(&refusals),
        "three refusals opened key1's breaker (and a project's other batches in flight): {refusals}"
    );
    assert!(
        value("ontofleet_classifier_calls_total{classifier=\"openai\",result=\"refused\"} ") >= 1.0
    );

    let got = classified(&db).await;
    assert!(got.len() > 50, "{} tasks", got.len());
    assert!(
        got.values().all(|(_, _, c)| c == "rules(fallback)"),
        "every task classified by rules in the fallback attempt"
    );
    // 3 failures open each worker's breaker; a project's batches in flight at that moment
    // (at most 4) may still go out.
    let calls = fake.stats.calls.load(Ordering::Relaxed);
    let projects = db
        .count(
            "SELECT count(DISTINCT i.project_id) FROM migration_run_items i \
               JOIN tasks t ON t.project_id = i.project_id AND t.deleted_at IS NULL AND t.status <> 'done'",
        )
        .await;
    assert!(
        (3..=2 * (3 + 3)).contains(&calls) && (calls as i64) < projects,
        "calls stop after 3 failures per worker: {calls} calls for {projects} projects"
    );
    let fallback_attempts = db
        .count("SELECT count(*) FROM migration_attempts WHERE fallback AND outcome IN ('succeeded', 'partial')")
        .await;
    assert_eq!(
        fallback_attempts, projects,
        "each project with tasks: a data failure, then rules"
    );

    // The key is nowhere: not in the ledger, not in --json, not in the workers' logs.
    let leaked = db
        .count(
            "SELECT (SELECT count(*) FROM migration_attempts WHERE error_message LIKE '%SECRET%') \
                  + (SELECT count(*) FROM migration_run_items WHERE last_error LIKE '%SECRET%' OR counts::text LIKE '%SECRET%') \
                  + (SELECT count(*) FROM migration_log WHERE error_message LIKE '%SECRET%' OR metadata::text LIKE '%SECRET%')",
        )
        .await;
    assert_eq!(leaked, 0);
    let redacted = db
        .count("SELECT count(*) FROM migration_attempts WHERE error_message LIKE '%HTTP 401%[redacted]%'")
        .await;
    assert!(redacted > 0, "the 401's message is kept, the key taken out");
    for args in [
        vec!["run", "show", &run.to_string(), "--json"][..].to_vec(),
        vec!["jobs", "list", "--json"],
    ] {
        let out = db.cli(&args).await;
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("SECRET"),
            "{args:?}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("SECRET"),
            "{args:?}"
        );
    }
    // Settings that cannot work stop a worker at start, with one line and exit 2.
    for (key, value, says) in [
        (
            "ONTOFLEET__CLASSIFIER__KIND",
            "gpt",
            "classifier.kind: `gpt` is not a classifier",
        ),
        (
            "ONTOFLEET__CLASSIFIER__BATCH_SIZE",
            "50",
            "classifier.batch_size: 50 is not between 1 and 20",
        ),
        (
            "E2E_LLM_KEY",
            "",
            "classifier.api_key_env names `E2E_LLM_KEY`, which is not set",
        ),
    ] {
        let mut cmd = db.command(&["worker"]);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.env(key, value).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    for name in ["key1", "key2"] {
        let log =
            std::fs::read_to_string(std::env::temp_dir().join(format!("{}-{name}.log", db.name)))
                .unwrap();
        assert!(log.contains("circuit breaker open"), "{name}: {log}");
        assert!(!log.contains("SECRET"), "{name} logged the key");
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_paid_once_and_a_row_changed_after_classification_falls_back() {
    use ontofleet_pipeline::templates::TemplateCatalog;
    use ontofleet_pipeline::{Pipeline, RunContext};

    let db = prepared(
        "llmcache",
        &[
            "--users",
            "1",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "15",
            "--seed",
            "5",
        ],
    )
    .await;
    let (project, tasks): (Uuid, i64) = sqlx::query_as(
        "SELECT project_id, count(*) FROM tasks WHERE deleted_at IS NULL AND status <> 'done' \
          GROUP BY project_id ORDER BY count(*) DESC, project_id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // A run whose item stays queued: no worker runs here, the test plays the worker's part.
    let run = run_id(
        &db.cli_ok(&["run", "start", "--project", &project.to_string()])
            .await,
    );
    let fake = FakeLlm::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    let catalog = TemplateCatalog::load(&db.pool).await.unwrap();
    let settings = ontofleet_llm::ClassifierSettings {
        kind: "openai".to_owned(),
        base_url: fake.base_url(),
        model: "fake-model".to_owned(),
        ..Default::default()
    };
    let classifier = settings.build(&catalog).unwrap();
    let pipeline = Pipeline::with_classifier(std::sync::Arc::new(catalog), classifier);
    let ctx = RunContext {
        run_id: run,
        reference_time: chrono::Utc::now(),
        include_completed_tasks: false,
        fallback: false,
        dry_run: false,
        item_gate: false,
        deletes: ontofleet_pipeline::delete::DeletePolicy::default(),
    };
    let batches = (tasks as usize).div_ceil(20);
    let pre = ontofleet_pipeline::preclassify(&db.pool, &pipeline, &ctx, project)
        .await
        .unwrap();
    assert_eq!(
        (pre.calls, pre.cached, pre.answered),
        (batches, 0, tasks as usize)
    );
    // The job failed after classifying and runs again: every answer comes from the cache.
    let pre = ontofleet_pipeline::preclassify(&db.pool, &pipeline, &ctx, project)
        .await
        .unwrap();
    assert_eq!(
        (pre.calls, pre.cached, pre.answered),
        (0, tasks as usize, tasks as usize)
    );
    assert_eq!(fake.stats.calls.load(Ordering::Relaxed), batches as u64);

    // Between classification and the lock, a task changes: its checksum no longer matches.
    let changed: Uuid = sqlx::query_scalar(
        "UPDATE tasks SET title = title || ' (edited)' WHERE id = (SELECT id FROM tasks \
          WHERE project_id = $1 AND deleted_at IS NULL AND status <> 'done' ORDER BY id LIMIT 1) RETURNING id",
    )
    .bind(project)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // The answers are not held in memory for the whole project (a worker's memory per job is
    // bounded by the chunk): the transaction reads each chunk's from the cache, so an answer
    // gone from the cache in between is not used either.
    let evicted: Uuid = sqlx::query_scalar(
        "DELETE FROM classification_cache WHERE task_id = (SELECT id FROM tasks \
          WHERE project_id = $1 AND deleted_at IS NULL AND status <> 'done' AND id <> $2 ORDER BY id LIMIT 1) \
         RETURNING task_id",
    )
    .bind(project)
    .bind(changed)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    let outcome = ontofleet_pipeline::migrate_project(&mut tx, &pipeline, &ctx, project, &pre)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        fake.stats.calls.load(Ordering::Relaxed),
        batches as u64,
        "no call under the lock"
    );
    assert_eq!(outcome.counts["classified"]["openai"], tasks - 2);
    assert_eq!(outcome.counts["classified"]["rules(fallback)"], 2);
    let (classifier, reason, model): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT o.props #>> '{classification,classifier}', o.props #>> '{classification,reason}', \
                o.props #>> '{classification,model}' \
           FROM onto_tasks o JOIN legacy_entity_mappings m ON m.onto_id = o.id \
          WHERE m.legacy_table = 'tasks' AND m.legacy_id = $1",
    )
    .bind(changed)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(classifier, "rules(fallback)");
    assert_eq!(reason.as_deref(), Some("changed after classification"));
    assert_eq!(model, None);
    let origins: Vec<(String, String)> = sqlx::query_as(
        "SELECT o.props #>> '{classification,model}', o.props #>> '{classification,prompt_version}' \
           FROM onto_tasks o JOIN legacy_entity_mappings m ON m.onto_id = o.id \
          WHERE m.legacy_table = 'tasks' AND m.legacy_id <> $1 AND m.legacy_id <> $2",
    )
    .bind(changed)
    .bind(evicted)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(origins.len() as i64, tasks - 2);
    assert!(
        origins
            .iter()
            .all(|(m, p)| m == "fake-model" && p == ontofleet_llm::protocol::PROMPT_VERSION)
    );
    db.drop_db().await;
}
