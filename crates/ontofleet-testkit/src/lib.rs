//! Test helpers: a fresh PostgreSQL database per test, the `ontofleet` binary as a subprocess,
//! worker processes that can be SIGKILLed, and waiting on run states. Dev-only.

pub mod cluster;
pub mod fake_llm;
pub mod sink;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::process::{Child, Command};
use uuid::Uuid;

/// The server tests create their databases on: `ONTOFLEET_TEST_DATABASE_URL` (an admin URL,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`), else the local trust-auth server.
pub fn admin_url() -> String {
    std::env::var("ONTOFLEET_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_with_db(admin: &str, db: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

/// A fresh database, dropped by [`TestDb::drop_db`].
pub struct TestDb {
    /// Database name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A pool on it.
    pub pool: PgPool,
}

impl TestDb {
    /// Create `oftest_<prefix>_<random>`.
    pub async fn new(prefix: &str) -> Self {
        Self::create(prefix, None).await
    }

    /// Create `oftest_<prefix>_<random>` as a copy of `template` (whose pool is closed first:
    /// PostgreSQL copies a database only while nobody is connected to it).
    pub async fn from_template(prefix: &str, template: &TestDb) -> Self {
        template.pool.close().await;
        Self::create(prefix, Some(&template.name)).await
    }

    async fn create(prefix: &str, template: Option<&str>) -> Self {
        let admin = admin_url();
        let name = format!(
            "oftest_{prefix}_{}",
            &Uuid::new_v4().simple().to_string()[..12]
        );
        let admin_pool = PgPoolOptions::new().max_connections(1).connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach the test PostgreSQL at {admin}: {e}; set ONTOFLEET_TEST_DATABASE_URL or run `make test`")
        });
        let from = template.map_or_else(String::new, |t| format!(" TEMPLATE \"{t}\""));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{name}\"{from}"
        )))
        .execute(&admin_pool)
        .await
        .expect("create database");
        admin_pool.close().await;
        let url = url_with_db(&admin, &name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(&url)
            .await
            .expect("connect to test database");
        Self { name, url, pool }
    }

    /// This database's URL for another role (same host and options; the test server trusts it).
    pub fn url_as(&self, role: &str) -> String {
        let (scheme, rest) = self
            .url
            .split_once("://")
            .unwrap_or(("postgres", &self.url));
        let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
        format!("{scheme}://{role}@{rest}")
    }

    /// Drop the database (terminating leftover sessions).
    pub async fn drop_db(self) {
        self.pool.close().await;
        drop_database(&self.name).await;
    }

    /// `ontofleet ARGS` against this database; returns its output.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("run ontofleet")
    }

    /// `ontofleet ARGS` that must succeed; returns its stdout.
    pub async fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).await;
        assert!(
            out.status.success(),
            "ontofleet {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The command, with this database and quick test timings in the environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ontofleet_bin());
        cmd.args(args)
            .env_remove("DATABASE_URL")
            .env("ONTOFLEET_DATABASE_URL", &self.url)
            .env("ONTOFLEET__WORKER__POLL_INTERVAL_SECS", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Start a worker process (killed when dropped).
    pub fn spawn_worker(
        &self,
        name: &str,
        concurrency: usize,
        extra_env: &[(&str, &str)],
    ) -> Child {
        self.spawn_worker_with(name, concurrency, extra_env, None)
    }

    /// [`TestDb::spawn_worker`] with a configuration file (`--config`).
    pub fn spawn_worker_with(
        &self,
        name: &str,
        concurrency: usize,
        extra_env: &[(&str, &str)],
        config: Option<&std::path::Path>,
    ) -> Child {
        let file = std::fs::File::create(self.worker_log(name)).expect("worker log file");
        let concurrency = concurrency.to_string();
        let mut args: Vec<&str> = Vec::new();
        if let Some(path) = config {
            args.extend(["--config", path.to_str().expect("utf-8 path")]);
        }
        args.extend(["worker", "--concurrency", &concurrency, "--name", name]);
        let mut cmd = self.command(&args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null())
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn worker")
    }

    /// Where [`TestDb::spawn_worker`] writes the stderr (the log) of worker `name`.
    pub fn worker_log(&self, name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{}-{name}.log", self.name))
    }

    /// Wait until `n` workers whose names start with one of `prefixes` have registered with the
    /// queue, so a test's run starts with its whole fleet listening.
    pub async fn wait_workers(&self, prefixes: &[&str], timeout: Duration) {
        let started = Instant::now();
        let patterns: Vec<String> = prefixes.iter().map(|p| format!("{p}-%")).collect();
        loop {
            let live: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM apalis.workers WHERE id LIKE ANY($1) AND last_seen > now() - interval '60 seconds'",
            )
            .bind(&patterns)
            .fetch_one(&self.pool)
            .await
            .expect("apalis.workers");
            if live >= prefixes.len() as i64 {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "workers {prefixes:?} did not register within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Poll until the run is terminal; returns its status.
    pub async fn wait_run(&self, run_id: Uuid, timeout: Duration) -> String {
        let started = Instant::now();
        loop {
            let status: String =
                sqlx::query_scalar("SELECT status FROM migration_runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_one(&self.pool)
                    .await
                    .expect("run row");
            if matches!(
                status.as_str(),
                "completed" | "completed_with_errors" | "cancelled"
            ) {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "run {run_id} still {status} after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Poll the count query `sql` every 20 ms until it is above 0; panics with `what` after
    /// `timeout`.
    pub async fn wait_until(&self, sql: &'static str, timeout: Duration, what: &str) {
        let started = Instant::now();
        while self.count(sql).await == 0 {
            assert!(started.elapsed() < timeout, "{what} (after {timeout:?})");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A scalar query, for assertions.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// Path of the `ontofleet` binary built next to the running test (`make test` builds it first),
/// or `ONTOFLEET_BIN`. Unless `ONTOFLEET_BIN` is set (a release build for a measurement), it
/// must be a test build: the suites inject faults (`[faults]`), which other builds ignore.
pub fn ontofleet_bin() -> PathBuf {
    if let Ok(path) = std::env::var("ONTOFLEET_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("ontofleet");
    assert!(
        bin.exists(),
        "{} not found: run `make build` first (make test does)",
        bin.display()
    );
    static CHECKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let test_build = *CHECKED.get_or_init(|| {
        std::process::Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("test build"))
    });
    assert!(
        test_build,
        "{} is not a test build (no fault injection): run `make build` \
         (cargo build -p ontofleet-cli --features faults)",
        bin.display()
    );
    bin
}

/// Send a signal to a child process.
pub fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("child still running");
    let status = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// Drop a test database by name (terminating leftover sessions).
pub async fn drop_database(name: &str) {
    let admin = admin_url();
    if let Ok(pool) = PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin)
        .await
    {
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(name)
        .execute(&pool)
        .await;
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\""
        )))
        .execute(&pool)
        .await;
    }
}
