//! `stats [--refresh] [--users] [--limit N]`.

use ontofleet_ops::stats::{Stats, StatsRequest};
use serde_json::Value;

use crate::CliError;
use crate::cli::StatsArgs;
use crate::context::{Ctx, actor};
use crate::output::{self, out};

pub async fn run(ctx: Ctx<'_>, args: &StatsArgs) -> Result<(), CliError> {
    let limit = ontofleet_ops::parse::limit(args.limit)?;
    let pool = ctx.db().await?;
    let request = StatsRequest {
        refresh: args.refresh,
        users: args.users,
        limit,
    };
    let stats = ontofleet_ops::stats::stats(&pool, request, &actor()).await?;
    if ctx.json() {
        output::json_of(&stats);
    } else {
        print(&stats);
    }
    Ok(())
}

fn print(stats: &Stats) {
    let (global, by_status) = (&stats.global, &stats.by_status);
    let n = |k: &str| global[k].as_i64().unwrap_or(0);
    let pct = |a: i64, b: i64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    out!(
        "projects   {}/{} migrated ({:.1} %), {} failed",
        n("migrated_projects"),
        n("total_projects"),
        pct(n("migrated_projects"), n("total_projects")),
        n("failed_projects")
    );
    out!(
        "tasks      {}/{} migrated ({:.1} %), {} failed",
        n("migrated_tasks"),
        n("total_tasks"),
        pct(n("migrated_tasks"), n("total_tasks")),
        n("failed_tasks")
    );
    out!(
        "users      {} ({} with projects): {}",
        n("total_users"),
        n("users_with_projects"),
        by_status
            .iter()
            .map(|(s, c)| format!("{s} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out!(
        "errors     {} logged: recoverable {}, data {}, fatal {}",
        n("total_errors"),
        n("recoverable_errors"),
        n("data_errors"),
        n("fatal_errors")
    );
    if let Some(ms) = stats.refresh_ms {
        out!("(per-user view refreshed in {ms} ms)");
    }
    let Some(users) = &stats.users else {
        return;
    };
    out!();
    let s = |u: &Value, k: &str| match &u[k] {
        Value::String(v) => v.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    output::table(
        &[
            "USER",
            "EMAIL",
            "STATUS",
            "PROJECTS",
            "FAILED",
            "TASKS",
            "DONE %",
            "LAST MIGRATION",
        ],
        &users
            .iter()
            .map(|u| {
                vec![
                    s(u, "user_id"),
                    s(u, "email"),
                    s(u, "migration_status"),
                    format!("{}/{}", s(u, "migrated_projects"), s(u, "total_projects")),
                    s(u, "failed_projects"),
                    format!("{}/{}", s(u, "migrated_tasks"), s(u, "total_tasks")),
                    s(u, "percent_complete"),
                    s(u, "last_migration_at"),
                ]
            })
            .collect::<Vec<_>>(),
    );
}
