//! What `deploy/` promises, against real processes (SPEC §11): the KEDA trigger's query, read
//! out of the rendered manifests, counts the unfinished items of the active runs through a run;
//! and the fleet, with this test playing KEDA + HPA, follows the backlog up and back to 0 with
//! nothing lost or duplicated, a worker SIGKILLed on the way.

use std::path::Path;
use std::time::{Duration, Instant};

use ontofleet_testkit::{TestDb, signal};
use tokio::process::Child;
use uuid::Uuid;

use crate::expect::{assert_target, expected};
use crate::{RUN_TIMEOUT, prepared, run_id};

/// `kubectl kustomize OVERLAY` (paths from the repository's root), or, where kubectl is
/// missing, the source files it would render from, joined.
fn render(overlay: &str, sources: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(root.join(overlay))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|| {
            sources
                .iter()
                .map(|f| std::fs::read_to_string(root.join(f)).expect(f))
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// The KEDA trigger's query and target, from `kubectl kustomize deploy/overlays/dev` (or, where
/// kubectl is missing, from the component file it renders).
fn trigger() -> (String, f64) {
    let yaml = render(
        "deploy/overlays/dev",
        &["deploy/components/keda/scaledobject.yaml"],
    );
    // The value is a folded block (`>-`) in the source and a plain multi-line scalar once
    // rendered: either way, its lines are those indented below the key, joined by spaces.
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("query:"))
        .expect("a `query:` in the ScaledObject");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_indent = indent(lines[start]);
    let first = lines[start].trim_start()["query:".len()..].trim();
    let mut query: Vec<&str> = Vec::new();
    if !first.is_empty() && first != ">-" && first != ">" {
        query.push(first);
    }
    query.extend(
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim().is_empty() && indent(l) > key_indent)
            .map(|l| l.trim()),
    );
    let target = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("targetQueryValue:"))
        .map(|v| v.trim().trim_matches('"').parse().expect("numeric target"))
        .expect("targetQueryValue");
    (query.join(" "), target)
}

/// The trigger query alone (the roles test runs it as the autoscaler).
pub(crate) fn trigger_query() -> String {
    trigger().0
}

/// The trigger's value and the unfinished items of the active runs, in one snapshot.
async fn sample(db: &TestDb, query: &str) -> (f64, i64) {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT ({query}), (SELECT count(*) FROM migration_run_items i JOIN migration_runs r ON r.id = i.run_id \
                             WHERE r.status IN ('pending', 'running', 'cancelling') \
                               AND i.status NOT IN ('succeeded', 'partial', 'failed', 'skipped', 'cancelled'))"
    )))
    .fetch_one(&db.pool)
    .await
    .expect("trigger query")
}

/// The trigger query speaks the vocabulary of `ontofleet-core` and `ontofleet-control`: the runs
/// it reads are the active ones, and an unfinished item is what the run counters say it is.
#[test]
fn the_trigger_query_speaks_the_run_vocabulary() {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let query = squash(&trigger().0);
    let active = format!(
        "status IN ({})",
        ontofleet_core::sql_list(ontofleet_core::RunStatus::ACTIVE)
    );
    assert!(query.contains(&active), "{query} lacks `{active}`");
    let unfinished = squash(ontofleet_control::stats::UNFINISHED_ITEMS);
    assert!(
        query.contains(&unfinished),
        "{query} does not count unfinished items as `{unfinished}`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trigger_query_counts_what_is_left_through_a_run() {
    let (query, target) = trigger();
    assert_eq!(
        target, 8.0,
        "targetQueryValue = the per-pod concurrency of the ConfigMap"
    );
    let db = prepared(
        "trigger",
        &[
            "--users",
            "4",
            "--projects-per-user",
            "4",
            "--tasks-per-project",
            "4",
            "--seed",
            "2",
        ],
    )
    .await;
    assert_eq!(sample(&db, &query).await, (0.0, 0), "no run, no backlog");
    let _w = db.spawn_worker("trig", 2, &[("ONTOFLEET__FAULTS__DELAY_MS", "300")]);
    db.wait_workers(&["trig"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let mut seen = Vec::new();
    let started = Instant::now();
    loop {
        let (value, unfinished) = sample(&db, &query).await;
        assert_eq!(value, unfinished as f64, "at {:?}", started.elapsed());
        seen.push(unfinished);
        let status: String = sqlx::query_scalar("SELECT status FROM migration_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if status == "completed" {
            break;
        }
        assert!(started.elapsed() < RUN_TIMEOUT);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sample(&db, &query).await, (0.0, 0), "0 after completion");
    assert!(
        seen.iter().any(|n| *n >= 8),
        "sampled while the backlog was high: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[1] <= w[0]),
        "never grows within one run: {seen:?}"
    );
    db.drop_db().await;
}

struct Replica {
    name: String,
    child: Child,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_follows_the_backlog_up_and_back_to_zero() {
    let (query, _) = trigger();
    // Each simulated pod runs 2 jobs at once, so the target is 2 here.
    let (target, min_replicas, max_replicas) = (2.0_f64, 0_usize, 4_usize);
    let db = prepared(
        "fleet",
        &[
            "--users",
            "8",
            "--projects-per-user",
            "5",
            "--tasks-per-project",
            "4",
            "--seed",
            "6",
        ],
    )
    .await;
    let want = expected(&db).await;
    let env = [
        ("ONTOFLEET__FAULTS__DELAY_MS", "1500"),
        ("ONTOFLEET__WORKER__HEARTBEAT_SECS", "1"),
        ("ONTOFLEET__WORKER__MISSED_HEARTBEATS", "3"),
    ];
    let mut serial = 0;
    let mut spawn = |db: &TestDb| {
        serial += 1;
        let name = format!("pod{serial}");
        Replica {
            child: db.spawn_worker(&name, 2, &env),
            name,
        }
    };
    // Scale out from 1.
    let mut replicas = vec![spawn(&db)];
    db.wait_workers(&["pod1"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let started = Instant::now();
    let mut timeline: Vec<(f64, f64, usize)> = Vec::new();
    let mut drained: Vec<Replica> = Vec::new();
    let mut victim: Option<(Vec<String>, Vec<Uuid>)> = None;
    let mut peak = 1;
    loop {
        let (value, _) = sample(&db, &query).await;
        let desired = ((value / target).ceil() as usize).clamp(min_replicas, max_replicas);
        // A crash on the way: once the fleet is big, the oldest pod is SIGKILLed. It is stopped
        // first, so what it holds is read while it can change nothing.
        if victim.is_none() && replicas.len() >= 3 {
            let pod = replicas.remove(0);
            signal(&pod.child, "STOP");
            let held: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM apalis.jobs WHERE lock_by LIKE $1 AND status IN ('Queued', 'Running')",
            )
            .bind(format!("{}-%", pod.name))
            .fetch_all(&db.pool)
            .await
            .unwrap();
            let running: Vec<Uuid> = sqlx::query_scalar(
                "SELECT project_id FROM migration_run_items WHERE run_id = $1 AND status = 'running' AND worker LIKE $2",
            )
            .bind(run)
            .bind(format!("{}-%", pod.name))
            .fetch_all(&db.pool)
            .await
            .unwrap();
            signal(&pod.child, "KILL");
            println!(
                "t={:5.1}s SIGKILL {} holding {} job(s), {} running",
                started.elapsed().as_secs_f64(),
                pod.name,
                held.len(),
                running.len()
            );
            victim = Some((held, running));
        }
        while replicas.len() < desired {
            replicas.push(spawn(&db));
        }
        while replicas.len() > desired {
            // Scale in: the newest pod gets SIGTERM and drains.
            let pod = replicas.pop().unwrap();
            signal(&pod.child, "TERM");
            drained.push(pod);
        }
        peak = peak.max(replicas.len());
        timeline.push((started.elapsed().as_secs_f64(), value, replicas.len()));
        println!(
            "t={:5.1}s backlog {value:>3} replicas {}",
            started.elapsed().as_secs_f64(),
            replicas.len()
        );
        if value == 0.0 && replicas.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "the fleet never finished: {timeline:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let status: String = sqlx::query_scalar("SELECT status FROM migration_runs WHERE id = $1")
        .bind(run)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    for pod in &mut drained {
        let exit = tokio::time::timeout(Duration::from_secs(30), pod.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} still running 30 s after SIGTERM", pod.name))
            .unwrap();
        assert_eq!(exit.code(), Some(0), "{} drained and exited 0", pod.name);
    }
    assert!(
        peak >= 3,
        "the fleet scaled out with the backlog: {timeline:?}"
    );
    assert!(
        drained.len() >= peak - 1,
        "and back in to 0 by SIGTERM: {timeline:?}"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status IN ('Running', 'Queued')")
            .await,
        0
    );
    assert_target(&db, &want).await;
    let row = crate::chaos::measure(&db, run, "fleet", 0.0).await;
    assert_eq!((row.lost, row.duplicated), (0, 0));
    // Drained pods gave their unstarted jobs back without using an attempt: only the jobs the
    // killed pod held were claimed twice, and only the items it was running ran twice.
    let (held, running) = victim.expect("a pod was killed");
    let twice: Vec<String> =
        sqlx::query_scalar("SELECT id FROM apalis.jobs WHERE attempts <> 1 ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(
        twice.iter().all(|id| held.contains(id)),
        "claimed twice: {twice:?}, held by the killed pod: {held:?}"
    );
    let rerun: Vec<Uuid> = sqlx::query_scalar(
        "SELECT project_id FROM migration_run_items WHERE run_id = $1 AND attempts <> 1",
    )
    .bind(run)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        rerun.iter().all(|p| running.contains(p)),
        "ran twice: {rerun:?}, running on the killed pod: {running:?}"
    );
    println!("timeline (s, backlog, replicas): {timeline:?}");
    db.drop_db().await;
}

/// The worker configuration the manifests ship — the ConfigMap's `ontofleet.toml` — and the
/// worker pod's `terminationGracePeriodSeconds`, from `kubectl kustomize deploy/overlays/prod`
/// (or, where kubectl is missing, the base files it renders).
fn shipped_worker_config() -> (String, u64) {
    let yaml = render(
        "deploy/overlays/prod",
        &[
            "deploy/base/configmap.yaml",
            "deploy/base/worker-deployment.yaml",
        ],
    );
    let lines: Vec<&str> = yaml.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("ontofleet.toml: |"))
        .expect("the ConfigMap's ontofleet.toml");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key = indent(lines[start]);
    let body: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > key)
        .copied()
        .collect();
    let strip = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent(l))
        .min()
        .unwrap_or(0);
    let toml = body
        .iter()
        .map(|l| l.get(strip..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    // The worker Deployment's (serve has its own).
    let grace = yaml
        .split("\n---")
        .find(|doc| {
            doc.contains("kind: Deployment")
                && doc.lines().any(|l| {
                    l.trim()
                        .strip_prefix("name:")
                        .is_some_and(|n| n.trim().ends_with("ontofleet-worker"))
                })
        })
        .and_then(|doc| {
            doc.lines()
                .find_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds:"))
        })
        .map(|v| v.trim().parse().expect("numeric grace"))
        .expect("the worker Deployment's terminationGracePeriodSeconds");
    (toml, grace)
}

/// HPA scale-in picks a pod in the middle of a 40 s project. With the configuration the
/// manifests ship, the pod drains: the project finishes within the grace, the pod exits 0
/// before Kubernetes would SIGKILL it, and the project ran once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_in_lets_a_long_project_finish() {
    let (toml, termination) = shipped_worker_config();
    let db = prepared(
        "scalein",
        &[
            "--users",
            "1",
            "--projects-per-user",
            "1",
            "--tasks-per-project",
            "4",
            "--seed",
            "30",
        ],
    )
    .await;
    let want = expected(&db).await;
    let config = std::env::temp_dir().join(format!("{}-ontofleet.toml", db.name));
    std::fs::write(&config, toml).expect("config file");
    let log = std::fs::File::create(db.worker_log("scalein")).expect("log");
    let mut pod = db
        .command(&[
            "--config",
            config.to_str().expect("utf-8 path"),
            "worker",
            "--name",
            "scalein",
        ])
        // One host for every simulated pod: no ops port; the rest is the shipped configuration.
        .env("ONTOFLEET__TELEMETRY__LISTEN", "")
        .env("ONTOFLEET__FAULTS__DELAY_MS", "40000")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the pod");
    db.wait_workers(&["scalein"], Duration::from_secs(30)).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    db.wait_until(
        "SELECT count(*) FROM migration_run_items WHERE status = 'running'",
        RUN_TIMEOUT,
        "the project never started",
    )
    .await;
    signal(&pod, "TERM");
    let termed = Instant::now();
    let exit = tokio::time::timeout(Duration::from_secs(termination), pod.wait())
        .await
        .unwrap_or_else(|_| {
            panic!("the pod outlived terminationGracePeriodSeconds ({termination} s): SIGKILLed")
        })
        .expect("wait");
    println!(
        "scale-in: pod exited {exit} {:.1} s after SIGTERM (grace {termination} s)",
        termed.elapsed().as_secs_f64()
    );
    assert_eq!(exit.code(), Some(0));
    assert_eq!(
        db.wait_run(run, Duration::from_secs(5)).await,
        "completed",
        "the drained pod finished the project itself"
    );
    let (attempts, recorded): (i32, i64) = sqlx::query_as(
        "SELECT i.attempts, (SELECT count(*) FROM migration_attempts a WHERE a.run_id = i.run_id) \
           FROM migration_run_items i WHERE i.run_id = $1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((attempts, recorded), (1, 1), "one attempt");
    assert_target(&db, &want).await;
    let _ = std::fs::remove_file(&config);
    db.drop_db().await;
}
