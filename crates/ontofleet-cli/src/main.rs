//! The `ontofleet` operator binary: a thin adapter over `ontofleet-ops`, as the admin API is.
//! `cli` is the grammar, `settings` the layered configuration, `context` what every command
//! shares (the database, the actor, telemetry, the shutdown signal), `cmd` one module per
//! command group — each parses, calls the operation, prints — and `output` the printers they
//! share. Exit codes (SPEC §7): 0 success, 1 runtime failure, 2 usage or configuration error,
//! 3 a watched run ended `completed_with_errors` or `cancelled`, 4 refused: platform lock held.

mod cli;
mod cmd;
mod context;
mod output;
mod settings;

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

/// clap's own errors in the one-line form every other error has (help and version print as
/// usual).
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // "the following required arguments were not provided:" names them on the next line.
    let first = if first.ends_with(':') {
        let next = rendered
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.ends_with(':'))
            .nth(1)
            .unwrap_or("");
        format!("{first} {next}")
    } else {
        first.to_owned()
    };
    // "Usage: ontofleet jobs retry <JOB>..." names the command whose help to point at.
    let command = rendered
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['<', '[', '-']))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "ontofleet".to_owned());
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // `ontofleet jobs` alone: clap would print the whole help as the "error".
        eprintln!("error: `{command}` needs a subcommand (see `{command} --help`)");
    } else {
        eprintln!("error: {first} (see `{command} --help`)");
    }
    ExitCode::from(2)
}

/// An error reported as one line on stderr, with its exit code.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// Exit 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
    /// Exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// Exit 3.
    pub fn run_unsuccessful(message: impl Into<String>) -> Self {
        Self {
            code: 3,
            message: message.into(),
        }
    }
}

impl From<ontofleet_ops::OpsError> for CliError {
    fn from(e: ontofleet_ops::OpsError) -> Self {
        Self {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(cmd::dispatch(args));
    // Spans and metrics still buffered go out now. A dead collector costs at most 2 s per signal,
    // which the pod's termination grace covers beyond the drain (deploy/, `make deploy-check`).
    if let Some(telemetry) = context::TELEMETRY.get() {
        telemetry.shutdown(std::time::Duration::from_secs(2));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = e.message.replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::from(e.code)
        }
    }
}
