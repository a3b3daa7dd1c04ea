//! Layered configuration: built-in defaults → optional `ontofleet.toml` (or `--config FILE`) →
//! environment `ONTOFLEET__SECTION__KEY`; the database URL then comes from `--database-url`,
//! `ONTOFLEET_DATABASE_URL` or `DATABASE_URL`, in that order.

use std::path::Path;

use ontofleet_ops::classifier::ClassifierSettings;
use ontofleet_ops::types::{DbSettings, RetryPolicies, WorkerSettings};
use serde::Deserialize;

use crate::CliError;

/// Everything the binary can be configured with.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub log_format: String,
    pub database: DbSettings,
    pub worker: WorkerSettings,
    pub job: JobSettings,
    pub lock: LockSettings,
    pub producer: ProducerConfig,
    pub retry: RetryPolicies,
    /// Test builds only (the `faults` feature); absent from release binaries.
    #[cfg(feature = "faults")]
    #[serde(default)]
    pub faults: FaultSettings,
    pub pipeline: PipelineSettings,
    pub classifier: ClassifierSettings,
    pub telemetry: TelemetrySettings,
    pub api: ApiSettings,
    /// `[governor]` (SPEC §14).
    #[serde(default)]
    pub governor: ontofleet_ops::governor::GovernorSettings,
    /// `[runs]`.
    pub runs: RunsSettings,
}

/// `[runs]`: defaults of every run.
#[derive(Debug, Clone, Deserialize)]
pub struct RunsSettings {
    /// The error budget in % (0: none).
    pub max_failure_rate: f64,
    /// The finished items it looks at.
    pub failure_window: i32,
    /// How far before the last pass's start `--changed-since last` looks (a duration: `5m`).
    pub incremental_overlap: String,
    /// The mass-delete guard, % of a project's mapped rows.
    pub max_delete_share: f64,
}

impl RunsSettings {
    /// The default error budget, if any.
    pub fn error_budget(&self) -> Option<ontofleet_ops::types::ErrorBudget> {
        ontofleet_ops::types::ErrorBudget {
            max_failure_rate: self.max_failure_rate,
            failure_window: self.failure_window.max(1),
        }
        .effective()
    }

    /// `incremental_overlap` as a duration, or a configuration error naming the key.
    pub fn overlap(&self) -> Result<std::time::Duration, CliError> {
        // No overlap is a choice (`0`, `0s`), unlike a zero duration anywhere else.
        let number = self
            .incremental_overlap
            .trim()
            .trim_end_matches(['s', 'm', 'h', 'd', 'w']);
        if !number.is_empty() && number.chars().all(|c| c == '0') {
            return Ok(std::time::Duration::ZERO);
        }
        ontofleet_ops::parse::duration(&self.incremental_overlap)
            .map_err(|e| CliError::usage(format!("runs.incremental_overlap: {e}")))
    }
}

/// `[api]`: `ontofleet serve`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub addr: String,
    pub pool_size: u32,
    pub read_statement_timeout_ms: u64,
    pub write_statement_timeout_ms: u64,
    pub session_absolute_secs: u64,
    pub session_idle_secs: u64,
    pub events_interval_ms: u64,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Deserialize)]
pub struct TelemetrySettings {
    /// Ops server address of a worker; empty = off.
    pub listen: String,
    /// Export the backlog gauges from this process.
    pub backlog: bool,
    /// Seconds between two backlog queries.
    pub backlog_interval_secs: u64,
    /// Seconds between two readings of the catch-up lag (with `backlog`).
    pub sync_interval_secs: u64,
}

/// Pipeline options (`[pipeline]`).
#[derive(Debug, Clone, Deserialize)]
pub struct PipelineSettings {
    pub day_first: bool,
    pub chunk_tasks: usize,
}

/// Test-only fault injection; off unless configured (`ONTOFLEET__FAULTS__*`).
#[cfg(feature = "faults")]
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FaultSettings {
    pub delay_ms: u64,
    /// `""` = off, `"*"` = every project, else a legacy project id.
    pub fail_project: String,
    /// `recoverable`, `data`, `fatal`, `panic` or `timeout`.
    pub fail_kind: String,
    /// The first this many attempts fail.
    pub fail_attempts: u32,
}

#[cfg(feature = "faults")]
impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            delay_ms: 0,
            fail_project: String::new(),
            fail_kind: "recoverable".to_owned(),
            fail_attempts: 0,
        }
    }
}

#[cfg(feature = "faults")]
impl FaultSettings {
    /// The worker's view, or a configuration error naming the bad key.
    pub fn parse(&self) -> Result<ontofleet_worker::Faults, CliError> {
        let fail = match self.fail_project.as_str() {
            "" => None,
            project => Some(ontofleet_worker::FailRule {
                project: match project {
                    "*" => None,
                    id => Some(id.parse().map_err(|_| {
                        CliError::usage(format!(
                            "faults.fail_project `{id}` is neither `*` nor a project id"
                        ))
                    })?),
                },
                kind: self
                    .fail_kind
                    .parse()
                    .map_err(|e| CliError::usage(format!("faults.fail_kind: {e}")))?,
                attempts: self.fail_attempts,
            }),
        };
        Ok(ontofleet_worker::Faults {
            delay: std::time::Duration::from_millis(self.delay_ms),
            fail,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    pub timeout_secs: u64,
}

/// `[producer]`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProducerConfig {
    pub analyze_legacy_tables: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LockSettings {
    pub lease_secs: u64,
}

const DEFAULTS: &str = include_str!("defaults.toml");

impl Settings {
    pub fn load(file: Option<&Path>, database_url: Option<&str>) -> Result<Self, CliError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        builder = match file {
            Some(path) => {
                if !path.exists() {
                    return Err(CliError::usage(format!(
                        "config file {} does not exist",
                        path.display()
                    )));
                }
                builder.add_source(config::File::from(path))
            }
            None => builder.add_source(config::File::with_name("ontofleet.toml").required(false)),
        };
        builder = builder.add_source(
            config::Environment::with_prefix("ONTOFLEET")
                .prefix_separator("__")
                .separator("__"),
        );
        let mut settings: Settings = builder
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| CliError::usage(format!("invalid configuration: {e}")))?;
        let from_env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        if let Some(url) = database_url
            .map(str::to_owned)
            .or_else(|| from_env("ONTOFLEET_DATABASE_URL"))
            .or_else(|| from_env("DATABASE_URL"))
        {
            settings.database.url = url;
        }
        Ok(settings)
    }

    pub fn require_database(&self) -> Result<&DbSettings, CliError> {
        if self.database.url.is_empty() {
            return Err(CliError::usage(
                "no database URL: pass --database-url, or set ONTOFLEET_DATABASE_URL or DATABASE_URL",
            ));
        }
        Ok(&self.database)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_the_spec_policy() {
        let s = Settings::load(None, Some("postgres://x@y/z")).unwrap();
        assert_eq!(s.retry, RetryPolicies::SPEC);
        assert_eq!(s.worker.shutdown_grace_secs, 25);
        assert!(s.worker.heartbeat_secs * (s.worker.missed_heartbeats as u64 + 1) <= 30);
        assert_eq!(s.database.url, "postgres://x@y/z");
    }
}
