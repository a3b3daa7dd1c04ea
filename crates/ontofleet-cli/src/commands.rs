//! Command implementations: each loads what it needs, calls the libraries and prints.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ontofleet_core::RunStatus;
use ontofleet_db::ledger::RunRow;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::cli::{
    Cli, Command, DbCommand, LockCommand, PreviewArgs, RunCommand, Scope, SeedArgs, StartArgs,
};
use crate::output::{out, out_part};
use crate::settings::Settings;
use crate::{CliError, ops, output};

pub async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref(), cli.database_url.as_deref())?;
    init_logging(&cli, &settings)?;
    match &cli.command {
        Command::Db(DbCommand::Migrate) => db_migrate(&cli, &settings).await,
        Command::Db(DbCommand::Status) => db_status(&cli, &settings).await,
        Command::Seed(args) => seed(&cli, &settings, args).await,
        Command::Run(RunCommand::Start(args)) => run_start(&cli, &settings, args).await,
        Command::Run(RunCommand::Preview(args)) => run_preview(&cli, &settings, args).await,
        Command::Run(RunCommand::List { limit }) => run_list(&cli, &settings, *limit).await,
        Command::Run(RunCommand::Show { run }) => run_show(&cli, &settings, *run).await,
        Command::Run(RunCommand::Watch { run }) => {
            let pool = connect(&settings).await?;
            watch(&cli, &pool, *run).await
        }
        Command::Run(RunCommand::Cancel { run }) => run_cancel(&cli, &settings, *run).await,
        Command::Run(RunCommand::Validate { run }) => {
            ops::run_validate(&cli, &settings, *run).await
        }
        Command::Run(RunCommand::Rollback { run, yes }) => {
            ops::run_rollback(&cli, &settings, *run, *yes).await
        }
        Command::Enqueue(args) => ops::enqueue(&cli, &settings, args).await,
        Command::Jobs(command) => ops::jobs(&cli, &settings, command).await,
        Command::Stats(args) => ops::stats(&cli, &settings, args).await,
        Command::Lock(LockCommand::Status) => lock_status(&cli, &settings).await,
        Command::Lock(LockCommand::Release { force }) => {
            lock_release(&cli, &settings, *force).await
        }
        Command::Worker(args) => crate::worker::worker(&settings, args).await,
        Command::Serve(args) => crate::serve::serve(&settings, args).await,
        Command::Token(command) => crate::serve::token(&cli, &settings, command).await,
    }
}

/// The process's telemetry, flushed by `main` once the command returns.
pub static TELEMETRY: std::sync::OnceLock<std::sync::Arc<ontofleet_telemetry::Telemetry>> =
    std::sync::OnceLock::new();

fn init_logging(cli: &Cli, settings: &Settings) -> Result<(), CliError> {
    let default = match (
        cli.quiet,
        cli.verbose,
        matches!(cli.command, Command::Worker(_) | Command::Serve(_)),
    ) {
        (true, _, _) => "error",
        (false, 0, false) => "warn",
        (false, 0, true) | (false, 1, _) => {
            "info,sqlx=warn,opentelemetry=warn,opentelemetry_sdk=warn"
        }
        (false, 2, _) => "debug,sqlx=warn,hyper_util=info,reqwest=info",
        _ => "trace",
    };
    let format = cli.log_format.as_deref().unwrap_or(&settings.log_format);
    let telemetry = ontofleet_telemetry::init(ontofleet_telemetry::LogOptions {
        format,
        default_filter: default,
    })
    .map_err(|e| CliError::usage(e.to_string()))?;
    let _ = TELEMETRY.set(std::sync::Arc::new(telemetry));
    Ok(())
}

pub(crate) async fn connect(settings: &Settings) -> Result<PgPool, CliError> {
    Ok(ontofleet_db::connect(settings.require_database()?).await?)
}

pub(crate) async fn require_schema(pool: &PgPool) -> Result<(), CliError> {
    let ready: bool = sqlx::query_scalar(
        "SELECT to_regclass('public.migration_runs') IS NOT NULL AND to_regclass('apalis.jobs') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    if ready {
        Ok(())
    } else {
        Err(CliError::runtime(
            "the ontofleet schema is not installed: run `ontofleet db migrate` first",
        ))
    }
}

async fn db_migrate(cli: &Cli, settings: &Settings) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    ontofleet_db::migrate_all(&pool, &ontofleet_queue::migrator()).await?;
    let states = ontofleet_db::migration_status(
        &pool,
        &[
            ("queue", &ontofleet_queue::migrator()),
            ("app", &ontofleet_db::MIGRATOR),
        ],
    )
    .await?;
    let applied = states.iter().filter(|s| s.applied_at.is_some()).count();
    if cli.json {
        output::json(&json!({"applied": applied, "pending": states.len() - applied}));
    } else {
        out!("schema up to date: {applied} migrations applied (app + queue)");
    }
    Ok(())
}

async fn db_status(cli: &Cli, settings: &Settings) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    let status = ontofleet_ops::db::status(&pool).await?;
    if cli.json {
        output::json_of(&status);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = status
        .migrations
        .iter()
        .map(|s| {
            vec![
                s.set.to_owned(),
                s.version.to_string(),
                s.description.clone(),
                s.applied_at.map_or_else(
                    || "pending".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
                ),
            ]
        })
        .collect();
    output::table(&["SET", "VERSION", "DESCRIPTION", "APPLIED"], &rows);
    Ok(())
}

async fn seed(cli: &Cli, settings: &Settings, args: &SeedArgs) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    if args.reset {
        ontofleet_db::reset_app_data(&pool, ontofleet_queue::QUEUE).await?;
        ontofleet_seed::reset(&pool)
            .await
            .map_err(|e| CliError::runtime(format!("reset failed: {e}")))?;
    }
    ontofleet_seed::create_schema(&pool)
        .await
        .map_err(|e| CliError::runtime(format!("cannot create the legacy schema: {e}")))?;
    if args.schema_only {
        if cli.json {
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
    ontofleet_db::refresh_stats_if_present(&pool).await?;
    let counts = json!({
        "users": report.users, "projects": report.projects, "phases": report.phases, "phase_tasks": report.phase_tasks,
        "tasks": report.tasks, "project_calendars": report.project_calendars, "events": report.events,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if cli.json {
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

/// The command line's user, as the audit records it.
pub(crate) fn actor() -> ontofleet_ops::access::Actor {
    ontofleet_ops::access::Actor::cli(initiated_by())
}

pub(crate) fn initiated_by() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    format!("{user}@{host} (cli)")
}

async fn run_start(cli: &Cli, settings: &Settings, args: &StartArgs) -> Result<(), CliError> {
    use ontofleet_producer::RunRequest;
    let selection = selection(&args.scope, "start")?;
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let request = RunRequest {
        selection,
        include_archived: args.options.include_archived,
        include_completed_tasks: args.options.include_completed_tasks,
        resync: args.options.resync,
        dry_run: args.dry_run,
        force: args.force,
        initiated_by: initiated_by(),
    };
    let started =
        ontofleet_ops::runs::start(&pool, &request, &producer_settings(settings), &actor()).await?;
    if args.watch {
        return watch(cli, &pool, started.run_id).await;
    }
    if cli.json {
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

/// The producer's settings from the configuration: the lease and the retry policy.
pub(crate) fn producer_settings(settings: &Settings) -> ontofleet_producer::ProducerSettings {
    ontofleet_producer::ProducerSettings {
        lease: Duration::from_secs(settings.lock.lease_secs),
        policies: settings.retry,
        analyze_legacy_tables: settings.producer.analyze_legacy_tables,
    }
}

/// The one selector of `run start|preview`; none is a usage error.
fn selection(scope: &Scope, command: &str) -> Result<ontofleet_producer::Selection, CliError> {
    use ontofleet_producer::Selection;
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

/// Map a selection refusal the way `run start` does: an unknown user or project is a usage error.
/// `run preview` (SPEC §4.8): the live pipeline (same selection, classifier and templates) in
/// dry-run mode, one read-only transaction per project that is rolled back. Writes nothing.
async fn run_preview(cli: &Cli, settings: &Settings, args: &PreviewArgs) -> Result<(), CliError> {
    let selection = selection(&args.scope, "preview")?;
    if args.limit < 1 {
        return Err(CliError::usage("--limit must be at least 1"));
    }
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let request = ontofleet_ops::preview::PreviewRequest {
        selection,
        limit: args.limit,
        include_archived: args.options.include_archived,
        include_completed_tasks: args.options.include_completed_tasks,
        resync: args.options.resync,
    };
    let preview = ontofleet_ops::preview::preview(&pool, &request, |catalog| {
        let classifier = settings
            .classifier
            .build(&catalog)
            .map_err(|e| ontofleet_ops::OpsError::Invalid(e.to_string()))?;
        Ok(
            ontofleet_pipeline::Pipeline::with_classifier(std::sync::Arc::new(catalog), classifier)
                .day_first(settings.pipeline.day_first)
                .chunk_tasks(settings.pipeline.chunk_tasks),
        )
    })
    .await?;
    if cli.json {
        output::json_of(&preview);
    } else {
        if preview.totals.projects_selected == 0 {
            out!(
                "no project selected (archived projects need --include-archived, already-migrated ones --resync)"
            );
        }
        for project in &preview.projects {
            out_part!("{}", output::preview_block(project));
        }
        out!(
            "{}",
            output::preview_total(&serde_json::to_value(&preview.totals).unwrap_or_default())
        );
    }
    Ok(())
}

/// Items by the category of their last failure (failed, skipped and retrying ones alike):
/// `recoverable 3, data 1`, or empty.
fn category_counts(by_status: &[ontofleet_ops::runs::StatusCount]) -> String {
    ontofleet_core::ErrorCategory::ALL
        .iter()
        .filter_map(|c| {
            let n: i64 = by_status
                .iter()
                .filter(|r| r.category.as_deref() == Some(c.as_str()))
                .map(|r| r.count)
                .sum();
            (n > 0).then(|| format!("{} {n}", c.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Terminal items by status, as every human-readable run view prints them.
fn breakdown(run: &RunRow) -> String {
    format!(
        "{} succeeded, {} partial, {} failed, {} skipped, {} cancelled",
        run.succeeded_items,
        run.partial_items,
        run.failed_items,
        run.skipped_items,
        run.cancelled_items
    )
}

async fn run_list(cli: &Cli, settings: &Settings, limit: i64) -> Result<(), CliError> {
    if limit < 1 {
        return Err(CliError::usage("--limit must be at least 1"));
    }
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let list = ontofleet_ops::runs::list(&pool, limit).await?;
    if cli.json {
        output::json_of(&list);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .runs
        .iter()
        .map(|v| {
            let r = &v.row;
            vec![
                r.id.to_string(),
                format!("{}{}", r.scope, if r.dry_run { " (dry)" } else { "" }),
                r.status.clone(),
                format!("{}/{}", r.done_items(), r.total_items),
                (r.partial_items + r.failed_items + r.skipped_items).to_string(),
                r.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
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

pub(crate) async fn load_run(pool: &PgPool, run: Uuid) -> Result<RunRow, CliError> {
    Ok(ontofleet_ops::runs::get(pool, run).await?)
}

async fn run_show(cli: &Cli, settings: &Settings, run_id: Uuid) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let detail = ontofleet_ops::runs::show(&pool, run_id).await?;
    if cli.json {
        output::json_of(&detail);
        return Ok(());
    }
    let run = &detail.run.row;
    let holds_lock = detail.lock.held_by_this_run;
    let lock = &detail.lock;
    let entities = &detail.entities;
    out!("run        {}", run.id);
    out!(
        "scope      {}{}",
        run.scope,
        if run.dry_run { " (dry run)" } else { "" }
    );
    out!("status     {}", run.status);
    out!(
        "items      {}/{} done: {}",
        run.done_items(),
        run.total_items,
        breakdown(run)
    );
    out!(
        "started    {}",
        run.started_at
            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    );
    out!(
        "finished   {}",
        run.finished_at
            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
    );
    out!("duration   {}", output::secs(detail.run.duration_secs));
    out!("reference  {}", run.reference_time.to_rfc3339());
    out!(
        "lock       {}",
        match run.lock_token {
            Some(t) if holds_lock => format!(
                "held (token {t}, expires {})",
                lock.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default()
            ),
            Some(t) => format!("released (token {t})"),
            None => "not taken (scoped or dry run)".to_owned(),
        }
    );
    out!();
    output::table(
        &["ITEM STATUS", "CATEGORY", "COUNT"],
        &detail
            .items_by_status
            .iter()
            .map(|r| {
                vec![
                    r.status.clone(),
                    r.category.clone().unwrap_or_else(|| "-".to_owned()),
                    r.count.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    if let Some(map) = entities.as_object().filter(|m| !m.is_empty()) {
        out!();
        let rows: Vec<Vec<String>> = ["project", "document", "plan", "task", "event", "edges"]
            .iter()
            .filter_map(|k| map.get(*k).map(|v| (k, v)))
            .map(|(k, v)| {
                let cells = v
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(a, n)| format!("{a} {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                vec![(*k).to_owned(), cells]
            })
            .collect();
        output::table(&["ENTITY", "ACTIONS"], &rows);
        // Tasks by the classifier that answered (`rules`, `openai`, `rules(fallback)`).
        if let Some(by) = map
            .get("classified")
            .and_then(|v| v.as_object())
            .filter(|o| !o.is_empty())
        {
            out!(
                "classified {}",
                by.iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if !detail.entity_problems.is_empty() {
        out!();
        output::table(
            &["ENTITY PROBLEM", "STATUS", "CATEGORY", "COUNT"],
            &detail
                .entity_problems
                .iter()
                .map(|p| {
                    vec![
                        p.entity_type.clone(),
                        p.status.clone(),
                        p.category.clone().unwrap_or_default(),
                        p.count.to_string(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    if !detail.top_errors.is_empty() {
        out!();
        output::table(
            &["CATEGORY", "ITEMS", "TOP ERRORS"],
            &detail
                .top_errors
                .iter()
                .map(|e| {
                    vec![
                        e.category.clone().unwrap_or_default(),
                        e.items.to_string(),
                        e.message.chars().take(120).collect(),
                    ]
                })
                .collect::<Vec<_>>(),
        );
    }
    Ok(())
}

/// How often `run watch` re-reads the per-category breakdown of a run's items.
const BREAKDOWN_EVERY: Duration = Duration::from_secs(5);

/// Follow a run until it is terminal: a progress bar on a terminal, periodic lines otherwise.
pub(crate) async fn watch(cli: &Cli, pool: &PgPool, run_id: Uuid) -> Result<(), CliError> {
    let first = load_run(pool, run_id).await?;
    let tty = std::io::stderr().is_terminal() && !cli.json && !cli.quiet;
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(first.total_items.max(0) as u64);
        bar.set_position(first.done_items().max(0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} items  {per_sec}  ETA {eta}  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let first_done = first.done_items();
    let mut last_line = Instant::now() - Duration::from_secs(60);
    // The completing commit sends a NOTIFY: the watch returns as soon as the run ends, not at
    // its next poll. Without a listener (e.g. behind a transaction-mode pooler) it just polls.
    let mut categories = String::new();
    let mut breakdown_at: Option<Instant> = None;
    let mut listener = ontofleet_ops::runs::completion_listener(pool).await;
    let run = loop {
        let run = load_run(pool, run_id).await?;
        let done = run.done_items();
        let status: RunStatus = run
            .status
            .parse()
            .map_err(|e| CliError::runtime(format!("{e}")))?;
        // The counters come from the run row; the per-category breakdown reads every item of
        // the run, so it is refreshed every few seconds and at the end, not at every tick.
        if status.is_terminal() || breakdown_at.is_none_or(|t| t.elapsed() >= BREAKDOWN_EVERY) {
            categories =
                category_counts(&ontofleet_ops::runs::items_by_status(pool, run_id).await?);
            breakdown_at = Some(Instant::now());
        }
        let msg = if categories.is_empty() {
            breakdown(&run)
        } else {
            format!("{}; errors: {categories}", breakdown(&run))
        };
        if let Some(bar) = &bar {
            bar.set_length(run.total_items.max(0) as u64);
            bar.set_position(done.max(0) as u64);
            bar.set_message(msg.clone());
        } else if !cli.quiet
            && !cli.json
            && (last_line.elapsed() >= Duration::from_secs(5) || status.is_terminal())
        {
            // Rate and ETA over what this watch has seen: a run watched from the middle does
            // not claim the whole run's items happened since.
            let seen = (done - first_done).max(0) as f64;
            let rate = seen / started.elapsed().as_secs_f64().max(0.001);
            let left = (run.total_items - done).max(0) as f64;
            let eta = if status.is_terminal() || left == 0.0 {
                "-".to_owned()
            } else if rate > 0.0 {
                output::secs(left / rate)
            } else {
                "?".to_owned()
            };
            eprintln!(
                "run {run_id} {}: {done}/{} items ({rate:.1}/s, ETA {eta}) {msg}",
                run.status, run.total_items
            );
            last_line = Instant::now();
        }
        if status.is_terminal() {
            break run;
        }
        let tick = Duration::from_millis(500);
        match listener.as_mut() {
            Some(l) => {
                if let Ok(Err(_)) = tokio::time::timeout(tick, l.recv()).await {
                    listener = None;
                }
            }
            None => tokio::time::sleep(tick).await,
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let view = ontofleet_ops::runs::RunView::from(run);
    let run = &view.row;
    if cli.json {
        output::json_of(&view);
    } else {
        out!(
            "run {} {} in {}: {} items — {}",
            run.id,
            run.status,
            output::secs(view.duration_secs),
            run.total_items,
            breakdown(run)
        );
        out!("details: ontofleet run show {}", run.id);
    }
    match run.status.as_str() {
        "completed" => Ok(()),
        other => Err(CliError::run_unsuccessful(format!(
            "run {run_id} finished {other}; see `ontofleet run show {run_id}`"
        ))),
    }
}

async fn run_cancel(cli: &Cli, settings: &Settings, run_id: Uuid) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let c = ontofleet_ops::runs::cancel(&pool, run_id, &actor()).await?;
    let (cancelled, killed, running) = (c.items_cancelled, c.jobs_killed, c.items_still_running);
    if cli.json {
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

pub(crate) fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

async fn lock_status(cli: &Cli, settings: &Settings) -> Result<(), CliError> {
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let lock = ontofleet_ops::lock::status(&pool).await?;
    if cli.json {
        output::json_of(&lock);
        return Ok(());
    }
    let run_status = lock.run_status.clone();
    let state = match (lock.run_id, lock.held) {
        (None, _) => "free",
        (Some(_), true) => "held",
        (Some(_), false) => "expired (a new platform run may take it)",
    };
    out!("lock       {state}");
    out!(
        "run        {}{}",
        or_dash(lock.run_id),
        run_status.map(|s| format!(" ({s})")).unwrap_or_default()
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

async fn lock_release(cli: &Cli, settings: &Settings, force: bool) -> Result<(), CliError> {
    use ontofleet_ops::lock::Released;
    let pool = connect(settings).await?;
    require_schema(&pool).await?;
    let released = ontofleet_ops::lock::release(&pool, force, &actor()).await?;
    if cli.json {
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
