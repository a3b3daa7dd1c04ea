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

mod driver;
#[cfg(test)]
mod tests;

use crate::{JobHandler, JobOutcome, QueueError, WorkerSettings};
use driver::drive;

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
    ) -> BoxFuture<'a, Result<sql::Batch, QueueError>>;
}

/// The claim statement of [`sql::claim`].
pub struct SqlClaim;

impl Claim for SqlClaim {
    fn claim<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        worker: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<sql::Batch, QueueError>> {
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
    /// Run controls were in force at the last claim: claim for free slots only, so a paused or
    /// limited run's jobs do not wait in this worker's buffer.
    controlled: std::sync::atomic::AtomicBool,
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
            controlled: std::sync::atomic::AtomicBool::new(false),
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
        if self.controlled.load(Ordering::Relaxed) {
            return 0;
        }
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
    handler: Arc<dyn JobHandler>,
    driver: Option<tokio::task::JoinHandle<()>>,
    closing: Option<BoxFuture<'static, ()>>,
}

impl FleetBackend {
    /// A backend over `pool` (the queue's own); `shared` is also handed to the job executions,
    /// and `handler` is told of every heartbeat ([`JobHandler::on_beat`]).
    pub fn new(
        pool: PgPool,
        settings: WorkerSettings,
        shared: Arc<Shared>,
        claim: Arc<dyn Claim>,
        handler: Arc<dyn JobHandler>,
    ) -> Self {
        Self {
            shared,
            pool,
            settings,
            claim,
            handler,
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
                self.handler.clone(),
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
