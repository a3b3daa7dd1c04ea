//! ontofleet's driver for `make bench-peers` (scripts/bench-peers/README.md has the protocol):
//! the queue layer of `ontofleet-queue` — bulk enqueue, the worker runtime and its backend —
//! with a no-op handler instead of the pipeline.
//!
//! ```text
//! queue_bench setup | producer | worker <concurrency>
//! ```
//!
//! Env: `QB_DATABASE_URL` (the fresh database), `QB_UDP_PORT` (worker: where handler starts are
//! reported). The worker runs on the pool a real worker gets (`ontofleet_db::connect_worker`)
//! with the default worker settings; jobs are acknowledged by the runtime's batches, as jobs
//! whose handler records nothing in a transaction of its own are.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ontofleet_db::DbSettings;
use ontofleet_queue::{Handled, JobContext, JobHandler, JobOutcome, WorkerSettings};
use tokio::io::{AsyncBufReadExt, BufReader};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn settings(url: &str) -> DbSettings {
    DbSettings {
        url: url.to_owned(),
        max_connections: 10,
        acquire_timeout_secs: 10,
        application_name: "queue_bench".to_owned(),
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn say(line: &str) {
    println!("{line}");
}

struct NoOp {
    udp: std::net::UdpSocket,
    port: u16,
}

impl JobHandler for NoOp {
    fn handle(
        &self,
        payload: Vec<u8>,
        _ctx: JobContext,
    ) -> Pin<Box<dyn Future<Output = Handled> + Send + '_>> {
        Box::pin(async move {
            let start = now();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&payload) {
                let t = v["t"].as_f64().unwrap_or(0.0);
                if t > 0.0 {
                    let msg = format!("{} {start:.6}", v["seq"]);
                    let _ = self.udp.send_to(msg.as_bytes(), ("127.0.0.1", self.port));
                }
            }
            Handled::outcome(JobOutcome::Done)
        })
    }
}

async fn setup(url: &str) -> Result<(), AnyError> {
    let pool = ontofleet_db::connect(&settings(url)).await?;
    ontofleet_seed::create_schema(&pool).await?;
    ontofleet_db::migrate_all(&pool, &ontofleet_queue::migrator()).await?;
    Ok(())
}

async fn producer(url: &str) -> Result<(), AnyError> {
    let pool = ontofleet_db::connect(&settings(url)).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["B", n] => {
                let n: usize = n.parse()?;
                let payloads = (0..n)
                    .map(|i| serde_json::to_vec(&serde_json::json!({"seq": i, "t": 0})))
                    .collect::<Result<Vec<_>, _>>()?;
                let t0 = Instant::now();
                let mut tx = pool.begin().await?;
                ontofleet_queue::enqueue_payloads(&mut tx, payloads, 25).await?;
                tx.commit().await?;
                say(&format!("OK {:.6}", t0.elapsed().as_secs_f64()));
            }
            ["E", seq] => {
                let seq: u64 = seq.parse()?;
                let t = now();
                let t0 = Instant::now();
                let payload = serde_json::to_vec(&serde_json::json!({"seq": seq, "t": t}))?;
                let mut tx = pool.begin().await?;
                ontofleet_queue::enqueue_payloads(&mut tx, vec![payload], 25).await?;
                tx.commit().await?;
                say(&format!("OK {} {t:.6}", t0.elapsed().as_micros()));
            }
            ["Q"] => break,
            _ => say(&format!("ERR unknown command {line}")),
        }
    }
    Ok(())
}

async fn worker(url: &str, concurrency: usize) -> Result<(), AnyError> {
    let pool = ontofleet_db::connect_worker(&settings(url)).await?;
    let port: u16 = std::env::var("QB_UDP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let handler = Arc::new(NoOp {
        udp: std::net::UdpSocket::bind("127.0.0.1:0")?,
        port,
    });
    // The CLI's defaults (crates/ontofleet-cli/src/defaults.toml).
    let settings = WorkerSettings {
        concurrency,
        prefetch: std::env::var("QB_PREFETCH")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(256),
        name_prefix: "qbench".to_owned(),
        poll_interval_secs: 2,
        heartbeat_secs: 5,
        missed_heartbeats: 4,
        shutdown_grace_secs: 25,
    };
    say(&format!(
        "VERSION ontofleet-queue {} (apalis {}, apalis-postgres {}, sqlx 0.9)",
        env!("CARGO_PKG_VERSION"),
        "1.0.0",
        "1.0.0"
    ));
    say(&format!(
        "CONFIG default worker settings: concurrency {concurrency}, adaptive prefetch ≤ {}, insert NOTIFY + 2 s poll, \
         batched acknowledgements, heartbeat 5 s x 4, pool 10 (synchronous_commit off)",
        settings.prefetch
    ));
    say("READY");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim() == "GO" {
            break;
        }
    }
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    ontofleet_queue::run_workers(pool, settings, handler, shutdown).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let url = std::env::var("QB_DATABASE_URL").map_err(|_| "QB_DATABASE_URL is not set")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("setup") => setup(&url).await,
        Some("producer") => producer(&url).await,
        Some("worker") => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(8);
            worker(&url, n).await
        }
        _ => Err("usage: queue_bench setup | producer | worker <concurrency>".into()),
    }
}
