//! `run start|preview|list|show|watch|cancel|validate|rollback`.

use ontofleet_ops::preview::PreviewRequest;
use ontofleet_ops::types::{RunRequest, Selection};
use uuid::Uuid;

use crate::CliError;
use crate::cli::{PreviewArgs, RunCommand, Scope, StartArgs};
use crate::context::{Ctx, actor, initiated_by};
use crate::output::{self, out, out_part};

pub async fn run(ctx: Ctx<'_>, command: &RunCommand) -> Result<(), CliError> {
    match command {
        RunCommand::Start(args) => start(ctx, args).await,
        RunCommand::Preview(args) => preview(ctx, args).await,
        RunCommand::List { limit } => list(ctx, *limit).await,
        RunCommand::Show { run } => show(ctx, *run).await,
        RunCommand::Watch { run } => {
            let pool = ctx.db().await?;
            output::watch::follow(ctx, &pool, *run).await
        }
        RunCommand::Cancel { run } => cancel(ctx, *run).await,
        RunCommand::Validate { run } => validate(ctx, *run).await,
        RunCommand::Rollback { run, yes } => rollback(ctx, *run, *yes).await,
        RunCommand::Pause { .. } | RunCommand::Resume { .. } | RunCommand::Limit { .. } => {
            unreachable!("dispatched to cmd::controls")
        }
    }
}

/// The one selector of `run start|preview`; none is a usage error.
fn selection(scope: &Scope, command: &str) -> Result<Selection, CliError> {
    if scope.all {
        Ok(Selection::All)
    } else if let Some(user) = scope.user {
        Ok(Selection::User(user))
    } else if !scope.project.is_empty() {
        Ok(Selection::Projects(scope.project.clone()))
    } else {
        Err(CliError::usage(format!(
            "`run {command}` needs a selection: --all, --user UUID or --project UUID..."
        )))
    }
}

async fn start(ctx: Ctx<'_>, args: &StartArgs) -> Result<(), CliError> {
    let selection = selection(&args.scope, "start")?;
    let pool = ctx.db().await?;
    let request = RunRequest {
        selection,
        include_archived: args.options.include_archived,
        include_completed_tasks: args.options.include_completed_tasks,
        resync: args.options.resync,
        dry_run: args.dry_run,
        force: args.force,
        initiated_by: initiated_by(),
        error_budget: ontofleet_ops::controls::error_budget(
            args.max_failure_rate,
            args.failure_window,
            ctx.settings.runs.error_budget(),
        )?,
        changed_since: args
            .changed_since
            .as_deref()
            .map(ontofleet_ops::parse::changed_since)
            .transpose()?,
        allow_mass_delete: args.allow_mass_delete,
    };
    let started = ontofleet_ops::runs::start(&pool, &request, &ctx.producer()?, &actor()).await?;
    if args.watch {
        return output::watch::follow(ctx, &pool, started.run_id).await;
    }
    if ctx.json() {
        output::json_of(&started);
    } else {
        out!("{}", started.run_id);
        eprintln!(
            "run {} {}: {} project(s) enqueued",
            started.run_id, started.status, started.total_items
        );
    }
    Ok(())
}

/// `run preview` (SPEC §4.8): the live pipeline (same selection, classifier and templates) in
/// dry-run mode, one read-only transaction per project that is rolled back. Writes nothing.
async fn preview(ctx: Ctx<'_>, args: &PreviewArgs) -> Result<(), CliError> {
    let selection = selection(&args.scope, "preview")?;
    let limit = ontofleet_ops::parse::limit(args.limit)?;
    let pool = ctx.db().await?;
    let request = PreviewRequest {
        selection,
        limit,
        include_archived: args.options.include_archived,
        include_completed_tasks: args.options.include_completed_tasks,
        resync: args.options.resync,
    };
    let factory = ctx.pipeline();
    let preview =
        ontofleet_ops::preview::preview(&pool, &request, |catalog| factory(catalog)).await?;
    if ctx.json() {
        output::json_of(&preview);
        return Ok(());
    }
    if preview.totals.projects_selected == 0 {
        out!(
            "no project selected (archived projects need --include-archived, already-migrated ones --resync)"
        );
    }
    for project in &preview.projects {
        out_part!("{}", output::preview::preview_block(project));
    }
    out!(
        "{}",
        output::preview::preview_total(&serde_json::to_value(&preview.totals).unwrap_or_default())
    );
    Ok(())
}

async fn list(ctx: Ctx<'_>, limit: i64) -> Result<(), CliError> {
    let limit = ontofleet_ops::parse::limit(limit)?;
    let pool = ctx.db().await?;
    let list = ontofleet_ops::runs::list(&pool, limit).await?;
    if ctx.json() {
        output::json_of(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .runs
        .iter()
        .map(|v| {
            let i = &v.items;
            vec![
                v.run_id.to_string(),
                format!("{}{}", v.scope, if v.dry_run { " (dry)" } else { "" }),
                v.status.clone(),
                format!("{}/{}", v.done(), i.total),
                (i.partial + i.failed + i.skipped).to_string(),
                v.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                output::secs(v.duration_secs),
            ]
        })
        .collect();
    output::table(
        &[
            "RUN",
            "SCOPE",
            "STATUS",
            "DONE",
            "WITH ERRORS",
            "CREATED",
            "DURATION",
        ],
        &rows,
    );
    Ok(())
}

async fn show(ctx: Ctx<'_>, run_id: Uuid) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let detail = ontofleet_ops::runs::show(&pool, run_id).await?;
    if ctx.json() {
        output::json_of(&detail);
    } else {
        output::run::print_detail(&detail);
    }
    Ok(())
}

async fn cancel(ctx: Ctx<'_>, run_id: Uuid) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let c = ontofleet_ops::runs::cancel(&pool, run_id, &actor()).await?;
    let (cancelled, killed, running) = (c.items_cancelled, c.jobs_killed, c.items_still_running);
    if ctx.json() {
        output::json_of(&c);
    } else if c.status == "cancelled" {
        out!("run {run_id} cancelled: {cancelled} items cancelled, {killed} queued jobs killed");
    } else {
        out!(
            "run {run_id} cancelling: {cancelled} items cancelled, {killed} queued jobs killed; \
             {running} running items finish first (`ontofleet run watch {run_id}`)"
        );
    }
    Ok(())
}

/// `run validate RUN`: exit 1 on a mismatch.
async fn validate(ctx: Ctx<'_>, run_id: Uuid) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let checked = ontofleet_ops::runs::validate(&pool, run_id).await?;
    if ctx.json() {
        output::json_of(&checked);
    } else {
        output::run::print_validation(run_id, &checked);
    }
    if checked.mismatches > 0 {
        return Err(CliError::runtime(format!(
            "run {run_id} does not reconcile: {} mismatch(es); retry failed items with \
             `ontofleet jobs retry --run {run_id}` or reprocess a project with `ontofleet enqueue --project UUID`",
            checked.mismatches
        )));
    }
    Ok(())
}

/// `run rollback RUN --yes`.
async fn rollback(ctx: Ctx<'_>, run_id: Uuid, yes: bool) -> Result<(), CliError> {
    let pool = ctx.db().await?;
    let done = ontofleet_ops::runs::rollback(&pool, run_id, yes, &actor()).await?;
    let (total, rows) = (&done.totals, done.mappings_deleted);
    if ctx.json() {
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
