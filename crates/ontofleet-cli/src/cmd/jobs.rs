//! `jobs list|show|retry|kill|purge`. Arguments are checked before connecting: a typo is a
//! usage error even without a database.

use ontofleet_ops::jobs::{JobDetail, JobList, Retried};
use ontofleet_ops::parse;
use ontofleet_ops::types::{JobFilter, RetryTarget};

use crate::CliError;
use crate::cli::JobsCommand;
use crate::context::{Ctx, actor};
use crate::output::{self, or_dash, out, short, time};

pub async fn run(ctx: Ctx<'_>, command: &JobsCommand) -> Result<(), CliError> {
    match command {
        JobsCommand::List {
            run,
            status,
            category,
            limit,
        } => {
            let limit = parse::limit(*limit)?;
            let filter = JobFilter {
                run_id: *run,
                item_status: status
                    .as_deref()
                    .map(parse::item_status)
                    .transpose()?
                    .map(|s| s.as_str().to_owned()),
                category: category
                    .as_deref()
                    .map(parse::category)
                    .transpose()?
                    .map(|c| c.as_str().to_owned()),
                limit,
                after: None,
            };
            let pool = ctx.db().await?;
            let list = ontofleet_ops::jobs::list_checked(&pool, &filter).await?;
            if ctx.json() {
                output::json_of(&list);
            } else {
                print_list(&list);
            }
        }
        JobsCommand::Show { job } => {
            let id = parse::job_id(job)?;
            let pool = ctx.db().await?;
            let detail = ontofleet_ops::jobs::show(&pool, &id).await?;
            if ctx.json() {
                output::json_of(&detail);
            } else {
                print_detail(&detail);
            }
        }
        JobsCommand::Retry {
            jobs,
            run,
            category,
            force,
        } => {
            let target = match run {
                Some(run_id) => RetryTarget::Run {
                    run_id: *run_id,
                    category: category.as_deref().map(parse::category).transpose()?,
                },
                None => RetryTarget::Jobs(parse::job_ids(jobs)?),
            };
            let pool = ctx.db().await?;
            let report =
                ontofleet_ops::jobs::retry(&pool, &target, &ctx.operator(*force), &actor()).await?;
            if ctx.json() {
                output::json_of(&report);
            } else {
                print_retried(&report);
            }
        }
        JobsCommand::Kill { jobs } => {
            let ids = parse::job_ids(jobs)?;
            let pool = ctx.db().await?;
            let report = ontofleet_ops::jobs::kill(&pool, &ids, &actor()).await?;
            if ctx.json() {
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
        }
        JobsCommand::Purge { older_than } => {
            let age = parse::duration(older_than)?;
            let pool = ctx.db().await?;
            let purged = ontofleet_ops::jobs::purge(&pool, age, &actor()).await?;
            if ctx.json() {
                output::json_of(&purged);
            } else {
                out!(
                    "deleted {} finished queue row(s) and {} worker registration(s) older than {older_than}; \
                     items, attempts and the migration log are kept",
                    purged.jobs_deleted,
                    purged.workers_deleted
                );
            }
        }
    }
    Ok(())
}

fn print_list(list: &JobList) {
    let jobs = &list.views;
    if jobs.is_empty() {
        out!("no jobs match");
        return;
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
}

fn print_detail(detail: &JobDetail) {
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
        return;
    }
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

fn print_retried(report: &Retried) {
    if report.jobs.is_empty() {
        out!("nothing to retry: no failed or skipped item matches");
        return;
    }
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
    for c in &report.runs {
        let n = report.jobs.iter().filter(|j| j.run_id == c.run_id).count();
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
