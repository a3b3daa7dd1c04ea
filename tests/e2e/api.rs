//! The admin API, `ontofleet serve` (SPEC §12, issue #17), over real sockets against the real
//! binary: every route × every role from the OpenAPI document, bad input, parity with the CLI's
//! `--json`, CSRF, the retry preview's selection token, the audit, the live stream's shared
//! ticker, the bind refusal and a graceful shutdown.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ontofleet_testkit::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use uuid::Uuid;

use crate::{RUN_TIMEOUT, prepared, run_id};

/// A running `ontofleet serve` on a free loopback port.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Start `serve --addr 127.0.0.1:0` and wait for its listening line.
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut cmd = db.command(&["serve", "--addr", "127.0.0.1:0"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("admin API listening")
                    && let Some(addr) = line.split("addr=").nth(1)
                {
                    return addr.trim().to_owned();
                }
            }
            panic!("serve exited before listening");
        })
        .await
        .expect("serve listens within 30 s");
        // Keep reading its log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            base: format!("http://{addr}"),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("/api/") || path.starts_with("/livez") || path.starts_with("/metrics") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v1{path}", self.base)
        }
    }
}

/// One answer: status, headers, parsed body (`Null` when empty or not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// An HTTP client (plain HTTP; reqwest's rustls needs a crypto provider all the same).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// `METHOD path` with an optional bearer token, JSON body and extra headers.
pub async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let client = http_client();
    let mut req = client.request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// The body is an RFC 9457 problem with this status.
fn assert_problem(a: &Answer, status: u16, what: &str) {
    assert_eq!(a.status.as_u16(), status, "{what}: {}", a.text);
    assert_eq!(
        a.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{what}"
    );
    assert_eq!(a.body["status"], json!(status), "{what}: {}", a.text);
    assert!(
        a.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}"
    );
    assert!(
        !a.text.contains("sqlx") && !a.text.contains("SQLSTATE"),
        "{what}: internals leak: {}",
        a.text
    );
}

/// Tokens of every role, created with the CLI (its secret on stdout).
pub async fn tokens(db: &TestDb) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for role in ["viewer", "operator", "admin"] {
        let secret = db
            .cli_ok(&[
                "token",
                "create",
                "--name",
                &format!("t-{role}"),
                "--role",
                role,
            ])
            .await;
        out.insert(role, secret.trim().to_owned());
    }
    out
}

const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

fn small() -> Vec<&'static str> {
    vec![
        "--users",
        "6",
        "--projects-per-user",
        "3",
        "--tasks-per-project",
        "5",
        "--seed",
        "91",
    ]
}

async fn projects(db: &TestDb) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM projects WHERE status <> 'archived' ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("projects")
}

/// A finished platform run, done by one worker that is then stopped (later runs stay queued).
async fn finished_run(db: &TestDb) -> Uuid {
    let worker = db.spawn_worker("api", 2, &[]);
    db.wait_workers(&["api"], RUN_TIMEOUT).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    db.wait_run(run, RUN_TIMEOUT).await;
    drop(worker);
    run
}

/// The job of the run's first project.
async fn first_job(db: &TestDb, run: Uuid) -> String {
    sqlx::query_scalar(
        "SELECT job_id FROM migration_run_items WHERE run_id = $1 ORDER BY project_id LIMIT 1",
    )
    .bind(run)
    .fetch_one(&db.pool)
    .await
    .expect("a job")
}

/// A pending single-project run (no worker runs) and its job id.
async fn pending_run(db: &TestDb, project: Uuid) -> (Uuid, String) {
    let run = run_id(
        &db.cli_ok(&[
            "run",
            "start",
            "--resync",
            "--project",
            &project.to_string(),
        ])
        .await,
    );
    let jobs: Value = serde_json::from_str(
        &db.cli_ok(&["jobs", "list", "--run", &run.to_string(), "--json"])
            .await,
    )
    .expect("jobs json");
    let job = jobs["jobs"][0]["job_id"]
        .as_str()
        .expect("a job")
        .to_owned();
    (run, job)
}

/// Every operation of the OpenAPI document: (method, path template, operationId, role needed;
/// `None` for the public session routes).
async fn operations(server: &Server) -> Vec<(Method, String, String, Option<String>)> {
    let doc = call(server, Method::GET, "/api/openapi.json", None, None, &[]).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let mut ops = Vec::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let role = op["security"][0]["bearer"][0].as_str().map(str::to_owned);
            ops.push((
                method.to_uppercase().parse().expect("method"),
                path.clone(),
                op["operationId"].as_str().expect("operationId").to_owned(),
                role,
            ));
        }
    }
    ops
}

/// Everything a valid request of each operation needs.
struct Fixture {
    finished: Uuid,
    job: String,
    fresh: std::vec::IntoIter<Uuid>,
    preview: Uuid,
    viewer: String,
}

impl Fixture {
    fn project(&mut self) -> Uuid {
        self.fresh.next().expect("enough projects for the matrix")
    }

    /// A request of `op` that succeeds for a caller with the right role.
    async fn valid(&mut self, db: &TestDb, op: &str) -> (String, Option<Value>) {
        let f = self.finished;
        match op {
            "list_runs" => ("/runs".into(), None),
            "start_run" => (
                "/runs".into(),
                Some(json!({"projects": [self.project()], "dry_run": true, "resync": true})),
            ),
            "preview_run" => (
                "/runs/preview".into(),
                Some(json!({"projects": [self.preview], "limit": 1, "resync": true})),
            ),
            "show_run" => (format!("/runs/{f}"), None),
            "run_events" => (format!("/runs/{f}/events"), None),
            "cancel_run" => {
                let (run, _) = pending_run(db, self.project()).await;
                (format!("/runs/{run}/cancel"), None)
            }
            "pause_run" => {
                let (run, _) = pending_run(db, self.project()).await;
                (
                    format!("/runs/{run}/pause"),
                    Some(json!({"reason": "matrix", "now": true})),
                )
            }
            "resume_run" => {
                let (run, _) = pending_run(db, self.project()).await;
                db.cli_ok(&["run", "pause", &run.to_string()]).await;
                (format!("/runs/{run}/resume"), None)
            }
            "limit_run" => {
                let (run, _) = pending_run(db, self.project()).await;
                (
                    format!("/runs/{run}/limits"),
                    Some(json!({"max_inflight": 2, "max_rate": 5, "for_secs": 60})),
                )
            }
            "governor_status" => ("/governor".into(), None),
            "sync_status" => ("/sync".into(), None),
            "validate_run" => (format!("/runs/{f}/validate"), None),
            "rollback_run" => (
                format!("/runs/{f}/rollback"),
                Some(json!({"confirm": true})),
            ),
            "enqueue_project" => (
                format!("/projects/{}/enqueue", self.project()),
                Some(json!({})),
            ),
            "list_jobs" => ("/jobs?limit=5".into(), None),
            "show_job" => (format!("/jobs/{}", self.job), None),
            "retry_jobs" => ("/jobs/retry".into(), Some(json!({"run": f}))),
            "kill_jobs" => {
                let (_, job) = pending_run(db, self.project()).await;
                ("/jobs/kill".into(), Some(json!({"job_ids": [job]})))
            }
            "purge_jobs" => (
                "/jobs/purge".into(),
                Some(json!({"older_than_secs": 86400})),
            ),
            "lock_status" => ("/lock".into(), None),
            "release_lock" => ("/lock/release".into(), Some(json!({}))),
            "get_stats" => ("/stats".into(), None),
            "user_stats" => ("/stats/users?limit=5".into(), None),
            "refresh_stats" => ("/stats/refresh".into(), None),
            "db_status" => ("/db/status".into(), None),
            "list_audit" => ("/audit?limit=5".into(), None),
            "login" => ("/session".into(), Some(json!({"token": self.viewer}))),
            "logout" => ("/session".into(), None),
            other => panic!("operation {other} has no valid request in the matrix: add one"),
        }
    }
}

/// Every route × every role, from the OpenAPI route list: 401 without a token, 403 for a role
/// too weak, 2xx otherwise; each mutation leaves its audit row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_role() {
    // Enough active projects for a fresh run per mutation and role.
    let mut seed = small();
    seed[1] = "12";
    let db = prepared("api_matrix", &seed).await;
    let tokens = tokens(&db).await;
    let finished = finished_run(&db).await;
    let job = first_job(&db, finished).await;
    let server = Server::start(&db, &[]).await;
    let ops = operations(&server).await;
    let mut ids: Vec<&str> = ops.iter().map(|o| o.2.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "cancel_run",
            "db_status",
            "enqueue_project",
            "get_stats",
            "governor_status",
            "kill_jobs",
            "limit_run",
            "list_audit",
            "list_jobs",
            "list_runs",
            "lock_status",
            "login",
            "logout",
            "pause_run",
            "preview_run",
            "refresh_stats",
            "release_lock",
            "resume_run",
            "retry_jobs",
            "rollback_run",
            "run_events",
            "show_job",
            "show_run",
            "start_run",
            "purge_jobs",
            "sync_status",
            "user_stats",
            "validate_run",
        ]
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "the routes of SPEC §12"
    );
    let all = projects(&db).await;
    let mut fixture = Fixture {
        finished,
        job,
        preview: all[0],
        fresh: all.into_iter(),
        viewer: tokens["viewer"].clone(),
    };
    // The rollback deletes what `finished` wrote: it goes last.
    let mut ordered = ops.clone();
    ordered.sort_by_key(|o| o.2 == "rollback_run");
    for (method, _, op, role) in &ordered {
        let Some(role) = role else {
            assert!(matches!(op.as_str(), "login" | "logout"), "{op} is public");
            let (path, body) = fixture.valid(&db, op).await;
            let a = call(&server, method.clone(), &path, None, body.as_ref(), &[]).await;
            assert!(a.status.is_success(), "{op}: {} {}", a.status, a.text);
            continue;
        };
        let needed = ROLES.iter().position(|r| r == role).expect("a known role");
        let (path, body) = fixture.valid(&db, op).await;
        let a = call(&server, method.clone(), &path, None, body.as_ref(), &[]).await;
        assert_problem(&a, 401, &format!("{op} without a token"));
        let a = call(
            &server,
            method.clone(),
            &path,
            Some("oft_0000"),
            body.as_ref(),
            &[],
        )
        .await;
        assert_problem(&a, 401, &format!("{op} with a wrong token"));
        for (i, r) in ROLES.iter().enumerate() {
            let (path, body) = if i >= needed {
                fixture.valid(&db, op).await
            } else {
                (path.clone(), body.clone())
            };
            let a = call(
                &server,
                method.clone(),
                &path,
                Some(&tokens[r]),
                body.as_ref(),
                &[],
            )
            .await;
            if i < needed {
                assert_problem(&a, 403, &format!("{op} as {r}"));
            } else {
                assert!(
                    a.status.is_success(),
                    "{op} as {r}: {} {}",
                    a.status,
                    a.text
                );
            }
        }
    }
    // One audit row per mutation done above, by the token that did it.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, actor, role FROM admin_audit WHERE role <> 'cli' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("audit");
    let count = |action: &str, role: &str| {
        rows.iter()
            .filter(|r| r.0 == action && r.2 == role && r.1 == format!("t-{role}"))
            .count()
    };
    for (action, roles) in [
        ("run.start", &["operator", "admin"][..]),
        ("run.cancel", &["operator", "admin"]),
        ("run.pause", &["operator", "admin"]),
        ("run.resume", &["operator", "admin"]),
        ("run.limit", &["operator", "admin"]),
        ("project.enqueue", &["operator", "admin"]),
        ("jobs.kill", &["operator", "admin"]),
        ("stats.refresh", &["operator", "admin"]),
        ("jobs.purge", &["admin"]),
        ("lock.release", &["admin"]),
        ("run.rollback", &["admin"]),
        ("session.login", &["viewer"]),
    ] {
        for role in roles {
            assert_eq!(count(action, role), 1, "{action} by {role}: {rows:?}");
        }
    }
    // Previews, validation and reads write none.
    assert!(!rows.iter().any(|r| r.0 == "jobs.retry"), "{rows:?}");
    // Append-only, even for the owner's DML.
    let err = sqlx::query("UPDATE admin_audit SET actor = 'x'")
        .execute(&db.pool)
        .await;
    assert!(err.is_err(), "audit rows cannot be changed");
    let err = sqlx::query("DELETE FROM admin_audit")
        .execute(&db.pool)
        .await;
    assert!(err.is_err(), "audit rows cannot be deleted");
    drop(server);
    db.drop_db().await;
}

/// Every page of a list, following `Link: <…>; rel="next"` from `first`: the `key` of each
/// element of `list`, in order; each page holds at most `size`.
async fn walk(
    server: &Server,
    token: Option<&str>,
    first: &str,
    list: &str,
    key: &str,
    size: usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    loop {
        let a = call(server, Method::GET, &path, token, None, &[]).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        let page = a.body[list].as_array().expect("a list");
        assert!(page.len() <= size, "{path}: {} rows", page.len());
        seen.extend(page.iter().map(|r| r[key].as_str().expect("id").to_owned()));
        let Some(link) = a.headers.get("link").and_then(|v| v.to_str().ok()) else {
            return seen;
        };
        path = link
            .split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .map(|(u, _)| u.trim_start_matches("/api/v1").to_owned())
            .expect("a next link");
    }
}

/// Bad input gets a problem: 400 for malformed ids, bodies and queries, 404 for unknown ids, 413
/// for a huge body; keyset pages follow their `Link` header without gaps or repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_pagination() {
    let db = prepared("api_bad", &small()).await;
    let tokens = tokens(&db).await;
    let finished = finished_run(&db).await;
    let server = Server::start(&db, &[]).await;
    let admin = Some(tokens["admin"].as_str());
    let unknown = Uuid::new_v4();
    let cases: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, "/runs/not-a-uuid".into(), None, 400),
        (Method::GET, format!("/runs/{unknown}"), None, 404),
        (Method::GET, format!("/runs/{unknown}/events"), None, 404),
        (Method::GET, "/runs?limit=0".into(), None, 400),
        (Method::GET, "/runs?after=garbage".into(), None, 400),
        (Method::GET, "/runs?bogus=1".into(), None, 400),
        (Method::GET, "/jobs?status=bogus".into(), None, 400),
        (Method::GET, "/jobs?category=nope".into(), None, 400),
        (Method::GET, "/jobs/not-a-job".into(), None, 400),
        (
            Method::GET,
            "/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV".into(),
            None,
            404,
        ),
        (Method::GET, "/audit?limit=501".into(), None, 400),
        (Method::POST, "/runs".into(), Some(json!({})), 400),
        (
            Method::POST,
            "/runs".into(),
            Some(json!({"all": true, "user": unknown})),
            400,
        ),
        (
            Method::POST,
            "/runs".into(),
            Some(json!({"projects": [unknown]})),
            404,
        ),
        (
            Method::POST,
            "/runs".into(),
            Some(json!({"all": true, "color": "red"})),
            400,
        ),
        (
            Method::POST,
            "/runs".into(),
            Some(json!({"all": "yes"})),
            400,
        ),
        (
            Method::POST,
            "/runs/preview".into(),
            Some(json!({"all": true, "limit": 0})),
            400,
        ),
        (Method::POST, format!("/runs/{unknown}/cancel"), None, 404),
        (Method::POST, format!("/runs/{finished}/cancel"), None, 409),
        (Method::POST, format!("/runs/{unknown}/validate"), None, 404),
        (
            Method::POST,
            format!("/runs/{finished}/rollback"),
            Some(json!({"confirm": false})),
            400,
        ),
        (
            Method::POST,
            format!("/runs/{unknown}/rollback"),
            Some(json!({"confirm": true})),
            404,
        ),
        (
            Method::POST,
            format!("/projects/{unknown}/enqueue"),
            Some(json!({})),
            404,
        ),
        (
            Method::POST,
            "/jobs/retry".into(),
            Some(json!({"run": unknown})),
            404,
        ),
        (
            Method::POST,
            "/jobs/retry".into(),
            Some(json!({"job_ids": ["x"]})),
            400,
        ),
        (Method::POST, "/jobs/retry".into(), Some(json!({})), 400),
        (
            Method::POST,
            "/jobs/retry".into(),
            Some(json!({"run": finished, "selection_token": "forged"})),
            400,
        ),
        (
            Method::POST,
            "/jobs/kill".into(),
            Some(json!({"job_ids": []})),
            400,
        ),
        (
            Method::POST,
            "/jobs/kill".into(),
            Some(json!({"job_ids": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]})),
            404,
        ),
        (
            Method::POST,
            "/jobs/purge".into(),
            Some(json!({"older_than_secs": 1})),
            400,
        ),
        (Method::GET, "/nowhere".into(), None, 404),
    ];
    for (method, path, body, status) in &cases {
        let a = call(&server, method.clone(), path, admin, body.as_ref(), &[]).await;
        assert_problem(&a, *status, &format!("{method} {path} {body:?}"));
    }
    // A body over the limit.
    let huge = json!({"all": true, "projects": vec!["x".repeat(1000); 400]});
    let a = call(&server, Method::POST, "/runs", admin, Some(&huge), &[]).await;
    assert_problem(&a, 413, "huge body");
    // Nothing above changed anything.
    assert_eq!(db.count("SELECT count(*) FROM migration_runs").await, 1);

    // Pages of 4 runs: start 9 more (dry runs of one project each; none runs).
    for p in projects(&db).await.iter().take(9) {
        db.cli_ok(&[
            "run",
            "start",
            "--dry-run",
            "--resync",
            "--project",
            &p.to_string(),
        ])
        .await;
    }
    let seen = walk(&server, admin, "/runs?limit=4", "runs", "run_id", 4).await;
    let all: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM migration_runs ORDER BY created_at DESC, id")
            .fetch_all(&db.pool)
            .await
            .expect("runs");
    assert_eq!(seen, all, "pages cover every run once, in order");
    // Jobs the same way (10 items in `finished` and one per dry run).
    let jobs = walk(&server, admin, "/jobs?limit=7", "jobs", "job_id", 7).await;
    let items = db
        .count("SELECT count(*) FROM migration_run_items WHERE job_id IS NOT NULL")
        .await;
    let mut unique = jobs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (jobs.len() as i64, unique.len()),
        (items, jobs.len()),
        "every job once"
    );
    drop(server);
    db.drop_db().await;
}

/// For the same data, each API body equals the CLI's `--json` document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_equal_the_cli_json() {
    let db = prepared("api_parity", &small()).await;
    let tokens = tokens(&db).await;
    let run = finished_run(&db).await;
    let server = Server::start(&db, &[]).await;
    let op = Some(tokens["operator"].as_str());
    let job = first_job(&db, run).await;
    let r = run.to_string();
    let pairs: Vec<(Method, String, Vec<&str>)> = vec![
        (Method::GET, format!("/runs/{r}"), vec!["run", "show", &r]),
        (
            Method::GET,
            "/runs?limit=20".into(),
            vec!["run", "list", "--limit", "20"],
        ),
        (
            Method::GET,
            format!("/jobs?run={r}&limit=50"),
            vec!["jobs", "list", "--run", &r, "--limit", "50"],
        ),
        (
            Method::GET,
            format!("/jobs/{job}"),
            vec!["jobs", "show", &job],
        ),
        (Method::GET, "/lock".into(), vec!["lock", "status"]),
        (Method::GET, "/db/status".into(), vec!["db", "status"]),
        (Method::GET, "/stats".into(), vec!["stats"]),
        (
            Method::GET,
            "/stats/users?limit=50".into(),
            vec!["stats", "--users", "--limit", "50"],
        ),
        (
            Method::POST,
            format!("/runs/{r}/validate"),
            vec!["run", "validate", &r],
        ),
    ];
    for (method, path, args) in pairs {
        let api = call(&server, method.clone(), &path, op, None, &[]).await;
        assert_eq!(api.status, 200, "{path}: {}", api.text);
        let mut cli_args = args.clone();
        cli_args.push("--json");
        let out = db.cli(&cli_args).await;
        let cli: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(api.body, cli, "{method} {path} vs ontofleet {args:?}");
    }
    // The catch-up lag: the same document but for when it was measured.
    let mut api = call(&server, Method::GET, "/sync", op, None, &[])
        .await
        .body;
    let mut cli: Value =
        serde_json::from_str(&db.cli_ok(&["sync", "status", "--json"]).await).expect("JSON");
    for doc in [&mut api, &mut cli] {
        doc.as_object_mut().expect("an object").remove("checked_at");
    }
    assert_eq!(api, cli, "GET /sync vs ontofleet sync status");
    // Viewers get e-mails masked; the CLI and operators see them.
    let viewer = call(
        &server,
        Method::GET,
        "/stats/users?limit=50",
        Some(&tokens["viewer"]),
        None,
        &[],
    )
    .await;
    let users = viewer.body["users"].as_array().expect("users");
    assert!(!users.is_empty());
    for u in users {
        let email = u["email"].as_str().expect("email");
        assert!(email.contains("***@"), "masked: {email}");
    }
    drop(server);
    db.drop_db().await;
}

/// Browser login, the cookie's attributes, CSRF on every cookie mutation, logout and revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_and_csrf() {
    let db = prepared("api_csrf", &small()).await;
    let tokens = tokens(&db).await;
    let server = Server::start(&db, &[]).await;
    let host = server.base.trim_start_matches("http://").to_owned();
    let origin = server.base.clone();
    // A cross-site page cannot log the browser in.
    let body = json!({"token": tokens["operator"]});
    let a = call(
        &server,
        Method::POST,
        "/session",
        None,
        Some(&body),
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_problem(&a, 403, "cross-site login");
    let a = call(
        &server,
        Method::POST,
        "/session",
        None,
        Some(&json!({"token": "oft_nope"})),
        &[],
    )
    .await;
    assert_problem(&a, 401, "login with a bad token");
    let a = call(
        &server,
        Method::POST,
        "/session",
        None,
        Some(&body),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.body, json!({"name": "t-operator", "role": "operator"}));
    let set = a
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_owned();
    for attr in [
        "__Host-ontofleet_session=ofs_",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Domain"), "{set}");
    let cookie = set.split(';').next().expect("pair").to_owned();
    let with = |extra: &[(&'static str, String)]| {
        let mut h: Vec<(&'static str, String)> = vec![("cookie", cookie.clone())];
        h.extend_from_slice(extra);
        h
    };
    let send = |h: Vec<(&'static str, String)>, method: Method, path: &'static str| {
        let server = &server;
        async move {
            let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(server, method, path, None, None, &refs).await
        }
    };
    // Reads with the cookie work from anywhere.
    let a = send(
        with(&[("sec-fetch-site", "cross-site".into())]),
        Method::GET,
        "/lock",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    // Mutations: same-origin accepted, cross-site refused (by Sec-Fetch-Site, or by Origin when
    // the browser sends no Sec-Fetch-Site).
    let a = send(
        with(&[("sec-fetch-site", "same-origin".into())]),
        Method::POST,
        "/stats/refresh",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = send(
        with(&[("origin", origin.clone()), ("host", host.clone())]),
        Method::POST,
        "/stats/refresh",
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    for bad in [
        vec![("sec-fetch-site", "cross-site".to_owned())],
        vec![("sec-fetch-site", "same-site".to_owned())],
        vec![("origin", "http://evil.example".to_owned())],
    ] {
        let a = send(with(&bad), Method::POST, "/stats/refresh").await;
        assert_problem(&a, 403, &format!("cross-site mutation {bad:?}"));
    }
    // A cross-site HTML form post (urlencoded, cookie attached by the browser).
    let client = http_client();
    let resp = client
        .post(server.url(&format!("/runs/{}/cancel", Uuid::new_v4())))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x=1")
        .send()
        .await
        .expect("form post");
    assert_eq!(resp.status(), 403);
    // Scripts with a bearer token and no cookie are not subject to it.
    let a = call(
        &server,
        Method::POST,
        "/stats/refresh",
        Some(&tokens["operator"]),
        None,
        &[("sec-fetch-site", "cross-site")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let refreshes = db
        .count("SELECT count(*) FROM admin_audit WHERE action = 'stats.refresh'")
        .await;
    assert_eq!(
        refreshes, 3,
        "only the accepted mutations were done and audited"
    );
    // Logout ends the session.
    let a = send(
        with(&[("sec-fetch-site", "same-origin".into())]),
        Method::DELETE,
        "/session",
    )
    .await;
    assert_eq!(a.status, 204);
    let a = send(with(&[]), Method::GET, "/lock").await;
    assert_problem(&a, 401, "after logout");
    // Revoking a token ends its sessions and its bearer use at once.
    let a = call(
        &server,
        Method::POST,
        "/session",
        None,
        Some(&json!({"token": tokens["viewer"]})),
        &[],
    )
    .await;
    let cookie2 = a.headers["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    db.cli_ok(&["token", "revoke", "t-viewer"]).await;
    let a = call(
        &server,
        Method::GET,
        "/lock",
        None,
        None,
        &[("cookie", &cookie2)],
    )
    .await;
    assert_problem(&a, 401, "session of a revoked token");
    let a = call(
        &server,
        Method::GET,
        "/lock",
        Some(&tokens["viewer"]),
        None,
        &[],
    )
    .await;
    assert_problem(&a, 401, "revoked token");
    // An expired token is refused too.
    let short = db
        .cli_ok(&[
            "token",
            "create",
            "--name",
            "short",
            "--role",
            "viewer",
            "--expires-in",
            "1s",
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = call(&server, Method::GET, "/lock", Some(short.trim()), None, &[]).await;
    assert_problem(&a, 401, "expired token");
    // Tokens are stored hashed: no secret is in the table.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_sha256 FROM admin_tokens")
        .fetch_all(&db.pool)
        .await
        .expect("hashes");
    for secret in tokens.values() {
        assert!(stored.iter().all(|h| h.len() == 32 && !secret.as_bytes().windows(32).any(|w| w == h.as_slice())));
    }
    let dump = db.cli_ok(&["token", "list", "--json"]).await;
    for secret in tokens.values() {
        assert!(!dump.contains(secret.as_str()), "no secret in token list");
    }
    drop(server);
    db.drop_db().await;
}

/// Retry by category in two steps: the preview's token executes exactly the previewed jobs, and
/// is refused (nothing retried) once the selection changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_runs_exactly_the_previewed_selection() {
    let db = prepared("api_retry", &small()).await;
    let tokens = tokens(&db).await;
    let op = Some(tokens["operator"].as_str());
    // Every project fails as `data`, so the run ends with every item failed.
    let worker = db.spawn_worker(
        "retry",
        2,
        &[
            ("ONTOFLEET__FAULTS__FAIL_PROJECT", "*"),
            ("ONTOFLEET__FAULTS__FAIL_KIND", "data"),
            ("ONTOFLEET__FAULTS__FAIL_ATTEMPTS", "1000"),
        ],
    );
    db.wait_workers(&["retry"], RUN_TIMEOUT).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    db.wait_run(run, RUN_TIMEOUT).await;
    drop(worker);
    let failed = db
        .count("SELECT count(*) FROM migration_run_items WHERE status = 'failed' AND error_category = 'data'")
        .await;
    assert!(failed >= 3, "{failed} failed items");
    let server = Server::start(&db, &[]).await;
    let filter = json!({"run": run, "category": "data"});
    let preview = call(&server, Method::POST, "/jobs/retry", op, Some(&filter), &[]).await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert_eq!(preview.body["count"], json!(failed));
    assert_eq!(
        preview.body["sample"].as_array().map(Vec::len),
        Some((failed as usize).min(10))
    );
    let token = preview.body["selection_token"]
        .as_str()
        .expect("token")
        .to_owned();
    // The preview changed nothing and wrote no audit row.
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE status = 'failed'")
            .await,
        failed
    );
    assert_eq!(
        db.count("SELECT count(*) FROM admin_audit WHERE action = 'jobs.retry'")
            .await,
        0
    );
    // Someone retries one of those jobs meanwhile: the selection changed.
    let one = preview.body["sample"][0]["job_id"]
        .as_str()
        .expect("job")
        .to_owned();
    db.cli_ok(&["jobs", "retry", &one]).await;
    let mut execute = filter.clone();
    execute["selection_token"] = json!(token);
    let refused = call(
        &server,
        Method::POST,
        "/jobs/retry",
        op,
        Some(&execute),
        &[],
    )
    .await;
    assert_problem(&refused, 409, "changed selection");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("preview it again")
    );
    assert_eq!(
        db.count("SELECT count(*) FROM migration_run_items WHERE status = 'failed'")
            .await,
        failed - 1,
        "nothing more was retried"
    );
    // A fresh preview, executed: exactly that selection is retried, audited with the request id.
    let preview = call(&server, Method::POST, "/jobs/retry", op, Some(&filter), &[]).await;
    assert_eq!(preview.body["count"], json!(failed - 1));
    execute["selection_token"] = preview.body["selection_token"].clone();
    let done = call(
        &server,
        Method::POST,
        "/jobs/retry",
        op,
        Some(&execute),
        &[("x-request-id", "req-retry-1")],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["retried"], json!(failed - 1));
    assert_eq!(done.headers["x-request-id"], "req-retry-1");
    let audit: (String, String, Option<i64>, Option<String>, Value) = sqlx::query_as(
        "SELECT actor, role, affected, request_id, filter FROM admin_audit WHERE action = 'jobs.retry' AND role <> 'cli'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("one audit row");
    assert_eq!(
        (
            audit.0.as_str(),
            audit.1.as_str(),
            audit.2,
            audit.3.as_deref()
        ),
        (
            "t-operator",
            "operator",
            Some(failed - 1),
            Some("req-retry-1")
        )
    );
    assert_eq!(audit.4["category"], "data");
    // The same token again: the selection is now empty, so it is refused.
    let again = call(
        &server,
        Method::POST,
        "/jobs/retry",
        op,
        Some(&execute),
        &[],
    )
    .await;
    assert_problem(&again, 409, "token reused");
    // The audit log lists it, newest first.
    let log = call(&server, Method::GET, "/audit?limit=1", op, None, &[]).await;
    assert_eq!(log.body["entries"][0]["action"], "jobs.retry");
    assert!(
        log.headers.get("link").is_some(),
        "older rows on the next page"
    );
    drop(server);
    db.drop_db().await;
}

/// Live progress: a stream per client, one shared ticker per run (20 clients cost the database
/// what one does), the run's completion ends every stream; SIGTERM ends open streams and the
/// server exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_share_one_ticker() {
    let db = prepared("api_sse", &small()).await;
    let tokens = tokens(&db).await;
    let viewer = tokens["viewer"].clone();
    let server = Server::start(&db, &[("ONTOFLEET__API__EVENTS_INTERVAL_MS", "200")]).await;
    let run = run_id(&db.cli_ok(&["run", "start", "--all"]).await);
    let reads = || async {
        let m = call(&server, Method::GET, "/metrics", None, None, &[]).await;
        m.text
            .lines()
            .find(|l| l.starts_with("ontofleet_api_live_reads_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let open = |n: usize| {
        let (base, viewer) = (server.base.clone(), viewer.clone());
        (0..n)
            .map(|_| {
                let (base, viewer) = (base.clone(), viewer.clone());
                tokio::spawn(async move {
                    let mut resp = http_client()
                        .get(format!("{base}/api/v1/runs/{run}/events"))
                        .bearer_auth(&viewer)
                        .send()
                        .await
                        .expect("stream");
                    assert_eq!(resp.status(), 200);
                    let mut text = String::new();
                    while let Ok(Some(chunk)) = resp.chunk().await {
                        text.push_str(&String::from_utf8_lossy(&chunk));
                    }
                    text
                })
            })
            .collect::<Vec<_>>()
    };
    let window = Duration::from_secs(3);
    // One client for 3 s, then 20 for 3 s (the run cannot progress: no worker).
    let one = open(1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r0 = reads().await;
    tokio::time::sleep(window).await;
    let d1 = reads().await - r0;
    let twenty = open(20);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r1 = reads().await;
    tokio::time::sleep(window).await;
    let d20 = reads().await - r1;
    assert!(d1 >= 5.0, "the ticker reads every 200 ms: {d1}");
    assert!(
        d20 <= d1 + 3.0,
        "21 clients cost {d20} reads in 3 s, one client {d1}"
    );
    // A worker finishes the run: every stream gets the final state and ends.
    let worker = db.spawn_worker("sse", 2, &[]);
    db.wait_run(run, RUN_TIMEOUT).await;
    for stream in one.into_iter().chain(twenty) {
        let text = tokio::time::timeout(Duration::from_secs(30), stream)
            .await
            .expect("the stream ends after the run")
            .expect("task");
        let last = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("progress events");
        let last: Value = serde_json::from_str(last).expect("json");
        assert_eq!(last["finished"], json!(true));
        assert_eq!(last["run"]["run_id"], json!(run));
        assert_eq!(last["run"]["status"], "completed");
    }
    drop(worker);
    // SIGTERM with a stream open on a running run: the stream ends and serve exits 0 promptly.
    let pending = run_id(
        &db.cli_ok(&[
            "run",
            "start",
            "--project",
            &projects(&db).await[0].to_string(),
            "--resync",
        ])
        .await,
    );
    let mut resp = http_client()
        .get(format!("{}/api/v1/runs/{pending}/events", server.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("stream");
    assert!(resp.chunk().await.expect("first event").is_some());
    let mut server = server;
    ontofleet_testkit::signal(&server.child, "TERM");
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("serve exits within 10 s of SIGTERM")
        .expect("status");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    while let Ok(Some(_)) = resp.chunk().await {}
    db.drop_db().await;
}

/// `serve` refuses a non-loopback address while no token exists, with one line and exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_bind_needs_a_token() {
    let db = prepared("api_bind", &["--users", "1", "--projects-per-user", "1"]).await;
    let out = db.cli(&["serve", "--addr", "0.0.0.0:0"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("error line");
    assert!(
        line.contains("not a loopback address") && line.contains("ontofleet token create"),
        "{line}"
    );
    let out = db.cli(&["serve", "--addr", "nonsense"]).await;
    assert_eq!(out.status.code(), Some(2));
    let out = db
        .cli(&["token", "create", "--name", "bad name", "--role", "viewer"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    let out = db
        .cli(&["token", "create", "--name", "x", "--role", "root"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    db.cli_ok(&["token", "create", "--name", "x", "--role", "viewer"])
        .await;
    let out = db
        .cli(&["token", "create", "--name", "x", "--role", "viewer"])
        .await;
    assert_eq!(out.status.code(), Some(2), "a live name is taken");
    let out = db.cli(&["token", "revoke", "nobody"]).await;
    assert_eq!(out.status.code(), Some(2));
    db.drop_db().await;
}
