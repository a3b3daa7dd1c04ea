//! One module per command group. Each command parses its arguments (through
//! `ontofleet_ops::parse`), calls one `ontofleet-ops` operation, and prints the typed response
//! as text or, with `--json`, as the serialised response; what they share lives in
//! [`crate::context`] and [`crate::output`], never in another command's module.

mod controls;
mod db;
mod enqueue;
mod governor;
mod jobs;
mod lock;
mod run;
mod seed;
mod serve;
mod stats;
mod sync;
mod token;
mod worker;

use crate::CliError;
use crate::cli::{Cli, Command, RunCommand};
use crate::context::{Ctx, init_logging};
use crate::settings::Settings;

/// Run the command `cli` names.
pub async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load(cli.config.as_deref(), cli.database_url.as_deref())?;
    init_logging(&cli, &settings)?;
    let ctx = Ctx {
        cli: &cli,
        settings: &settings,
    };
    match &cli.command {
        Command::Db(command) => db::run(ctx, command).await,
        Command::Seed(args) => seed::run(ctx, args).await,
        Command::Run(
            command @ (RunCommand::Pause { .. }
            | RunCommand::Resume { .. }
            | RunCommand::Limit { .. }),
        ) => controls::run(ctx, command).await,
        Command::Run(command) => run::run(ctx, command).await,
        Command::Enqueue(args) => enqueue::run(ctx, args).await,
        Command::Jobs(command) => jobs::run(ctx, command).await,
        Command::Stats(args) => stats::run(ctx, args).await,
        Command::Lock(command) => lock::run(ctx, command).await,
        Command::Worker(args) => worker::run(ctx, args).await,
        Command::Serve(args) => serve::run(ctx, args).await,
        Command::Token(command) => token::run(ctx, command).await,
        Command::Governor(command) => governor::run(ctx, command).await,
        Command::Sync(_) => sync::status(ctx).await,
        Command::Follow(args) => sync::follow(ctx, args).await,
        Command::Cutover(_) => sync::cutover(ctx).await,
    }
}
