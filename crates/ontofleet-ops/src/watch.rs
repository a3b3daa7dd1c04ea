//! `run watch` (and `run start --watch`, `enqueue --watch`): follow a run until it is terminal,
//! handing each observation to the caller, which prints it. The run's counters are read at every
//! tick; the per-category breakdown reads every item of the run, so it is refreshed every few
//! seconds and at the end only. The completing commit's NOTIFY ends the watch at once, not at
//! its next poll; without a listener (behind a transaction-mode pooler, say) it just polls.

use std::time::{Duration, Instant};

use ontofleet_core::Pace;
use sqlx::PgPool;
use uuid::Uuid;

use crate::OpsError;
use crate::controls::control_view;
use crate::runs::{
    RunView, StatusCount, completion_listener, get, items_by_status, paused_secs,
    wait_for_completion,
};

/// How often the watch reads the run.
const TICK: Duration = Duration::from_millis(500);

/// How often the watch re-reads the per-category breakdown of the run's items.
const BREAKDOWN_EVERY: Duration = Duration::from_secs(5);

/// One observation of a watched run.
#[derive(Debug)]
pub struct Tick<'a> {
    /// The run now.
    pub run: &'a RunView,
    /// Its items by status and last failure category (refreshed every few seconds).
    pub by_status: &'a [StatusCount],
    /// The pace over what this watch has seen (a run watched from the middle does not claim
    /// the whole run's items happened since), and the time left at it.
    pub pace: Pace,
    /// The run is terminal: this is the last tick.
    pub last: bool,
    /// Its controls in one line (`paused by alice: deploy window`, `throttled: replay lag …`,
    /// `limited: 3 in flight`, `running freely`), refreshed with the breakdown.
    pub state: &'a str,
}

/// Follow `run_id` until it is terminal, calling `observe` at every tick; returns the run as it
/// ended.
pub async fn watch(
    pool: &PgPool,
    run_id: Uuid,
    mut observe: impl FnMut(&Tick<'_>),
) -> Result<RunView, OpsError> {
    let first: RunView = get(pool, run_id).await?.into();
    let started = Instant::now();
    let paused_before = paused_secs(pool, run_id).await?;
    let mut paused_during = 0.0;
    let mut state = String::new();
    let mut by_status = Vec::new();
    let mut breakdown_at: Option<Instant> = None;
    let mut listener = completion_listener(pool).await;
    loop {
        let run: RunView = get(pool, run_id).await?.into();
        let last = !run.is_active();
        if last || breakdown_at.is_none_or(|t| t.elapsed() >= BREAKDOWN_EVERY) {
            by_status = items_by_status(pool, run_id).await?;
            state = control_view(pool, run_id, &run.status).await?.state;
            paused_during = (paused_secs(pool, run_id).await? - paused_before).max(0.0);
            breakdown_at = Some(Instant::now());
        }
        // Time the run spent paused while watched is not working time.
        let pace = Pace::of(
            (run.done() - first.done()).max(0),
            i64::from(run.items.total) - run.done(),
            (started.elapsed().as_secs_f64() - paused_during).max(0.0),
            !last && run.status != "paused",
        );
        observe(&Tick {
            run: &run,
            by_status: &by_status,
            pace,
            last,
            state: &state,
        });
        if last {
            return Ok(run);
        }
        wait_for_completion(&mut listener, TICK).await;
    }
}
