//! The background tasks of one worker incarnation: registration, the fetcher, the NOTIFY
//! listener, heartbeats with orphan rescue, and the batched acknowledgements.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::PgPool;

use super::{Claim, Shared};
use crate::{JobHandler, QUEUE, QueueError, WorkerSettings, sql};

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
pub(super) async fn drive(
    shared: Arc<Shared>,
    pool: PgPool,
    name: String,
    settings: WorkerSettings,
    claim: Arc<dyn Claim>,
    handler: Arc<dyn JobHandler>,
) {
    let dead_after = Duration::from_secs(
        settings.heartbeat_secs.max(1) * settings.missed_heartbeats.max(1) as u64,
    );
    let mut backoff = Backoff::new();
    loop {
        match beat_once(&pool, &name, dead_after, handler.as_ref()).await {
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
        handler,
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
            Ok(batch) => {
                Shared::observe(&shared.claim_us, asked.elapsed());
                backoff.reset();
                shared.controlled.store(batch.controlled, Ordering::Relaxed);
                due = batch.jobs.len() == free;
                if !batch.jobs.is_empty() {
                    shared.push_claimed(batch.jobs);
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
/// The handler's beat work follows on the same connection.
async fn beat_once(
    pool: &PgPool,
    name: &str,
    dead_after: Duration,
    handler: &dyn JobHandler,
) -> Result<usize, QueueError> {
    let mut conn = pool.acquire().await?;
    sql::register(&mut conn, name).await?;
    let rescued = sql::rescue_orphans(&mut conn, dead_after).await?;
    if !rescued.is_empty() {
        tracing::info!(worker = %name, jobs = rescued.len(), "re-enqueued jobs of workers that missed their heartbeats");
    }
    handler.on_beat(&mut conn).await;
    Ok(rescued.len())
}

/// Keep this worker's row alive and re-enqueue the jobs of workers that stopped beating.
async fn beat(
    shared: Arc<Shared>,
    pool: PgPool,
    name: String,
    every: Duration,
    dead_after: Duration,
    handler: Arc<dyn JobHandler>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match beat_once(&pool, &name, dead_after, handler.as_ref()).await {
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
            // Jobs given back unstarted (their run is paused) lose no attempt.
            let released: Vec<String> = batch
                .iter()
                .filter(|(_, o)| *o == crate::JobOutcome::Release)
                .map(|(id, _)| id.clone())
                .collect();
            sql::release(&mut conn, &name, &released).await?;
            let done: Vec<(String, crate::JobOutcome)> = batch
                .iter()
                .filter(|(_, o)| *o != crate::JobOutcome::Release)
                .cloned()
                .collect();
            sql::complete(&mut conn, &name, &done).await
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
