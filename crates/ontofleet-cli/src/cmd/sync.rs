//! `sync status`, `follow` and `cutover check` (SPEC §15).

use std::time::{Duration, Instant};

use ontofleet_ops::OpsError;
use ontofleet_ops::sync::{FollowRequest, SyncStatus};

use crate::CliError;
use crate::cli::FollowArgs;
use crate::context::{Ctx, actor, initiated_by, shutdown_signal};
use crate::output::{self, out};

/// One line: `12 project(s) pending, oldest change 3m 12s ago (since the pass of …)`.
fn lag(st: &SyncStatus) -> String {
    let oldest = st.oldest_change_at.map_or(String::new(), |t| {
        let age = (st.checked_at - t).num_milliseconds().max(0) as f64 / 1000.0;
        format!(", oldest change {} ago", output::secs(age))
    });
    let since = st.watermark.map_or_else(
        || " (no platform pass has completed yet)".to_owned(),
        |w| format!(" (changes since {})", w.format("%Y-%m-%d %H:%M:%S UTC")),
    );
    format!("{} project(s) pending{oldest}{since}", st.pending_projects)
}

pub async fn status(ctx: Ctx<'_>) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let st = ontofleet_ops::sync::status(&pool).await?;
    if ctx.json() {
        output::json_of(&st);
    } else {
        out!("{}", lag(&st));
    }
    Ok(())
}

pub async fn cutover(ctx: Ctx<'_>) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let check = ontofleet_ops::sync::cutover_check(&pool).await?;
    if ctx.json() {
        output::json_of(&check);
    } else if check.ready {
        out!(
            "ready for cut-over: no active run, nothing pending, {} migrated project(s) validate without mismatch, the lock is free",
            check.validated_projects
        );
    } else {
        for b in &check.blockers {
            out!(
                "blocked ({}): {}\n  clear it with: {}",
                b.kind,
                b.message,
                b.command
            );
        }
    }
    if check.ready {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "not ready for cut-over: {} blocker(s)",
            check.blockers.len()
        )))
    }
}

pub async fn follow(ctx: Ctx<'_>, args: &FollowArgs) -> Result<(), CliError> {
    let every = ontofleet_ops::parse::duration(&args.every)?;
    let pool = ctx.db().await?;
    let producer = ctx.producer()?;
    let request = FollowRequest {
        initiated_by: format!("{} follow", initiated_by()),
        allow_mass_delete: args.allow_mass_delete,
    };
    let actor = actor();
    // SIGTERM/SIGINT: the pass under way finishes (it is a run the fleet executes), then stop.
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    loop {
        if *stop.borrow() {
            break;
        }
        let began = Instant::now();
        let mut announced = false;
        let pass = ontofleet_ops::sync::follow_pass(&pool, &request, &producer, &actor, |run| {
            if !announced && !ctx.json() {
                out!(
                    "pass: run {} started over {} project(s)",
                    run.run_id,
                    run.items.total
                );
                announced = true;
            }
        })
        .await;
        let pass = match pass {
            Ok(pass) => pass,
            // The database is away: try again at the next tick, as a daemon should.
            Err(OpsError::Unavailable(e)) => {
                eprintln!(
                    "warning: pass not started: {e}; trying again in {}",
                    args.every
                );
                wait(&mut stop, every.saturating_sub(began.elapsed())).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if ctx.json() {
            output::json_line(&pass);
        } else {
            match &pass.run {
                None => out!("lag: {}; nothing to do", lag(&pass.before)),
                Some(run) => {
                    out!("lag before: {}", lag(&pass.before));
                    out!(
                        "pass: run {} {} in {}: {} succeeded, {} partial, {} failed, {} skipped",
                        run.run_id,
                        run.status,
                        output::secs(run.duration_secs),
                        run.items.succeeded,
                        run.items.partial,
                        run.items.failed,
                        run.items.skipped
                    );
                    out!("lag after: {}", lag(&pass.after));
                }
            }
        }
        if pass.budget_exhausted {
            let run = pass
                .run
                .as_ref()
                .map(|r| r.run_id.to_string())
                .unwrap_or_default();
            return Err(CliError::run_unsuccessful(format!(
                "follow stopped: pass {run} paused itself on its error budget; see `ontofleet run show {run}`, then `ontofleet run resume {run}` or cancel it"
            )));
        }
        wait(&mut stop, every.saturating_sub(began.elapsed())).await;
    }
    if !ctx.json() {
        out!("follow stopped: the last pass finished");
    }
    Ok(())
}

/// Sleep `d`, or less if the stop signal comes.
async fn wait(stop: &mut tokio::sync::watch::Receiver<bool>, d: Duration) {
    if *stop.borrow() {
        return;
    }
    let _ = tokio::time::timeout(d, stop.changed()).await;
}
