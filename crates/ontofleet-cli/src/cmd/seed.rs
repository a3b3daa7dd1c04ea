//! `seed`: the development tool that creates the legacy schema and deterministic synthetic data
//! (never run against production: the legacy tables are the app's there).

use std::time::Instant;

use serde_json::json;

use crate::CliError;
use crate::cli::SeedArgs;
use crate::context::Ctx;
use crate::output::{self, out};

pub async fn run(ctx: Ctx<'_>, args: &SeedArgs) -> Result<(), CliError> {
    let pool = ctx.db_any().await?;
    if args.reset {
        ontofleet_ops::db::reset_app_data(&pool).await?;
        ontofleet_seed::reset(&pool)
            .await
            .map_err(|e| CliError::runtime(format!("reset failed: {e}")))?;
    }
    ontofleet_seed::create_schema(&pool)
        .await
        .map_err(|e| CliError::runtime(format!("cannot create the legacy schema: {e}")))?;
    if args.schema_only {
        if ctx.json() {
            output::json(&json!({"schema": "created"}));
        } else {
            out!("legacy schema ready");
        }
        return Ok(());
    }
    let opts = ontofleet_seed::SeedOptions {
        users: args.users,
        projects_per_user: args.projects_per_user,
        tasks_per_project: args.tasks_per_project,
        seed: args.seed,
        bad_rows: args.bad_rows,
        giant_project_tasks: args.giant_project_tasks,
    };
    let started = Instant::now();
    let report = ontofleet_seed::seed(&pool, &opts).await.map_err(|e| {
        CliError::runtime(format!("seeding failed: {e} (the same --seed twice collides: add --reset or pick another --seed)"))
    })?;
    ontofleet_ops::db::refresh_stats_if_present(&pool).await?;
    let counts = json!({
        "users": report.users, "projects": report.projects, "phases": report.phases, "phase_tasks": report.phase_tasks,
        "tasks": report.tasks, "project_calendars": report.project_calendars, "events": report.events,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if ctx.json() {
        output::json(&counts);
    } else {
        out!(
            "seeded {} users, {} projects, {} phases, {} tasks, {} calendar events in {}",
            report.users,
            report.projects,
            report.phases,
            report.tasks,
            report.events,
            output::secs(started.elapsed().as_secs_f64())
        );
    }
    Ok(())
}
