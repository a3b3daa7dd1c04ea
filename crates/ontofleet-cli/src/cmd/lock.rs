//! `lock status` and `lock release [--force]`.

use ontofleet_ops::lock::Released;

use crate::CliError;
use crate::cli::LockCommand;
use crate::context::{Ctx, actor};
use crate::output::{self, or_dash, out};

pub async fn run(ctx: Ctx<'_>, command: &LockCommand) -> Result<(), CliError> {
    match command {
        LockCommand::Status => status(ctx).await,
        LockCommand::Release { force } => release(ctx, *force).await,
    }
}

async fn status(ctx: Ctx<'_>) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let lock = ontofleet_ops::lock::status(&pool).await?;
    if ctx.json() {
        output::json_of(&lock);
        return Ok(());
    }
    let state = match (lock.run_id, lock.held) {
        (None, _) => "free",
        (Some(_), true) => "held",
        (Some(_), false) => "expired (a new platform run may take it)",
    };
    out!("lock       {state}");
    out!(
        "run        {}{}",
        or_dash(lock.run_id),
        lock.run_status
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    out!("holder     {}", or_dash(lock.holder.as_deref()));
    out!("token      {}", lock.token);
    out!(
        "locked     {}",
        or_dash(lock.locked_at.map(|t| t.to_rfc3339()))
    );
    out!(
        "renewed    {}",
        or_dash(lock.renewed_at.map(|t| t.to_rfc3339()))
    );
    out!(
        "expires    {}",
        or_dash(lock.expires_at.map(|t| t.to_rfc3339()))
    );
    out!(
        "released   {}{}",
        or_dash(lock.released_at.map(|t| t.to_rfc3339())),
        lock.released_by
            .as_deref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default()
    );
    Ok(())
}

async fn release(ctx: Ctx<'_>, force: bool) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let released = ontofleet_ops::lock::release(&pool, force, &actor()).await?;
    if ctx.json() {
        output::json_of(&released);
        return Ok(());
    }
    match released {
        Released::NotHeld { .. } => out!("the platform lock is not held; nothing to release"),
        Released::Released {
            run_id: run,
            run_status: status,
            forced: true,
            released_by: by,
            ..
        } => out!(
            "platform lock released by {by}; run {run} is still {} but can no longer commit: \
             cancel it with `ontofleet run cancel {run}`",
            status.unwrap_or_default()
        ),
        Released::Released {
            run_id: run,
            released_by: by,
            ..
        } => out!("stale platform lock of run {run} released by {by}"),
    }
    Ok(())
}
