//! Command-line grammar (SPEC §7).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

/// `--version`: a test build (the `faults` feature) says so, and the test suites check it.
#[cfg(feature = "faults")]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (test build: fault injection)");
#[cfg(not(feature = "faults"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Parser)]
#[command(
    name = "ontofleet",
    version = VERSION,
    about = "Migrate BuildOS legacy planning data into the ontology schema with a durable worker fleet"
)]
pub struct Cli {
    /// PostgreSQL URL (else ONTOFLEET_DATABASE_URL, else DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Configuration file (default: ./ontofleet.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log format: text or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Schema management.
    #[command(subcommand)]
    Db(DbCommand),
    /// Create the legacy schema if missing and add deterministic synthetic data.
    Seed(SeedArgs),
    /// Runs: start, preview, list, show, watch, pause, resume, limit, cancel, validate, rollback.
    #[command(subcommand)]
    Run(RunCommand),
    /// Reprocess one project: a new single-project run, or added to an existing run with --run.
    /// Goes through the ledger: entities that did not change are not rewritten.
    Enqueue(EnqueueArgs),
    /// Queue jobs joined with their ledger items: list, show, retry, kill, purge.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Global progress and, with --users, the per-user table.
    Stats(StatsArgs),
    /// The platform lock: status, release.
    #[command(subcommand)]
    Lock(LockCommand),
    /// Run a worker process until SIGTERM/SIGINT.
    Worker(WorkerArgs),
    /// Serve the admin HTTP API until SIGTERM/SIGINT.
    Serve(ServeArgs),
    /// API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The database-health governor.
    #[command(subcommand)]
    Governor(GovernorCommand),
    /// Catch-up: how far the target is behind the source.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Catch-up passes (`run start --all --changed-since last`) one after the other until
    /// SIGTERM/SIGINT, which lets the current pass finish.
    Follow(FollowArgs),
    /// Cut-over: is anything left to do before the switch.
    #[command(subcommand)]
    Cutover(CutoverCommand),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Projects with changes the target does not have yet, and the oldest such change.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum CutoverCommand {
    /// Exit 0 only when nothing is left to do; else exit 1 with each blocker and its command.
    Check,
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// Start a pass at most this often (a pass longer than this is followed by the next at once).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub every: String,
    /// Let a pass delete more than `runs.max_delete_share` of a project's rows.
    #[arg(long)]
    pub allow_mass_delete: bool,
}

#[derive(Debug, Subcommand)]
pub enum GovernorCommand {
    /// The verdict claims obey, its reasons, the signals, the leader.
    Status,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (overrides `api.addr`; default 127.0.0.1:8080). A non-loopback address
    /// needs at least one API token.
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// Unique name (letters, digits, `.`, `_`, `-`).
        #[arg(long)]
        name: String,
        /// viewer, operator or admin.
        #[arg(long)]
        role: String,
        /// Lifetime, e.g. 30d, 12h (default: no expiry).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// Every token (never their secrets).
    List,
    /// Revoke a token; its sessions end at once.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the app and queue schemas (idempotent, safe from several processes).
    Migrate,
    /// Applied and pending migrations.
    Status,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Users to create.
    #[arg(long, default_value_t = 20)]
    pub users: u32,
    /// Projects per user.
    #[arg(long, default_value_t = 3)]
    pub projects_per_user: u32,
    /// Mean tasks per project (long-tailed).
    #[arg(long, default_value_t = 15)]
    pub tasks_per_project: u32,
    /// RNG seed: the same seed gives the same rows.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Add the edge cases of SPEC §4.5–4.7.
    #[arg(long)]
    pub bad_rows: bool,
    /// Also add one user with one active project of N tasks (`make bench-scale`'s giant project).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub giant_project_tasks: u32,
    /// Delete legacy, ontology, ledger and queue data first.
    #[arg(long)]
    pub reset: bool,
    /// Only create the legacy tables.
    #[arg(long)]
    pub schema_only: bool,
}

/// Which projects: exactly one selector (checked by the command, so that a missing one is a
/// one-line usage error like every other).
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub struct Scope {
    /// Every user's projects (takes the platform lock).
    #[arg(long)]
    pub all: bool,
    /// One user's projects (legacy user id).
    #[arg(long, value_name = "UUID")]
    pub user: Option<Uuid>,
    /// Explicit projects (legacy ids; repeatable).
    #[arg(long, value_name = "UUID", num_args = 1..)]
    pub project: Vec<Uuid>,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Start a run: one job per selected project.
    Start(StartArgs),
    /// Run the pipeline in-process for the selected projects and print what a run would write;
    /// writes nothing.
    Preview(PreviewArgs),
    /// Recent runs.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Counts by item status and error category, timings, lock.
    Show {
        /// Run id.
        run: Uuid,
    },
    /// Live progress until the run is terminal.
    Watch {
        /// Run id.
        run: Uuid,
    },
    /// Cancel a run: queued jobs are killed and their items cancelled, running ones finish,
    /// then the run is `cancelled` (and releases the platform lock).
    Cancel {
        /// Run id.
        run: Uuid,
    },
    /// Reconcile source and target for the run's projects: every selected legacy entity mapped
    /// to an existing row (or its failure logged), every implied edge present, no orphan rows.
    /// Exits 1 on a mismatch.
    Validate {
        /// Run id.
        run: Uuid,
    },
    /// Pause a run: no job of it starts until it is resumed; jobs in flight finish. The platform
    /// lock stays with it.
    Pause {
        /// Run id.
        run: Uuid,
        /// Why (shown wherever the run is).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Also give back at once the jobs claimed but not started yet.
        #[arg(long)]
        now: bool,
    },
    /// Resume a paused run: exactly the items left go on.
    Resume {
        /// Run id.
        run: Uuid,
    },
    /// Fleet-wide limits, enforced at claim time whatever the number of workers; they take
    /// effect at the next claim.
    Limit {
        /// Run id.
        run: Uuid,
        /// At most N items of the run running at once across the fleet.
        #[arg(long, value_name = "N")]
        max_inflight: Option<i32>,
        /// At most N projects started per second (over any 10 s window).
        #[arg(long, value_name = "N")]
        max_rate: Option<i32>,
        /// For this long (e.g. 30m, 2h), then the limits lapse.
        #[arg(long = "for", value_name = "DURATION")]
        for_: Option<String>,
        /// Remove the limits.
        #[arg(long, conflicts_with_all = ["max_inflight", "max_rate", "for_"])]
        clear: bool,
    },
    /// Delete, per project in one transaction, the ontology rows and mappings the run created;
    /// rows a later run changed stay. Logged as operation `rollback`.
    Rollback {
        /// Run id.
        run: Uuid,
        /// Required: rollback deletes data.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// Legacy project id.
    #[arg(long, value_name = "UUID")]
    pub project: Uuid,
    /// Add the project to this run (reopened if finished) instead of starting a new one.
    #[arg(long, value_name = "RUN")]
    pub run: Option<Uuid>,
    /// Go ahead while a platform run holds the lock (user- or project-scoped runs only).
    #[arg(long)]
    pub force: bool,
    /// Watch the run and print the final summary.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs with their items, most recently changed first.
    List {
        /// Only this run.
        #[arg(long, value_name = "RUN")]
        run: Option<Uuid>,
        /// Only items in this status (queued, running, retrying, succeeded, partial, failed,
        /// skipped, cancelled).
        #[arg(long)]
        status: Option<String>,
        /// Only items whose last failure has this category (recoverable, data, fatal).
        #[arg(long)]
        category: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Payload, queue row, item state and every attempt with its category, message, duration.
    Show {
        /// Job id (ULID).
        job: String,
    },
    /// Put finished jobs back to work: the given ones (failed, skipped, partial or cancelled
    /// items), or the failed and skipped items of a run. Attempts start again; a finished run is
    /// reopened and completes again.
    Retry {
        /// Job ids.
        #[arg(
            value_name = "JOB",
            required_unless_present = "run",
            conflicts_with = "run"
        )]
        jobs: Vec<String>,
        /// Retry the failed and skipped items of this run.
        #[arg(long, value_name = "RUN")]
        run: Option<Uuid>,
        /// With --run: only items whose failure has this category.
        #[arg(long, requires = "run")]
        category: Option<String>,
        /// Go ahead while a platform run holds the lock (user- or project-scoped runs only).
        #[arg(long)]
        force: bool,
    },
    /// Kill waiting jobs (queued or retrying items): their items become cancelled.
    Kill {
        /// Job ids.
        #[arg(value_name = "JOB", required = true)]
        jobs: Vec<String>,
    },
    /// Delete finished queue rows (done, killed, out of attempts) older than DURATION, and
    /// registrations of workers gone as long; the ledger keeps the history.
    Purge {
        /// Age, e.g. 14d, 12h, 30m, 90s, 2w.
        #[arg(long, value_name = "DURATION")]
        older_than: String,
    },
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Refresh the per-user materialized view first.
    #[arg(long)]
    pub refresh: bool,
    /// Print the per-user table.
    #[arg(long)]
    pub users: bool,
    /// With --users: at most this many users (most behind first).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Holder run, fencing token, lease and the last release.
    Status,
    /// Release a stale lock (its run is no longer active or its lease expired); with --force,
    /// clear it whatever holds it. Records who released it.
    Release {
        /// Clear the lock even while an active run holds an unexpired lease: that run can no
        /// longer commit (fencing) and should be cancelled.
        #[arg(long)]
        force: bool,
    },
}

/// What a run (or a preview) selects beyond its scope; shared so both read it the same way.
#[derive(Debug, Args)]
pub struct SelectionOptions {
    /// Include archived projects.
    #[arg(long)]
    pub include_archived: bool,
    /// Include done tasks.
    #[arg(long)]
    pub include_completed_tasks: bool,
    /// Include already-migrated projects; the ledger decides per entity (a preview shows its
    /// actions).
    #[arg(long)]
    pub resync: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub scope: Scope,
    #[command(flatten)]
    pub options: SelectionOptions,
    /// Preview through the queue: nothing written to the ontology.
    #[arg(long)]
    pub dry_run: bool,
    /// Start a scoped run even while a platform run holds the lock.
    #[arg(long)]
    pub force: bool,
    /// Watch the run and print the final summary.
    #[arg(long)]
    pub watch: bool,
    /// Error budget: pause the run when more than PCT % of its last `--failure-window` finished
    /// items failed or were skipped (0: none; default `runs.max_failure_rate`).
    #[arg(long, value_name = "PCT")]
    pub max_failure_rate: Option<f64>,
    /// The finished items the error budget looks at (default `runs.failure_window`).
    #[arg(long, value_name = "N")]
    pub failure_window: Option<i32>,
    /// A catch-up pass: only the projects where something changed since `last` (the start of
    /// the last completed pass covering them, minus `runs.incremental_overlap`) or TIMESTAMP.
    #[arg(long, value_name = "last|TIMESTAMP")]
    pub changed_since: Option<String>,
    /// Let a project's pass delete more than `runs.max_delete_share` of its rows.
    #[arg(long)]
    pub allow_mass_delete: bool,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub scope: Scope,
    /// At most this many projects (the first ones by legacy id).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub options: SelectionOptions,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs executed at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Worker name prefix.
    #[arg(long, value_name = "PREFIX")]
    pub name: Option<String>,
    /// Serve /livez, /readyz and /metrics on this address (overrides `telemetry.listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}
