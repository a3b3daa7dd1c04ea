//! Observability of real worker processes (SPEC §8): spans and metrics of a run arrive at an
//! OTLP/HTTP receiver; `/metrics` lists every metric and counts what the ledger counts; `/livez`
//! and `/readyz` answer, `/readyz` turns 503 as a SIGTERM drain starts and the worker still
//! exits 0; a collector that refuses connections changes nothing of a run.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ontofleet_testkit::fake_llm::{FakeConfig, FakeLlm};
use ontofleet_testkit::signal;
use ontofleet_testkit::sink::{HttpSink, http_get};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use uuid::Uuid;

use crate::{RUN_TIMEOUT, prepared, run_id};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `name{labels} value` lines of a Prometheus text page, by series.
fn samples(page: &str) -> HashMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn wait_ready(addr: &str) {
    let started = Instant::now();
    loop {
        if let Ok((200, _)) = http_get(addr, "/readyz").await {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{addr} never ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn attr(attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_traced_and_metered_as_the_ledger_counts_it() {
    let db = prepared(
        "otel",
        &[
            "--users",
            "3",
            "--projects-per-user",
            "3",
            "--tasks-per-project",
            "12",
            "--seed",
            "8",
            "--bad-rows",
        ],
    )
    .await;
    let sink = HttpSink::start().await.unwrap();
    let fake = FakeLlm::start("127.0.0.1:0", FakeConfig::default())
        .await
        .unwrap();
    let ops = format!("127.0.0.1:{}", free_port());
    let env: Vec<(&str, String)> = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", sink.addr),
        ),
        ("OTEL_SERVICE_NAME", "ontofleet-e2e".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500".to_owned()),
        ("ONTOFLEET__TELEMETRY__LISTEN", ops.clone()),
        ("ONTOFLEET__TELEMETRY__BACKLOG", "true".to_owned()),
        (
            "ONTOFLEET__TELEMETRY__BACKLOG_INTERVAL_SECS",
            "1".to_owned(),
        ),
        ("ONTOFLEET__TELEMETRY__SYNC_INTERVAL_SECS", "1".to_owned()),
        ("ONTOFLEET__CLASSIFIER__KIND", "openai".to_owned()),
        ("ONTOFLEET__CLASSIFIER__BASE_URL", fake.base_url()),
        ("ONTOFLEET__CLASSIFIER__MODEL", "fake-model".to_owned()),
    ];
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut worker = db.spawn_worker("otel", 4, &env_ref);
    wait_ready(&ops).await;
    let (status, body) = http_get(&ops, "/livez").await.unwrap();
    assert_eq!((status, body.trim()), (200, "ok"));
    // The catch-up lag before any pass: every project not migrated yet.
    let unmigrated = db
        .count("SELECT count(*) FROM projects WHERE status <> 'archived'")
        .await as f64;
    let mut lag = None;
    for _ in 0..50 {
        let (_, page) = http_get(&ops, "/metrics").await.unwrap();
        lag = samples(&page)
            .get("ontofleet_sync_pending_projects")
            .copied();
        if lag.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lag, Some(unmigrated), "pending before the first pass");
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed_with_errors");

    // /metrics: every metric of SPEC §8, and the counts of the ledger.
    tokio::time::sleep(Duration::from_millis(1_500)).await; // one backlog tick after the run
    let (status, page) = http_get(&ops, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    for name in [
        "ontofleet_attempts_total",
        "ontofleet_attempt_duration_seconds_bucket",
        "ontofleet_stage_duration_seconds_bucket",
        "ontofleet_entities_total",
        "ontofleet_classifier_calls_total",
        "ontofleet_classifier_call_duration_seconds_bucket",
        "ontofleet_classifier_breaker_open",
        "ontofleet_worker_inflight_jobs",
        "ontofleet_worker_concurrency",
        "ontofleet_db_pool_connections",
        "ontofleet_backlog_items",
        "ontofleet_backlog_oldest_ready_age_seconds",
        "ontofleet_active_runs",
        "ontofleet_sync_pending_projects",
        "ontofleet_sync_oldest_change_age_seconds",
        "ontofleet_build_info",
    ] {
        assert!(
            page.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} missing from /metrics:\n{page}"
        );
    }
    let got = samples(&page);
    assert_eq!(
        got.get("ontofleet_sync_pending_projects"),
        Some(&0.0),
        "nothing pending after the pass"
    );
    let ledger: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT outcome, error_category, count(*) FROM migration_attempts WHERE run_id = $1 GROUP BY 1, 2",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(!ledger.is_empty());
    for (outcome, category, n) in &ledger {
        let series = format!(
            "ontofleet_attempts_total{{category=\"{}\",outcome=\"{outcome}\"}}",
            category.as_deref().unwrap_or("none")
        );
        assert_eq!(
            got.get(&series).copied(),
            Some(*n as f64),
            "{series}\n{page}"
        );
    }
    let total_attempts: f64 = got
        .iter()
        .filter(|(k, _)| k.starts_with("ontofleet_attempts_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        total_attempts,
        ledger.iter().map(|l| l.2).sum::<i64>() as f64
    );
    let entities: serde_json::Value = serde_json::from_str(
        &db.cli_ok(&["run", "show", &run.to_string(), "--json"])
            .await,
    )
    .unwrap();
    let mut checked = 0;
    for entity in ["project", "document", "plan", "task", "event"] {
        for (action, n) in entities["entities"][entity].as_object().unwrap() {
            let series =
                format!("ontofleet_entities_total{{action=\"{action}\",entity=\"{entity}\"}}");
            assert_eq!(got.get(&series).copied(), n.as_f64(), "{series}");
            checked += 1;
        }
    }
    assert!(checked >= 20);
    let not_written: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT entity_type, status, count(*) FROM migration_log WHERE run_id = $1 \
            AND entity_type IN ('project', 'document', 'plan', 'task', 'event') AND status IN ('failed', 'skipped') GROUP BY 1, 2",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        !not_written.is_empty(),
        "the bad rows skip or fail some entities"
    );
    for (entity, status, n) in &not_written {
        let series = format!("ontofleet_entities_total{{action=\"{status}\",entity=\"{entity}\"}}");
        assert_eq!(got.get(&series).copied(), Some(*n as f64), "{series}");
    }
    assert_eq!(got.get("ontofleet_active_runs"), Some(&0.0));
    assert_eq!(got.get("ontofleet_worker_inflight_jobs"), Some(&0.0));
    assert_eq!(got.get("ontofleet_worker_concurrency"), Some(&4.0));
    let calls = fake.stats.calls.load(std::sync::atomic::Ordering::Relaxed) as f64;
    assert_eq!(
        got.get("ontofleet_classifier_calls_total{classifier=\"openai\",result=\"ok\"}"),
        Some(&calls)
    );

    // SIGTERM: the worker flushes and exits 0; the receiver holds the run's spans and metrics.
    signal(&worker, "TERM");
    let exit = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut jobs: HashMap<Vec<u8>, (String, String)> = HashMap::new();
    let mut stages: Vec<(String, Vec<u8>)> = Vec::new();
    let mut stage_ids = HashSet::new();
    let mut service = HashSet::new();
    for body in sink.bodies("/v1/traces") {
        let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP traces");
        for rs in req.resource_spans {
            if let Some(r) = &rs.resource {
                service.extend(attr(&r.attributes, "service.name"));
            }
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                if span.name == "job" {
                    for key in ["run_id", "project_id", "job_id", "attempt"] {
                        assert!(
                            attr(&span.attributes, key).is_some(),
                            "job span without {key}"
                        );
                    }
                    assert_eq!(attr(&span.attributes, "run_id"), Some(run.to_string()));
                    jobs.insert(
                        span.span_id.clone(),
                        (
                            attr(&span.attributes, "project_id").unwrap(),
                            attr(&span.attributes, "attempt").unwrap(),
                        ),
                    );
                } else if ["load", "classify", "transform", "write", "commit"]
                    .contains(&span.name.as_str())
                {
                    stages.push((span.name.clone(), span.parent_span_id.clone()));
                    stage_ids.insert(span.span_id.clone());
                }
            }
        }
    }
    assert_eq!(service, HashSet::from(["ontofleet-e2e".to_owned()]));
    let attempts: i64 = ledger.iter().map(|l| l.2).sum();
    assert_eq!(jobs.len() as i64, attempts, "one job span per attempt");
    let distinct: HashSet<&(String, String)> = jobs.values().collect();
    assert_eq!(
        distinct.len(),
        jobs.len(),
        "one span per (project, attempt)"
    );
    let names: HashSet<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        HashSet::from(["load", "classify", "transform", "write", "commit"])
    );
    assert!(
        stages
            .iter()
            .all(|(_, parent)| jobs.contains_key(parent) || stage_ids.contains(parent)),
        "every stage span is a child of a job span (or of another stage)"
    );
    assert!(
        stages
            .iter()
            .filter(|(n, p)| n == "commit" && jobs.contains_key(p))
            .count()
            > 0
    );
    let mut metric_names = HashSet::new();
    for body in sink.bodies("/v1/metrics") {
        let req = ExportMetricsServiceRequest::decode(body.as_slice()).expect("OTLP metrics");
        for rm in req.resource_metrics {
            for sm in rm.scope_metrics {
                metric_names.extend(sm.metrics.into_iter().map(|m| m.name));
            }
        }
    }
    for name in [
        "ontofleet.attempts",
        "ontofleet.entities",
        "ontofleet.stage.duration",
        "ontofleet.classifier.calls",
    ] {
        assert!(
            metric_names.contains(name),
            "{name} not exported: {metric_names:?}"
        );
    }
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_when_the_drain_starts_and_a_dead_collector_changes_nothing() {
    let db = prepared(
        "drain",
        &[
            "--users",
            "2",
            "--projects-per-user",
            "2",
            "--tasks-per-project",
            "5",
            "--seed",
            "4",
        ],
    )
    .await;
    // Nothing listens on the collector's port: every export fails.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let ops = format!("127.0.0.1:{}", free_port());
    let mut worker = db.spawn_worker(
        "drain",
        2,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &dead),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("ONTOFLEET__TELEMETRY__LISTEN", &ops),
        ],
    );
    wait_ready(&ops).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    assert_eq!(db.wait_run(run, RUN_TIMEOUT).await, "completed");
    let items: i64 = db
        .count("SELECT count(*) FROM migration_run_items WHERE status = 'succeeded'")
        .await;
    assert_eq!(
        items,
        db.count("SELECT count(*) FROM migration_run_items").await
    );
    signal(&worker, "TERM");
    let exit = tokio::time::timeout(Duration::from_secs(30), worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exit.success(),
        "a dead collector must not fail the worker: {exit:?}"
    );

    // A job held in its transaction while SIGTERM arrives: /readyz says 503 during the drain.
    let second = db.spawn_worker(
        "drain2",
        1,
        &[
            ("ONTOFLEET__TELEMETRY__LISTEN", &ops),
            ("ONTOFLEET__FAULTS__DELAY_MS", "4000"),
            ("ONTOFLEET__TELEMETRY__BACKLOG", "true"),
            ("ONTOFLEET__TELEMETRY__BACKLOG_INTERVAL_SECS", "1"),
        ],
    );
    let mut second = second;
    wait_ready(&ops).await;
    let project: Uuid = sqlx::query_scalar("SELECT id FROM projects ORDER BY id LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let run = run_id(
        &db.cli_ok(&[
            "run",
            "start",
            "--project",
            &project.to_string(),
            "--resync",
        ])
        .await,
    );
    let started = Instant::now();
    while db
        .count("SELECT count(*) FROM migration_run_items WHERE status = 'running'")
        .await
        == 0
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The backlog gauges see the one running item of the one active run.
    let mut backlog = HashMap::new();
    for _ in 0..30 {
        let (_, page) = http_get(&ops, "/metrics").await.unwrap();
        backlog = samples(&page);
        if backlog.get("ontofleet_backlog_items{state=\"running\"}") == Some(&1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        backlog.get("ontofleet_backlog_items{state=\"running\"}"),
        Some(&1.0)
    );
    assert_eq!(
        backlog.get("ontofleet_backlog_items{state=\"queued\"}"),
        Some(&0.0)
    );
    assert_eq!(
        backlog.get("ontofleet_backlog_items{state=\"retrying\"}"),
        Some(&0.0)
    );
    assert_eq!(backlog.get("ontofleet_active_runs"), Some(&1.0));
    assert_eq!(
        backlog.get("ontofleet_backlog_oldest_ready_age_seconds"),
        Some(&0.0)
    );
    signal(&second, "TERM");
    let mut saw_503 = false;
    for _ in 0..40 {
        match http_get(&ops, "/readyz").await {
            Ok((503, body)) => {
                assert_eq!(body.trim(), "draining");
                saw_503 = true;
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(_) => break,
        }
    }
    assert!(saw_503, "/readyz never said 503 during the drain");
    let (live, _) = http_get(&ops, "/livez").await.unwrap();
    assert_eq!(live, 200, "alive while draining");
    let exit = tokio::time::timeout(Duration::from_secs(30), second.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        db.wait_run(run, RUN_TIMEOUT).await,
        "completed",
        "the in-flight job finished"
    );
    db.drop_db().await;
}
