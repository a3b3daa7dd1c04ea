//! Operator commands over jobs and finished runs: `enqueue`, `jobs …`, `run validate`,
//! `run rollback`, `stats`.

use std::time::Duration;

use ontofleet_core::{ErrorCategory, ItemStatus};
use ontofleet_producer::operator::{OperatorSettings, RetryTarget};
use serde_json::Value;
use uuid::Uuid;

use crate::cli::{Cli, EnqueueArgs, JobsCommand, StatsArgs};
use crate::commands::{actor, connect, initiated_by, load_run, or_dash, require_schema, watch};
use crate::output::out;
use crate::settings::Settings;
use crate::{CliError, output};

/// A job id as `jobs list` prints it (a ULID), upper-cased as apalis stores it.
fn job_id(raw: &str) -> Result<String, CliError> {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let id = raw.trim().to_ascii_uppercase();
    if id.len() == 26 && id.chars().all(|c| ALPHABET.contains(c)) {
        Ok(id)
    } else {
        Err(CliError::usage(format!(
            "`{raw}` is not a job id (a 26-character ULID, as `ontofleet jobs list` prints)"
        )))
    }
}

fn job_ids(raw: &[String]) -> Result<Vec<String>, CliError> {
    let mut ids = raw
        .iter()
        .map(|r| job_id(r))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn category(raw: &str) -> Result<ErrorCategory, CliError> {
    raw.parse().map_err(|_| {
        CliError::usage(format!(
            "unknown category `{raw}` (expected recoverable, data or fatal)"
        ))
    })
}

fn item_status(raw: &str) -> Result<ItemStatus, CliError> {
    raw.parse().map_err(|_| {
        CliError::usage(format!(
            "unknown status `{raw}` (expected one of {})",
            ItemStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `14d`, `12h`, `30m`, `90s`, `2w`, or a sum such as `1d12h`.
pub fn parse_age(raw: &str) -> Result<Duration, CliError> {
    let bad = || {
        CliError::usage(format!(
            "`{raw}` is not a duration (use a number and a unit: 14d, 12h, 30m, 90s, 2w)"
        ))
    };
    let mut total = 0u64;
    let mut digits = String::new();
    for c in raw.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn operator_settings(settings: &Settings, force: bool) -> OperatorSettings {
    OperatorSettings {
        policies: settings.retry,
        lease: Duration::from_secs(settings.lock.lease_secs),
        initiated_by: initiated_by(),
        force,
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    or_dash(t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()))
}

fn short(s: Option<&str>, n: usize) -> String {
    match s {
        None => "-".to_owned(),
        Some(s) => {
            let one_line = s.replace('\n', " ");
            if one_line.chars().count() > n {
                format!("{}…", one_line.chars().take(n).collect::<String>())
            } else {
                one_line
            }
        }
    }
}

fn print_runs_touched(r: &ontofleet_ops::jobs::Retried) {
    for c in &r.runs {
        let n = r.jobs.iter().filter(|j| j.run_id == c.run_id).count();
        let reopened = if c.reopened {
            format!(" (reopened: it was {})", c.previous_status)
        } else {
            String::new()
        };
        out!(
            "run {}: {n} job(s) requeued{reopened}; follow it with `ontofleet run watch {}`",
            c.run_id,
            c.run_id
        );
        if let Some(old) = c.superseded_run_id {
            out!("  took the platform lock over from expired run {old}, now cancelled");
        }
    }
}

/// `enqueue --project P [--run R]`.
pub async fn enqueue(cli: &Cli, settings: &Settings, args: &EnqueueArgs) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let e = ontofleet_ops::jobs::enqueue(
        &pool,
        args.project,
        args.run,
        &crate::commands::producer_settings(settings),
        &operator_settings(settings, args.force),
        &actor(),
    )
    .await?;
    let (run_id, job_id, new_run, reopened) = (e.run_id, e.job_id.clone(), e.new_run, e.reopened);
    if args.watch {
        return watch(cli, &pool, run_id).await;
    }
    if cli.json {
        output::json_of(&e);
    } else {
        out!("{run_id}");
        eprintln!(
            "project {} enqueued as job {} in {} run {run_id}{}; follow it with `ontofleet run watch {run_id}`",
            args.project,
            or_dash(job_id.as_deref()),
            if new_run { "new" } else { "existing" },
            if reopened { " (reopened)" } else { "" },
        );
    }
    Ok(())
}

pub async fn jobs(cli: &Cli, settings: &Settings, command: &JobsCommand) -> Result<(), CliError> {
    // Arguments are checked before connecting: a typo is a usage error even without a database.
    match command {
        JobsCommand::List {
            run,
            status,
            category: cat,
            limit,
        } => {
            if *limit < 1 {
                return Err(CliError::usage("--limit must be at least 1"));
            }
            let filter = ontofleet_queue::JobFilter {
                run_id: *run,
                item_status: status
                    .as_deref()
                    .map(item_status)
                    .transpose()?
                    .map(|s| s.as_str().to_owned()),
                category: cat
                    .as_deref()
                    .map(category)
                    .transpose()?
                    .map(|c| c.as_str().to_owned()),
                limit: *limit,
                after: None,
            };
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            if let Some(run) = run {
                load_run(&pool, *run).await?;
            }
            jobs_list(cli, &pool, &filter).await
        }
        JobsCommand::Show { job } => {
            let id = job_id(job)?;
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            jobs_show(cli, &pool, &id).await
        }
        JobsCommand::Retry {
            jobs,
            run,
            category: cat,
            force,
        } => {
            let target = match run {
                Some(run_id) => RetryTarget::Run {
                    run_id: *run_id,
                    category: cat.as_deref().map(category).transpose()?,
                },
                None => RetryTarget::Jobs(job_ids(jobs)?),
            };
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let report = ontofleet_ops::jobs::retry(
                &pool,
                &target,
                &operator_settings(settings, *force),
                &actor(),
            )
            .await?;
            if cli.json {
                output::json_of(&report);
            } else if report.jobs.is_empty() {
                out!("nothing to retry: no failed or skipped item matches");
            } else {
                output::table(
                    &["JOB", "RUN", "PROJECT", "WAS", "CATEGORY"],
                    &report
                        .jobs
                        .iter()
                        .map(|j| {
                            vec![
                                j.job_id.clone(),
                                j.run_id.to_string(),
                                j.project_id.to_string(),
                                j.previous_status.clone(),
                                or_dash(j.category.as_deref()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                );
                print_runs_touched(&report);
            }
            Ok(())
        }
        JobsCommand::Kill { jobs } => {
            let ids = job_ids(jobs)?;
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let report = ontofleet_ops::jobs::kill(&pool, &ids, &actor()).await?;
            if cli.json {
                output::json_of(&report);
            } else {
                for j in &report.jobs {
                    out!(
                        "killed job {} (run {}, project {}): item cancelled",
                        j.job_id,
                        j.run_id,
                        j.project_id
                    );
                }
                for c in &report.completed_runs {
                    out!("run {} has nothing left to do: {}", c.run_id, c.status);
                }
            }
            Ok(())
        }
        JobsCommand::Purge { older_than } => {
            let age = parse_age(older_than)?;
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let purged = ontofleet_ops::jobs::purge(&pool, age, &actor()).await?;
            if cli.json {
                output::json_of(&purged);
            } else {
                out!(
                    "deleted {} finished queue row(s) and {} worker registration(s) older than {older_than}; \
                     items, attempts and the migration log are kept",
                    purged.jobs_deleted,
                    purged.workers_deleted
                );
            }
            Ok(())
        }
    }
}

async fn jobs_list(
    cli: &Cli,
    pool: &sqlx::PgPool,
    filter: &ontofleet_queue::JobFilter,
) -> Result<(), CliError> {
    let list = ontofleet_ops::jobs::list(pool, filter).await?;
    if cli.json {
        output::json_of(&list);
        return Ok(());
    }
    let jobs = &list.views;
    if jobs.is_empty() {
        out!("no jobs match");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|v| {
            vec![
                v.job_id.clone(),
                v.run_id.to_string(),
                v.project_id.to_string(),
                v.item_status.clone(),
                v.job_status.clone().unwrap_or_else(|| "purged".to_owned()),
                v.attempts.to_string(),
                or_dash(v.error_category.as_deref()),
                time(Some(v.updated_at)),
                short(v.last_error.as_deref(), 60),
            ]
        })
        .collect();
    output::table(
        &[
            "JOB",
            "RUN",
            "PROJECT",
            "STATUS",
            "QUEUE",
            "ATTEMPTS",
            "CATEGORY",
            "UPDATED",
            "LAST ERROR",
        ],
        &rows,
    );
    Ok(())
}

async fn jobs_show(cli: &Cli, pool: &sqlx::PgPool, id: &str) -> Result<(), CliError> {
    let detail = ontofleet_ops::jobs::show(pool, id).await?;
    if cli.json {
        output::json_of(&detail);
        return Ok(());
    }
    let (v, payload, item, attempts) = (
        &detail.view,
        &detail.payload,
        &detail.item_row,
        &detail.attempt_rows,
    );
    out!("job        {}", v.job_id);
    out!("run        {}", v.run_id);
    out!("project    {}", v.project_id);
    out!(
        "payload    {}",
        payload
            .as_ref()
            .map_or_else(|| "- (queue row purged)".to_owned(), |p| p.to_string())
    );
    match &v.job_status {
        Some(status) => out!(
            "queue      {status}, attempt {}/{}, run at {}, locked by {}, done {}",
            or_dash(v.queue_attempts),
            or_dash(v.max_attempts),
            time(v.run_at),
            or_dash(v.lock_by.as_deref()),
            time(v.done_at)
        ),
        None => out!("queue      purged (the ledger keeps the history below)"),
    }
    out!(
        "item       {}, {} attempt(s) ({} since the last retry){}",
        v.item_status,
        v.attempts,
        v.attempts - v.attempt_base,
        item.as_ref()
            .filter(|i| i.fallback_next)
            .map_or("", |_| ", next attempt in fallback mode")
    );
    if let Some(e) = &v.last_error {
        out!(
            "last error [{}] {}",
            or_dash(v.error_category.as_deref()),
            short(Some(e), 200)
        );
    }
    if let Some(counts) = item.as_ref().and_then(|i| i.counts.as_ref()) {
        out!("counts     {counts}");
    }
    out!();
    if attempts.is_empty() {
        out!("no attempt recorded yet");
    } else {
        output::table(
            &[
                "ATTEMPT", "WORKER", "STARTED", "DURATION", "OUTCOME", "CATEGORY", "FALLBACK",
                "MESSAGE",
            ],
            &attempts
                .iter()
                .map(|a| {
                    vec![
                        a.attempt.to_string(),
                        or_dash(a.worker.as_deref()),
                        time(Some(a.started_at)),
                        a.duration_ms
                            .map_or_else(|| "-".to_owned(), |ms| format!("{ms} ms")),
                        a.outcome.clone(),
                        or_dash(a.error_category.as_deref()),
                        if a.fallback { "yes" } else { "no" }.to_owned(),
                        short(a.error_message.as_deref(), 100),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(())
}

/// `run validate RUN`.
pub async fn run_validate(cli: &Cli, settings: &Settings, run_id: Uuid) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let checked = ontofleet_ops::runs::validate(&pool, run_id).await?;
    let (v, mismatches) = (&checked.validation, checked.mismatches);
    if cli.json {
        output::json_of(&checked);
    } else {
        out!(
            "run {run_id} ({}): {} project(s)",
            checked.run_status,
            v.projects
        );
        out!();
        output::table(
            &[
                "LEGACY TABLE",
                "SELECTED",
                "OK",
                "EXPLAINED",
                "MISSING",
                "DANGLING",
            ],
            &v.entities
                .iter()
                .map(|(t, e)| {
                    vec![
                        t.clone(),
                        e.selected.to_string(),
                        e.ok.to_string(),
                        e.explained.to_string(),
                        e.missing.to_string(),
                        e.dangling.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        out!();
        out!(
            "edges      {} expected, {} missing",
            v.edges_expected,
            v.edges_missing
        );
        out!("orphans    {}", v.orphans);
        out!("projects   {} not migrated", v.not_migrated);
        if !v.samples.is_empty() {
            out!();
            output::table(
                &["MISMATCH", "TABLE", "ID"],
                &v.samples
                    .iter()
                    .map(|m| vec![m.kind.clone(), m.table.clone(), m.id.to_string()])
                    .collect::<Vec<_>>(),
            );
        }
        out!();
        if mismatches == 0 {
            out!("ok: source and target reconcile");
        }
    }
    if mismatches > 0 {
        return Err(CliError::runtime(format!(
            "run {run_id} does not reconcile: {mismatches} mismatch(es); retry failed items with \
             `ontofleet jobs retry --run {run_id}` or reprocess a project with `ontofleet enqueue --project UUID`"
        )));
    }
    Ok(())
}

/// `run rollback RUN --yes`.
pub async fn run_rollback(
    cli: &Cli,
    settings: &Settings,
    run_id: Uuid,
    yes: bool,
) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let done = ontofleet_ops::runs::rollback(&pool, run_id, yes, &actor()).await?;
    let (total, rows) = (&done.totals, done.mappings_deleted);
    if cli.json {
        output::json_of(&done);
    } else {
        out!(
            "rolled back run {run_id}: {rows} row(s) and their mappings deleted in {} of {} project(s) ({}), \
             {} edge(s); {} row(s) kept because a later run changed them",
            total.projects_changed,
            total.projects,
            total
                .rows_deleted
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            total.edges_deleted,
            total.kept
        );
    }
    Ok(())
}

/// `stats [--refresh] [--users]`.
pub async fn stats(cli: &Cli, settings: &Settings, args: &StatsArgs) -> Result<(), CliError> {
    if args.limit < 1 {
        return Err(CliError::usage("--limit must be at least 1"));
    }
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let stats = ontofleet_ops::stats::stats(
        &pool,
        ontofleet_ops::stats::StatsRequest {
            refresh: args.refresh,
            users: args.users,
            limit: args.limit,
        },
        &actor(),
    )
    .await?;
    if cli.json {
        output::json_of(&stats);
        return Ok(());
    }
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
    if let Some(users) = &stats.users {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_units_and_sums() {
        let cases = [
            ("90s", 90),
            ("30m", 1_800),
            ("12h", 43_200),
            ("14d", 1_209_600),
            ("2w", 1_209_600),
            ("1d12h", 129_600),
        ];
        for (raw, secs) in cases {
            assert_eq!(parse_age(raw).unwrap(), Duration::from_secs(secs), "{raw}");
        }
        for bad in [
            "",
            "0s",
            "14",
            "d",
            "5x",
            "1.5h",
            "-3d",
            "99999999999999999999w",
        ] {
            let err = parse_age(bad).unwrap_err();
            assert_eq!(err.code, 2, "{bad}");
        }
    }

    #[test]
    fn job_ids_are_ulids_upper_cased() {
        assert_eq!(
            job_id("01m7yn6bjz4mayaqjcv4jzf2ad").unwrap(),
            "01M7YN6BJZ4MAYAQJCV4JZF2AD"
        );
        for bad in [
            "",
            "nonsense",
            "01M7YN6BJZ4MAYAQJCV4JZF2A",
            "01M7YN6BJZ4MAYAQJCV4JZF2AU",
        ] {
            assert_eq!(job_id(bad).unwrap_err().code, 2, "{bad}");
        }
    }
}
