//! `run pause|resume|limit`: the run controls of SPEC §14.

use ontofleet_ops::controls::{LimitRequest, PauseRequest, Paused};

use crate::CliError;
use crate::cli::RunCommand;
use crate::context::{Ctx, actor};
use crate::output::{self, or_dash, out};

pub async fn run(ctx: Ctx<'_>, command: &RunCommand) -> Result<(), CliError> {
    match command {
        RunCommand::Pause { run, reason, now } => {
            let pool = ctx.db().await?;
            let req = PauseRequest {
                reason: reason.clone(),
                now: *now,
            };
            let paused = ontofleet_ops::controls::pause(&pool, *run, &req, &actor()).await?;
            if ctx.json() {
                output::json_of(&paused);
            } else {
                print_paused(&paused);
            }
        }
        RunCommand::Resume { run } => {
            let pool = ctx.db().await?;
            let resumed = ontofleet_ops::controls::resume(&pool, *run, &actor()).await?;
            if ctx.json() {
                output::json_of(&resumed);
            } else {
                out!(
                    "run {} resumed (paused since {} by {}); its items left go on",
                    resumed.run_id,
                    or_dash(resumed.paused_at.map(|t| t.to_rfc3339())),
                    or_dash(resumed.paused_by.as_deref())
                );
            }
        }
        RunCommand::Limit {
            run,
            max_inflight,
            max_rate,
            for_,
            clear,
        } => {
            let req = LimitRequest {
                max_inflight: *max_inflight,
                max_rate: *max_rate,
                for_secs: for_
                    .as_deref()
                    .map(ontofleet_ops::parse::duration)
                    .transpose()?
                    .map(|d| d.as_secs()),
                clear: *clear,
            };
            let pool = ctx.db().await?;
            let limited = ontofleet_ops::controls::limit(&pool, *run, &req, &actor()).await?;
            if ctx.json() {
                output::json_of(&limited);
            } else if *clear {
                out!("run {}: limits cleared", limited.run_id);
            } else {
                let mut parts = Vec::new();
                if let Some(n) = limited.max_inflight {
                    parts.push(format!("at most {n} in flight"));
                }
                if let Some(n) = limited.max_rate {
                    parts.push(format!("at most {n} started per second"));
                }
                out!(
                    "run {}: {} across the fleet{}; from the next claim",
                    limited.run_id,
                    parts.join(", "),
                    limited
                        .limit_until
                        .map(|u| format!(" until {}", u.to_rfc3339()))
                        .unwrap_or_default()
                );
            }
        }
        _ => unreachable!("dispatched to cmd::run"),
    }
    Ok(())
}

fn print_paused(p: &Paused) {
    out!(
        "run {} paused by {}: {}; no job of it starts until `ontofleet run resume {}`",
        p.run_id,
        or_dash(p.paused_by.as_deref()),
        or_dash(p.reason.as_deref()),
        p.run_id
    );
    if p.jobs_given_back > 0 {
        out!("{} claimed job(s) given back unstarted", p.jobs_given_back);
    }
    if p.items_still_running > 0 {
        out!(
            "{} item(s) still running finish first (`ontofleet run watch {}`)",
            p.items_still_running,
            p.run_id
        );
    }
}
