//! `GET /runs/{run}/events`: one ticker per watched run, shared by every client watching it,
//! woken early by the run-completion NOTIFY. The database cost of live views is therefore one
//! progress read per run every tick, whatever the number of open streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ontofleet_ops::runs::RunProgress;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

/// The progress of a run as its ticker last read it.
pub type Progress = watch::Receiver<Option<RunProgress>>;

/// The shared tickers and the completion listener of one process.
#[derive(Debug)]
pub struct EventHub {
    pool: PgPool,
    every: Duration,
    runs: Mutex<HashMap<Uuid, Arc<watch::Sender<Option<RunProgress>>>>>,
    completed: broadcast::Sender<Uuid>,
    /// Progress reads made by all tickers (the live views' whole database cost).
    pub reads: AtomicU64,
    stop: watch::Receiver<bool>,
}

impl EventHub {
    /// A hub reading with `pool` every `every`, and listening for completions on `listen_pool`
    /// (a read-write pool: LISTEN holds one connection). `stop` ends every stream.
    pub fn start(
        pool: PgPool,
        listen_pool: PgPool,
        every: Duration,
        stop: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let (completed, _) = broadcast::channel(64);
        let hub = Arc::new(Self {
            pool,
            every,
            runs: Mutex::new(HashMap::new()),
            completed: completed.clone(),
            reads: AtomicU64::new(0),
            stop: stop.clone(),
        });
        tokio::spawn(listen(listen_pool, completed, stop));
        hub
    }

    /// The run's progress: a receiver of its ticker, started if no one watches it yet.
    pub fn watch(self: &Arc<Self>, run: Uuid) -> Progress {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = runs.get(&run) {
            return tx.subscribe();
        }
        let (tx, rx) = watch::channel(None);
        let tx = Arc::new(tx);
        runs.insert(run, tx.clone());
        tokio::spawn(self.clone().tick(run, tx));
        rx
    }

    /// The stop signal streams end on.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    async fn tick(self: Arc<Self>, run: Uuid, tx: Arc<watch::Sender<Option<RunProgress>>>) {
        let mut completed = self.completed.subscribe();
        let mut stop = self.stop.clone();
        loop {
            self.reads.fetch_add(1, Ordering::Relaxed);
            ontofleet_telemetry::metrics().api_live_reads.add(1, &[]);
            let finished = match ontofleet_ops::runs::progress(&self.pool, run).await {
                Ok(p) => {
                    let done = p.finished;
                    tx.send_replace(Some(p));
                    done
                }
                Err(e) => {
                    tracing::warn!(%run, error = %e, "run progress read failed");
                    false
                }
            };
            if finished || self.unwatched(run) {
                break;
            }
            let deadline = tokio::time::Instant::now() + self.every;
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    id = completed.recv() => match id {
                        Ok(id) if id != run => continue,
                        _ => break,
                    },
                    _ = stop.changed() => {
                        self.forget(run, &tx);
                        return;
                    }
                }
            }
        }
        self.forget(run, &tx);
    }

    /// Remove this ticker's entry (not a newer ticker's of the same run).
    fn forget(&self, run: Uuid, tx: &Arc<watch::Sender<Option<RunProgress>>>) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs.get(&run).is_some_and(|t| Arc::ptr_eq(t, tx)) {
            runs.remove(&run);
        }
    }

    /// Nobody watches the run any more; checked and acted on under the map's lock, so that a
    /// client subscribing meanwhile either finds this ticker running or starts a new one.
    fn unwatched(&self, run: Uuid) -> bool {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let gone = runs.get(&run).is_none_or(|tx| tx.receiver_count() == 0);
        if gone {
            runs.remove(&run);
        }
        gone
    }
}

/// One LISTEN connection per process, forwarding completed run ids to the tickers; reconnects
/// after a failure.
async fn listen(pool: PgPool, completed: broadcast::Sender<Uuid>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Some(mut listener) = ontofleet_ops::runs::completion_listener(&pool).await {
            loop {
                tokio::select! {
                    n = listener.recv() => match n {
                        Ok(n) => {
                            if let Ok(id) = n.payload().parse::<Uuid>() {
                                let _ = completed.send(id);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "completion listener lost its connection");
                            break;
                        }
                    },
                    _ = stop.changed() => return,
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
    }
}
