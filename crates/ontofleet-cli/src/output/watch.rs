//! A watched run as `run watch`, `run start --watch` and `enqueue --watch` print it: a progress
//! bar on a terminal, a line every 5 s otherwise, then the final line (or `--json` document) and
//! the exit code (3 unless the run completed cleanly).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ontofleet_ops::types::PgPool;
use ontofleet_ops::watch::Tick;
use uuid::Uuid;

use super::{breakdown, category_counts, json_of, out, secs};
use crate::CliError;
use crate::context::Ctx;

/// Follow `run_id` until it is terminal ([`ontofleet_ops::watch::watch`]) and print it.
pub async fn follow(ctx: Ctx<'_>, pool: &PgPool, run_id: Uuid) -> Result<(), CliError> {
    let tty = std::io::stderr().is_terminal() && !ctx.json() && !ctx.cli.quiet;
    let lines = !ctx.cli.quiet && !ctx.json();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut last_line: Option<Instant> = None;
    let run = ontofleet_ops::watch::watch(pool, run_id, |tick: &Tick<'_>| {
        let (run, done) = (tick.run, tick.run.done());
        let categories = category_counts(tick.by_status);
        let mut msg = if categories.is_empty() {
            breakdown(&run.items)
        } else {
            format!("{}; errors: {categories}", breakdown(&run.items))
        };
        // Anything holding the run back, with its reason.
        if !tick.last && !tick.state.is_empty() && tick.state != "running freely" {
            msg = format!("{msg} [{}]", tick.state);
        }
        if tty {
            let bar = bar.get_or_insert_with(|| {
                let bar = indicatif::ProgressBar::new(run.items.total.max(0) as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} items  {per_sec}  ETA {eta}  {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            bar.set_length(run.items.total.max(0) as u64);
            bar.set_position(done.max(0) as u64);
            bar.set_message(msg);
        } else if lines
            && (tick.last || last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)))
        {
            let eta = match tick.pace.eta_secs {
                _ if tick.last => "-".to_owned(),
                Some(s) => secs(s),
                None if i64::from(run.items.total) - done <= 0 => "-".to_owned(),
                None => "?".to_owned(),
            };
            eprintln!(
                "run {run_id} {}: {done}/{} items ({:.1}/s, ETA {eta}) {msg}",
                run.status, run.items.total, tick.pace.rate_per_sec
            );
            last_line = Some(Instant::now());
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if ctx.json() {
        json_of(&run);
    } else {
        out!(
            "run {} {} in {}: {} items — {}",
            run.run_id,
            run.status,
            secs(run.duration_secs),
            run.items.total,
            breakdown(&run.items)
        );
        out!("details: ontofleet run show {}", run.run_id);
    }
    match run.status.as_str() {
        "completed" => Ok(()),
        other => Err(CliError::run_unsuccessful(format!(
            "run {run_id} finished {other}; see `ontofleet run show {run_id}`"
        ))),
    }
}
