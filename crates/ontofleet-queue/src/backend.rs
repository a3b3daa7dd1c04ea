//! ontofleet's apalis backend on apalis-postgres's tables. apalis-postgres's own `Persisted`
//! backend runs one state machine per worker (fetch, then a transaction marking the batch
//! `Running`, then one acknowledging it, each a pool round trip with pings), its acknowledgement
//! reads every row the worker ever locked, and it can miss a wake-up. This backend keeps apalis
//! as the runtime (worker, concurrency, monitor, graceful shutdown) and drives the queue itself:
//!
//! - a **fetcher** claims as many due jobs as the worker has free slots, in one statement that
//!   marks them `Running` (so a batch costs one round trip, not three transactions), on a
//!   connection it keeps;
//! - **wake-ups** from the insert NOTIFY are counted, not lost: a notification that arrives while
//!   a claim is in flight leaves a permit, and the fetcher claims again at once instead of
//!   sleeping until the poll;
//! - **completions** are recorded by the handler inside its own transaction when it can
//!   ([`crate::record_outcome`]), so a committed project and a `Done` job never disagree; the
//!   others are acknowledged in batches by primary key;
//! - a **heartbeat** keeps the worker's row alive and re-enqueues the jobs of workers that went
//!   silent;
//! - on shutdown, claimed jobs that never started go back to the queue without using an attempt.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use apalis::prelude::{Backend, Identity, Task, TaskBuilder, TaskId, WorkerContext};
use apalis_core::backend::BackendConfig;
use apalis_core::backend::finalize::Ephemeral;
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, watch};

use crate::sql::{self, Claimed};
use crate::{JobOutcome, QUEUE, QueueError, WorkerSettings};

/// What a worker's task carries: the claimed row.
#[derive(Debug, Clone)]
pub struct FleetJob {
    /// Job id.
    pub id: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Executions counted by the queue, this one included.
    pub attempt: i32,
}

/// How the fetcher claims jobs. One implementation in production ([`SqlClaim`]); a test wraps it
/// to stage the race between a claim and a NOTIFY.
pub trait Claim: Send + Sync + 'static {
    /// Claim up to `limit` due jobs for `worker`.
    fn claim<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        worker: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Claimed>, QueueError>>;
}

/// The claim statement of [`sql::claim`].
pub struct SqlClaim;

impl Claim for SqlClaim {
    fn claim<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        worker: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Claimed>, QueueError>> {
        Box::pin(sql::claim(conn, worker, limit))
    }
}

#[derive(Default)]
struct Slots {
    /// Claimed, not yet handed to the worker.
    buffer: VecDeque<Claimed>,
    /// Handed to the worker, not finished.
    in_flight: usize,
    /// The worker's waker, set while it waits for a job.
    waker: Option<Waker>,
}

/// State shared by the backend, its background tasks and the job executions.
pub struct Shared {
    /// Jobs run at once.
    concurrency: usize,
    /// Most jobs claimed ahead of free slots.
    max_prefetch: usize,
    /// Moving averages, in microseconds, of a job's run and of a claim's round trip.
    job_us: AtomicU64,
    claim_us: AtomicU64,
    slots: Mutex<Slots>,
    /// A slot was freed.
    slot_freed: Notify,
    /// New jobs may be due (an insert NOTIFY, a requeue, a rescue).
    wake: Notify,
    /// Insert NOTIFYs of this queue received.
    notified: AtomicU64,
    /// The NOTIFY listener is connected.
    listening: std::sync::atomic::AtomicBool,
    /// Outcomes to acknowledge.
    acks: Mutex<Vec<(String, JobOutcome)>>,
    ack_pending: Notify,
    stop: watch::Sender<bool>,
    /// Why this incarnation must end (reported to apalis, which restarts the worker).
    failure: Mutex<Option<String>>,
}

impl Shared {
    /// State for a worker running `concurrency` jobs at once and claiming up to `prefetch` more.
    pub fn new(concurrency: usize, prefetch: usize) -> Arc<Self> {
        Arc::new(Self {
            concurrency: concurrency.max(1),
            max_prefetch: prefetch,
            job_us: AtomicU64::new(0),
            claim_us: AtomicU64::new(0),
            slots: Mutex::new(Slots::default()),
            slot_freed: Notify::new(),
            wake: Notify::new(),
            notified: AtomicU64::new(0),
            listening: std::sync::atomic::AtomicBool::new(false),
            acks: Mutex::new(Vec::new()),
            ack_pending: Notify::new(),
            stop: watch::channel(false).0,
            failure: Mutex::new(None),
        })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jobs to claim ahead of free slots: enough to keep every slot busy for two claim round
    /// trips at the jobs' current pace, at most the configured prefetch. Jobs that run for tens
    /// of milliseconds (projects) get next to none — no job waits in one worker's buffer while
    /// another worker idles — and jobs that take microseconds get the whole prefetch, so each
    /// claim takes a batch.
    fn prefetch(&self) -> usize {
        let job = self.job_us.load(Ordering::Relaxed);
        if job == 0 {
            // No job has finished yet: nothing is known of their pace, claim for free slots only.
            return 0;
        }
        let claim = self.claim_us.load(Ordering::Relaxed);
        let wanted = (self.concurrency as u64 * 2 * claim).div_ceil(job);
        usize::try_from(wanted)
            .unwrap_or(usize::MAX)
            .min(self.max_prefetch)
    }

    /// How many jobs to claim now; 0 = not worth a claim yet (fewer free places than the
    /// prefetch: slots still have jobs waiting).
    fn to_claim(&self) -> usize {
        let prefetch = self.prefetch();
        let s = self.slots();
        let free = (self.concurrency + prefetch).saturating_sub(s.in_flight + s.buffer.len());
        if free >= prefetch.max(1) { free } else { 0 }
    }

    fn observe(avg: &AtomicU64, sample: Duration) {
        let x = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX);
        let old = avg.load(Ordering::Relaxed);
        let new = if old == 0 { x } else { old - old / 8 + x / 8 };
        avg.store(new.max(1), Ordering::Relaxed);
    }

    fn push_claimed(&self, claimed: Vec<Claimed>) {
        let waker = {
            let mut s = self.slots();
            s.buffer.extend(claimed);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// A job execution ended after `ran`: its slot is free again.
    pub fn finished(&self, ran: Duration) {
        Self::observe(&self.job_us, ran);
        {
            let mut s = self.slots();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.slot_freed.notify_one();
    }

    /// End this incarnation: the worker's next poll reports `reason` as a backend error.
    fn fail(&self, reason: String) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
        // Stop beating under this name at once: what it holds must look orphaned.
        let _ = self.stop.send_replace(true);
        let waker = self.slots().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Queue an outcome for the batched acknowledgement.
    pub fn ack(&self, id: String, outcome: JobOutcome) {
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, outcome));
        self.ack_pending.notify_one();
    }

    fn take_acks(&self) -> Vec<(String, JobOutcome)> {
        std::mem::take(&mut *self.acks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves once the worker is closing.
    async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// The apalis backend of one worker incarnation.
pub struct FleetBackend {
    shared: Arc<Shared>,
    pool: PgPool,
    settings: WorkerSettings,
    claim: Arc<dyn Claim>,
    driver: Option<tokio::task::JoinHandle<()>>,
    closing: Option<BoxFuture<'static, ()>>,
}

impl FleetBackend {
    /// A backend over `pool`; `shared` is also handed to the job executions.
    pub fn new(
        pool: PgPool,
        settings: WorkerSettings,
        shared: Arc<Shared>,
        claim: Arc<dyn Claim>,
    ) -> Self {
        Self {
            shared,
            pool,
            settings,
            claim,
            driver: None,
            closing: None,
        }
    }
}

impl Drop for FleetBackend {
    fn drop(&mut self) {
        // Dropped without a close (the shutdown grace ran out): stop the background tasks. Jobs
        // still claimed are re-enqueued by a live worker once this one's heartbeats stop.
        let _ = self.shared.stop.send_replace(true);
    }
}

impl Backend for FleetBackend {
    type Task = Task<FleetJob>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        if self.driver.is_none() {
            self.driver = Some(tokio::spawn(drive(
                self.shared.clone(),
                self.pool.clone(),
                worker.name().to_owned(),
                self.settings.clone(),
                self.claim.clone(),
            )));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        if let Some(reason) = self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Poll::Ready(Some(Err(QueueError::Backend(reason))));
        }
        let mut s = self.shared.slots();
        match s.buffer.pop_front() {
            Some(c) => {
                s.in_flight += 1;
                let task = TaskBuilder::new(FleetJob {
                    id: c.id.clone(),
                    payload: c.job,
                    attempt: c.attempts,
                })
                .task_id(TaskId::from_string(c.id))
                .attempt(usize::try_from(c.attempts).unwrap_or(0))
                .build();
                Poll::Ready(Some(Ok(task)))
            }
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        if self.closing.is_none() {
            let _ = self.shared.stop.send_replace(true);
            let driver = self.driver.take();
            self.closing = Some(Box::pin(async move {
                if let Some(d) = driver {
                    let _ = d.await;
                }
            }));
        }
        match self.closing.as_mut().map(|f| f.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl BackendConfig for FleetBackend {
    type Args = FleetJob;
    type Id = String;
    type Kind = Ephemeral;
    type Config = WorkerSettings;
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &self.settings
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}

/// Exponential backoff for the background tasks' database errors: 0.5 s doubling to 30 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(500))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
    }

    fn reset(&mut self) {
        self.0 = Duration::from_millis(500);
    }
}

/// The background of one worker incarnation: register, then listen, beat, acknowledge and
/// fetch until told to stop; then give back unstarted jobs and flush the acknowledgements.
async fn drive(
    shared: Arc<Shared>,
    pool: PgPool,
    name: String,
    settings: WorkerSettings,
    claim: Arc<dyn Claim>,
) {
    let dead_after = Duration::from_secs(
        settings.heartbeat_secs.max(1) * settings.missed_heartbeats.max(1) as u64,
    );
    let mut backoff = Backoff::new();
    loop {
        match beat_once(&pool, &name, dead_after).await {
            Ok(rescued) => {
                if rescued > 0 {
                    shared.wake.notify_one();
                }
                break;
            }
            Err(e) if shared.stopping() => {
                tracing::warn!(worker = %name, error = %e, "stopping before the worker could register");
                return;
            }
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "cannot register the worker; retrying");
                backoff.wait().await;
            }
        }
    }
    let listener = tokio::spawn(listen(shared.clone(), pool.clone()));
    let beat = tokio::spawn(beat(
        shared.clone(),
        pool.clone(),
        name.clone(),
        Duration::from_secs(settings.heartbeat_secs.max(1)),
        dead_after,
    ));
    let acker = tokio::spawn(acknowledge(shared.clone(), pool.clone(), name.clone()));
    fetch(
        &shared,
        &pool,
        &name,
        Duration::from_secs(settings.poll_interval_secs.max(1)),
        claim.as_ref(),
    )
    .await;
    // Closing: the worker ran its in-flight jobs to the end before closing the backend, so
    // what is left in the buffer never started.
    let unstarted: Vec<String> = shared.slots().buffer.drain(..).map(|c| c.id).collect();
    if !unstarted.is_empty() {
        let released = async {
            let mut conn = pool.acquire().await?;
            sql::release(&mut conn, &name, &unstarted).await
        }
        .await;
        match released {
            Ok(n) => {
                tracing::info!(worker = %name, jobs = n, "gave unstarted jobs back to the queue")
            }
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "could not give unstarted jobs back; they are re-enqueued once this worker's heartbeats stop")
            }
        }
    }
    beat.abort();
    listener.abort();
    let _ = acker.await;
}

/// Claim jobs while there are free slots and jobs are due; sleep on a NOTIFY, a freed slot, the
/// poll interval or the stop signal otherwise.
async fn fetch(shared: &Shared, pool: &PgPool, name: &str, poll: Duration, claim: &dyn Claim) {
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>> = None;
    let mut backoff = Backoff::new();
    // Jobs may be due: claim before waiting for anything.
    let mut due = true;
    while !shared.stopping() {
        let free = shared.to_claim();
        if free == 0 {
            tokio::select! {
                () = shared.slot_freed.notified() => {}
                () = shared.stopped() => break,
            }
            continue;
        }
        if !due {
            tokio::select! {
                () = shared.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                () = shared.stopped() => break,
            }
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match pool.acquire().await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(worker = %name, error = %e, "cannot reach the queue; retrying");
                    backoff.wait().await;
                    continue;
                }
            },
        };
        let asked = std::time::Instant::now();
        match claim.claim(c, name, free).await {
            Ok(claimed) => {
                Shared::observe(&shared.claim_us, asked.elapsed());
                backoff.reset();
                due = claimed.len() == free;
                if !claimed.is_empty() {
                    shared.push_claimed(claimed);
                }
            }
            Err(e) => {
                // The database failed under this worker (a restart, a terminated session): a
                // commit of it may have been lost — a job finished in a transaction that never
                // became durable stays claimed by this name. So this incarnation ends, as
                // apalis restarts a worker on a backend error: the next one has a new name, and
                // whatever this name still holds is re-enqueued once its heartbeats stop.
                tracing::warn!(worker = %name, error = %e, "claiming jobs failed; restarting the worker under a new name");
                shared.fail(e.to_string());
                return;
            }
        }
    }
}

/// Turn insert NOTIFYs of this queue into wake-ups. A listener reconnects by itself; whatever
/// is inserted meanwhile is found by the next claim or poll.
async fn listen(shared: Arc<Shared>, pool: PgPool) {
    let mut backoff = Backoff::new();
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(sql::INSERT_CHANNEL).await {
                Ok(()) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling meanwhile");
                    backoff.wait().await;
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for new jobs; polling meanwhile");
                backoff.wait().await;
                continue;
            }
        };
        backoff.reset();
        shared.listening.store(true, Ordering::Relaxed);
        // A claim after (re)connecting catches what was inserted while nobody listened.
        shared.wake.notify_one();
        loop {
            match listener.recv().await {
                Ok(n) => {
                    if n.payload().contains(QUEUE) {
                        shared.notified.fetch_add(1, Ordering::Relaxed);
                        shared.wake.notify_one();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "lost the NOTIFY connection; reconnecting");
                    shared.listening.store(false, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// Register or beat, then re-enqueue the jobs of workers that stopped beating; returns how many.
async fn beat_once(pool: &PgPool, name: &str, dead_after: Duration) -> Result<usize, QueueError> {
    let mut conn = pool.acquire().await?;
    sql::register(&mut conn, name).await?;
    let rescued = sql::rescue_orphans(&mut conn, dead_after).await?;
    if !rescued.is_empty() {
        tracing::info!(worker = %name, jobs = rescued.len(), "re-enqueued jobs of workers that missed their heartbeats");
    }
    Ok(rescued.len())
}

/// Keep this worker's row alive and re-enqueue the jobs of workers that stopped beating.
async fn beat(
    shared: Arc<Shared>,
    pool: PgPool,
    name: String,
    every: Duration,
    dead_after: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match beat_once(&pool, &name, dead_after).await {
            Ok(rescued) if rescued > 0 => shared.wake.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::warn!(worker = %name, error = %e, "heartbeat failed"),
        }
    }
}

/// Acknowledge queued outcomes in batches: whatever accumulated while the previous batch was
/// being written goes in the next statement. Returns after a final flush once stopping.
async fn acknowledge(shared: Arc<Shared>, pool: PgPool, name: String) {
    let mut backoff = Backoff::new();
    loop {
        let stopping = shared.stopping();
        let batch = shared.take_acks();
        if batch.is_empty() {
            if stopping {
                return;
            }
            tokio::select! {
                () = shared.ack_pending.notified() => {}
                () = shared.stopped() => {}
            }
            continue;
        }
        let written = async {
            let mut conn = pool.acquire().await?;
            sql::complete(&mut conn, &name, &batch).await
        }
        .await;
        match written {
            Ok(_) => backoff.reset(),
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, jobs = batch.len(), "acknowledging jobs failed; retrying");
                if stopping {
                    // Shutting down with the database away: the rows stay claimed and are
                    // re-enqueued by a live worker; their projects' ledger decides what runs.
                    return;
                }
                shared
                    .acks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(batch);
                backoff.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    use ontofleet_db::DbSettings;
    use ontofleet_testkit::TestDb;
    use serde_json::Value;

    use super::*;

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
        ) -> BoxFuture<'a, Result<Vec<Claimed>, QueueError>> {
            Box::pin(async move {
                let claimed = sql::claim(conn, worker, limit).await?;
                let nth = self.claims.fetch_add(1, Ordering::Relaxed) + 1;
                if claimed.is_empty()
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

    /// Rows the completion statement reads from `apalis.jobs` and the pages it touches, for one
    /// job just claimed by `worker`.
    async fn complete_one(pool: &PgPool, worker: &str) -> (f64, i64) {
        let mut conn = pool.acquire().await.unwrap();
        let claimed = sql::claim(&mut conn, worker, 1).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let sql = format!(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}",
            sql::COMPLETE_SQL
        );
        let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(vec![claimed[0].id.clone()])
            .bind(vec!["Done"])
            .bind(vec![serde_json::json!({"Ok": null})])
            .bind(vec![0.0f64])
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

    /// The completion reads the rows it completes, not every row its worker ever held: its
    /// cost is the same for a worker's 1st job and its 20,001st.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn completing_a_job_costs_the_same_after_20000_jobs() {
        let (db, pool) = queue_db("ackcost").await;
        let worker = "ackcost-worker";
        {
            let mut conn = pool.acquire().await.unwrap();
            sql::register(&mut conn, worker).await.unwrap();
        }
        enqueue(&pool, 20_001).await;
        let (rows_first, pages_first) = complete_one(&pool, worker).await;
        let mut conn = pool.acquire().await.unwrap();
        let mut done = 1;
        while done < 20_000 {
            let claimed = sql::claim(&mut conn, worker, 1_000.min(20_000 - done))
                .await
                .unwrap();
            let outcomes: Vec<(String, JobOutcome)> = claimed
                .into_iter()
                .map(|c| (c.id, JobOutcome::Done))
                .collect();
            done += sql::complete(&mut conn, worker, &outcomes).await.unwrap() as usize;
        }
        drop(conn);
        let (rows_last, pages_last) = complete_one(&pool, worker).await;
        assert_eq!(
            db.count("SELECT count(*) FROM apalis.jobs WHERE status = 'Done'")
                .await,
            20_001
        );
        println!(
            "completion of one job: {rows_first} rows / {pages_first} pages at the 1st, {rows_last} rows / {pages_last} pages at the 20,001st"
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
}
