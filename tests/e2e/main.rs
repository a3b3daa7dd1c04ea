//! End-to-end suite: real PostgreSQL (a fresh database per test), the real `ontofleet` binary,
//! real worker processes. One test binary for all scenarios.

mod api;
mod architecture;
mod catchup;
mod chaos;
mod chunks;
mod concurrency;
mod controls;
mod deploy;
mod expect;
mod golden;
mod holders;
mod llm;
mod lock;
mod migration;
mod operator;
mod plans;
mod preview;
mod queue;
mod roles;
mod rules;
mod standby;
mod telemetry;

use std::time::Duration;

use ontofleet_testkit::TestDb;
use uuid::Uuid;

/// Generous bound for a small run on a 2-core CI machine.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A fresh database with legacy data seeded by `ontofleet seed <seed_args>` and both schemas
/// migrated.
pub async fn prepared(prefix: &str, seed_args: &[&str]) -> TestDb {
    let db = TestDb::new(prefix).await;
    let mut args = vec!["seed"];
    args.extend_from_slice(seed_args);
    db.cli_ok(&args).await;
    db.cli_ok(&["db", "migrate"]).await;
    db
}

/// The run id `run start` printed.
pub fn run_id(stdout: &str) -> Uuid {
    stdout
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("run start printed {stdout:?}: {e}"))
}
