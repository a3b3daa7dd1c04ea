//! The fetcher's wake-ups and the completion's cost, against a real PostgreSQL.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use ontofleet_db::DbSettings;
use ontofleet_testkit::TestDb;
use serde_json::Value;

use super::driver::drive;
use super::*;
use std::sync::atomic::Ordering;

fn settings(url: &str) -> DbSettings {
    DbSettings {
        url: url.to_owned(),
        max_connections: 10,
        acquire_timeout_secs: 10,
        application_name: "queue-test".to_owned(),
    }
}

/// A fresh database with both schemas; the worker-side pool.
async fn queue_db(prefix: &str) -> (TestDb, PgPool) {
    let db = TestDb::new(prefix).await;
    ontofleet_seed::create_schema(&db.pool).await.unwrap();
    ontofleet_db::migrate_all(&db.pool, &crate::migrator())
        .await
        .unwrap();
    let pool = ontofleet_db::connect_worker(&settings(&db.url))
        .await
        .unwrap();
    (db, pool)
}

async fn enqueue(pool: &PgPool, n: usize) -> Vec<String> {
    let mut tx = pool.begin().await.unwrap();
    let payloads = vec![b"{}".to_vec(); n];
    let ids = crate::enqueue_payloads(&mut tx, payloads, 25)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ids
}

fn worker_settings(poll_interval_secs: u64) -> WorkerSettings {
    WorkerSettings {
        concurrency: 2,
        prefetch: 0,
        name_prefix: "t".to_owned(),
        poll_interval_secs,
        heartbeat_secs: 5,
        missed_heartbeats: 4,
        shutdown_grace_secs: 5,
    }
}

/// A handler that is never given a job here (the test only claims).
struct Idle;

impl crate::JobHandler for Idle {
    fn handle(
        &self,
        _payload: Vec<u8>,
        _ctx: crate::JobContext,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::Handled> + Send + '_>> {
        Box::pin(async { crate::Handled::outcome(JobOutcome::Done) })
    }
}

/// Stages the lost wake-up: a claim that a wake-up started (not the fetcher's first, made
/// before it waits for anything) finds nothing — its snapshot predates the job — and before
/// it returns, a job is committed and its NOTIFY reaches the worker's listener.
struct StagedRace {
    db: PgPool,
    shared: Arc<Shared>,
    claims: AtomicU64,
    raced: AtomicBool,
    job: Mutex<Option<String>>,
}

impl Claim for StagedRace {
    fn claim<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        worker: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<sql::Batch, QueueError>> {
        Box::pin(async move {
            let claimed = sql::claim(conn, worker, limit).await?;
            let nth = self.claims.fetch_add(1, Ordering::Relaxed) + 1;
            if claimed.jobs.is_empty()
                && nth >= 2
                && self.shared.listening.load(Ordering::Relaxed)
                && !self.raced.swap(true, Ordering::Relaxed)
            {
                let before = self.shared.notified.load(Ordering::Relaxed);
                let id = enqueue(&self.db, 1).await.remove(0);
                *self.job.lock().unwrap() = Some(id);
                let deadline = Instant::now() + Duration::from_secs(10);
                while self.shared.notified.load(Ordering::Relaxed) == before {
                    assert!(
                        Instant::now() < deadline,
                        "the NOTIFY never reached the listener"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            Ok(claimed)
        })
    }
}

/// A job committed while an empty claim is in flight is claimed at once, not at the next
/// poll (60 s here): the wake-up its NOTIFY brought during the claim is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_during_an_empty_claim_is_not_lost() {
    let (db, pool) = queue_db("wakeup").await;
    let shared = Shared::new(2, 0);
    let race = Arc::new(StagedRace {
        db: db.pool.clone(),
        shared: shared.clone(),
        claims: AtomicU64::new(0),
        raced: AtomicBool::new(false),
        job: Mutex::new(None),
    });
    let driver = tokio::spawn(drive(
        shared.clone(),
        pool.clone(),
        "wakeup-worker".to_owned(),
        worker_settings(60),
        race.clone(),
        Arc::new(Idle),
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    let job = loop {
        if let Some(id) = race.job.lock().unwrap().clone() {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "no empty claim with the listener up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let raced_at = Instant::now();
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE id = $1")
            .bind(&job)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if status == "Running" {
            break;
        }
        assert!(
            raced_at.elapsed() < Duration::from_secs(5),
            "the job waits for the poll: its wake-up was lost"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(shared.slots().buffer.len(), 1, "claimed into the buffer");
    let _ = shared.stop.send_replace(true);
    driver.await.unwrap();
    // Never started: given back, its attempt not counted.
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM apalis.jobs WHERE id = $1")
            .bind(&job)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("Pending", 0));
    pool.close().await;
    db.drop_db().await;
}

/// Rows the completion statement reads from `apalis.jobs` and the pages it touches, for the
/// first `n` of `claim` more jobs just claimed by `worker`.
async fn complete_explained(pool: &PgPool, worker: &str, claim: usize, n: usize) -> (f64, i64) {
    let mut conn = pool.acquire().await.unwrap();
    let claimed = sql::claim(&mut conn, worker, claim).await.unwrap().jobs;
    assert_eq!(claimed.len(), claim);
    let done: Vec<(String, JobOutcome)> = claimed
        .into_iter()
        .take(n)
        .map(|c| (c.id, JobOutcome::Done))
        .collect();
    let (ids, outcomes) = sql::complete_binds(&done);
    let sql = format!(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}",
        sql::COMPLETE_SQL
    );
    let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&ids)
        .bind(outcomes)
        .bind(worker)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    fn rows(node: &Value) -> f64 {
        let own = if node["Relation Name"] == "jobs" {
            node["Actual Rows"].as_f64().unwrap_or(0.0)
                * node["Actual Loops"].as_f64().unwrap_or(1.0)
        } else {
            0.0
        };
        own + node["Plans"]
            .as_array()
            .map_or(0.0, |p| p.iter().map(rows).sum())
    }
    let top = &plan[0]["Plan"];
    let pages = top["Shared Hit Blocks"].as_i64().unwrap_or(0)
        + top["Shared Read Blocks"].as_i64().unwrap_or(0);
    (rows(top), pages)
}

/// Rows and pages of single-job completions, [`SAMPLES`] of them, as their medians: one
/// completion can pay a one-off cost unrelated to the statement (a free-space-map search for
/// the new row version, say), which a lone sample would mistake for growth.
async fn complete_one_median(pool: &PgPool, worker: &str) -> (f64, i64) {
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    for _ in 0..SAMPLES {
        let (r, p) = complete_explained(pool, worker, 1, 1).await;
        rows.push(r);
        pages.push(p);
    }
    rows.sort_by(f64::total_cmp);
    pages.sort_unstable();
    (rows[SAMPLES / 2], pages[SAMPLES / 2])
}

/// Single completions measured at each end of the history.
const SAMPLES: usize = 5;

/// The completion reads the rows it completes, not every row its worker ever held: its
/// cost is the same for a worker's first jobs and its 20,000th.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_a_job_costs_the_same_after_20000_jobs() {
    let (db, pool) = queue_db("ackcost").await;
    let worker = "ackcost-worker";
    {
        let mut conn = pool.acquire().await.unwrap();
        sql::register(&mut conn, worker).await.unwrap();
    }
    enqueue(&pool, 21_000 + 2 * SAMPLES).await;
    let (rows_first, pages_first) = complete_one_median(&pool, worker).await;
    let mut conn = pool.acquire().await.unwrap();
    let mut done = SAMPLES;
    while done < 20_000 {
        let claimed = sql::claim(&mut conn, worker, 1_000.min(20_000 - done))
            .await
            .unwrap()
            .jobs;
        let outcomes: Vec<(String, JobOutcome)> = claimed
            .into_iter()
            .map(|c| (c.id, JobOutcome::Done))
            .collect();
        done += sql::complete(&mut conn, worker, &outcomes).await.unwrap() as usize;
    }
    drop(conn);
    let (rows_last, pages_last) = complete_one_median(&pool, worker).await;
    assert_eq!(
        db.count("SELECT count(*) FROM apalis.jobs WHERE status = 'Done'")
            .await,
        20_000 + SAMPLES as i64
    );
    // A batch: 500 of the 1,000 jobs the worker holds, on a table never analysed. The rows
    // read are the batch's, once each (a join to the outcome list once read batch x held).
    let (rows_batch, _) = complete_explained(&pool, worker, 1_000, 500).await;
    assert_eq!(rows_batch, 500.0, "rows read completing a batch of 500");
    println!(
        "completion of one job (median of {SAMPLES}): {rows_first} rows / {pages_first} pages at first, {rows_last} rows / {pages_last} pages after 20,000"
    );
    assert_eq!(rows_first, rows_last, "rows read by the completion");
    assert!(
        rows_last <= 2.0,
        "reads only the job it completes: {rows_last}"
    );
    assert!(
        pages_last <= pages_first + 6,
        "pages: {pages_first} then {pages_last}"
    );
    pool.close().await;
    db.drop_db().await;
}
