//! The `ontofleet` operator binary: parses flags, loads settings, calls the libraries, prints.
//! Exit codes (SPEC §7): 0 success, 1 runtime failure, 2 usage or configuration error, 3 a
//! watched run ended `completed_with_errors` or `cancelled`, 4 refused: platform lock held.

mod cli;
mod commands;
mod output;
mod settings;

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

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
    /// Exit 4.
    pub fn locked(message: impl Into<String>) -> Self {
        Self {
            code: 4,
            message: message.into(),
        }
    }
}

impl From<ontofleet_db::DbError> for CliError {
    fn from(e: ontofleet_db::DbError) -> Self {
        match e {
            ontofleet_db::DbError::BadUrl(_) => Self::usage(e.to_string()),
            ontofleet_db::DbError::Unreachable { .. } => Self::runtime(format!(
                "{e}; check that PostgreSQL is running and the URL is right"
            )),
            other => Self::runtime(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for CliError {
    fn from(e: sqlx::Error) -> Self {
        Self::runtime(format!("database error: {e}"))
    }
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
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
    match runtime.block_on(commands::dispatch(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = e.message.replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::from(e.code)
        }
    }
}
