//! Times one seed into a throwaway database.
//!
//! ```text
//! cargo run --release -p ontofleet-seed --example seed_bench -- [USERS [PROJECTS_PER_USER [TASKS_PER_PROJECT]]]
//! ```
//!
//! Defaults to 100 users × 10 projects × 100 tasks = 100,000 tasks (plus the edge cases). The
//! server is `ONTOFLEET_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! a database `seedbench_<random>` is created and dropped (kept when `SEED_BENCH_KEEP=1`).

use std::str::FromStr;
use std::time::Instant;

use ontofleet_seed::{SeedOptions, seed};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u32| args.get(i).copied().unwrap_or(default);
    let opts = SeedOptions {
        users: arg(0, 100),
        projects_per_user: arg(1, 10),
        tasks_per_project: arg(2, 100),
        seed: 42,
        bad_rows: true,
        giant_project_tasks: 0,
    };

    let base = std::env::var("ONTOFLEET_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let server = PgConnectOptions::from_str(&base)?;
    let name = format!("seedbench_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect_with(&server).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await?;

    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(server.database(&name))
        .await;
    let outcome = match pool {
        Ok(pool) => {
            let started = Instant::now();
            let result = seed(&pool, &opts).await;
            let elapsed = started.elapsed();
            pool.close().await;
            result.map(|report| (report, elapsed))
        }
        Err(err) => Err(err.into()),
    };
    if std::env::var("SEED_BENCH_KEEP").is_ok_and(|v| v == "1") {
        println!("database       {name} (kept)");
    } else {
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
    }

    let (report, elapsed) = outcome?;
    println!("options        {opts:?}");
    println!("report         {report:?}");
    println!("rows           {}", report.total_rows());
    println!("elapsed_ms     {}", elapsed.as_millis());
    println!(
        "tasks_per_s    {:.0}",
        report.tasks as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
