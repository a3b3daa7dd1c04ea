//! `enqueue --project P [--run R] [--force] [--watch]`.

use crate::CliError;
use crate::cli::EnqueueArgs;
use crate::context::{Ctx, actor};
use crate::output::{self, or_dash, out};

pub async fn run(ctx: Ctx<'_>, args: &EnqueueArgs) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let e = ontofleet_ops::jobs::enqueue(
        &pool,
        args.project,
        args.run,
        &ctx.producer()?,
        &ctx.operator(args.force),
        &actor(),
    )
    .await?;
    if args.watch {
        return output::watch::follow(ctx, &pool, e.run_id).await;
    }
    if ctx.json() {
        output::json_of(&e);
    } else {
        let run_id = e.run_id;
        out!("{run_id}");
        eprintln!(
            "project {} enqueued as job {} in {} run {run_id}{}; follow it with `ontofleet run watch {run_id}`",
            args.project,
            or_dash(e.job_id.as_deref()),
            if e.new_run { "new" } else { "existing" },
            if e.reopened { " (reopened)" } else { "" },
        );
    }
    Ok(())
}
