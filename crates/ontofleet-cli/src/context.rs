//! What every command shares: the parsed command line and the layered settings, and from them
//! the database, the actor that audited changes are made for, the operations' settings, the
//! process's telemetry (logs, metrics, the ops endpoints, the backlog gauges) and the shutdown
//! signal.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ontofleet_ops::access::Actor;
use ontofleet_ops::classifier::PipelineFactory;
use ontofleet_ops::types::{OperatorSettings, PgPool, ProducerSettings};

use crate::CliError;
use crate::cli::{Cli, Command};
use crate::settings::Settings;

/// A command's view of its invocation.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The command line.
    pub cli: &'a Cli,
    /// The layered settings.
    pub settings: &'a Settings,
}

impl Ctx<'_> {
    /// `--json`: one JSON document on stdout.
    pub fn json(&self) -> bool {
        self.cli.json
    }

    /// A pool on a database whose ontofleet schema is installed.
    pub async fn db(&self) -> Result<PgPool, CliError> {
        Ok(ontofleet_ops::db::connect_ready(self.settings.require_database()?).await?)
    }

    /// A pool, whatever the schema (`db migrate`, `db status`, `seed`).
    pub async fn db_any(&self) -> Result<PgPool, CliError> {
        Ok(ontofleet_ops::db::connect(self.settings.require_database()?).await?)
    }

    /// The producer's settings: the lease, the retry policy, the statistics rule, the run
    /// defaults of `[runs]`.
    pub fn producer(&self) -> Result<ProducerSettings, CliError> {
        Ok(ProducerSettings {
            lease: Duration::from_secs(self.settings.lock.lease_secs),
            policies: self.settings.retry,
            analyze_legacy_tables: self.settings.producer.analyze_legacy_tables,
            error_budget: self.settings.runs.error_budget(),
            incremental_overlap: self.settings.runs.overlap()?,
            max_delete_share: self.settings.runs.max_delete_share,
        })
    }

    /// The operator changes' settings (`jobs retry`, `enqueue`).
    pub fn operator(&self, force: bool) -> OperatorSettings {
        OperatorSettings {
            policies: self.settings.retry,
            lease: Duration::from_secs(self.settings.lock.lease_secs),
            initiated_by: initiated_by(),
            force,
        }
    }

    /// The pipeline a preview runs: `[classifier]` and `[pipeline]` as a live run has them.
    pub fn pipeline(&self) -> PipelineFactory {
        ontofleet_ops::classifier::pipeline_factory(
            self.settings.classifier.clone(),
            self.settings.pipeline.day_first,
            self.settings.pipeline.chunk_tasks,
        )
    }
}

/// The command line's user, as the audit records it.
pub fn actor() -> Actor {
    Actor::cli(initiated_by())
}

/// `user@host (cli)`.
pub fn initiated_by() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    format!("{user}@{host} (cli)")
}

/// The process's telemetry, flushed by `main` once the command returns.
pub static TELEMETRY: OnceLock<Arc<ontofleet_telemetry::Telemetry>> = OnceLock::new();

/// Logs (and, where configured, OTLP export) for this command: quiet for one-shot commands,
/// INFO for the long-running `worker` and `serve`.
pub fn init_logging(cli: &Cli, settings: &Settings) -> Result<(), CliError> {
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
    let _ = TELEMETRY.set(Arc::new(telemetry));
    Ok(())
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// The ops endpoints of a worker (or of `serve`, with no `worker_prefix`): `/readyz` from
/// [`ontofleet_ops::health::ready`] on `probe` (2 s at most), `/metrics` with the `pools`'
/// connections read at scrape time.
pub fn ops_endpoints(
    probe: &PgPool,
    pools: &[&PgPool],
    worker_prefix: Option<String>,
) -> Arc<ontofleet_telemetry::server::Ops> {
    let ready_pool = probe.clone();
    let metrics_pools: Vec<PgPool> = pools.iter().map(|&p| p.clone()).collect();
    let schema_current = Arc::new(AtomicBool::new(false));
    ontofleet_telemetry::server::Ops::new(
        Box::new(move || {
            let (pool, prefix, current) = (
                ready_pool.clone(),
                worker_prefix.clone(),
                schema_current.clone(),
            );
            Box::pin(async move {
                let check = ontofleet_ops::health::ready(&pool, prefix.as_deref(), &current);
                tokio::time::timeout(Duration::from_secs(2), check)
                    .await
                    .unwrap_or_else(|_| Err("database did not answer within 2 s".to_owned()))
            })
        }),
        Box::new(move || {
            // The process's connections: every pool together.
            let idle: u64 = metrics_pools.iter().map(|p| p.num_idle() as u64).sum();
            let size: u64 = metrics_pools.iter().map(|p| u64::from(p.size())).sum();
            ontofleet_telemetry::metrics::record_pool(idle, size);
            TELEMETRY
                .get()
                .map(|t| t.prometheus_text())
                .unwrap_or_default()
        }),
    )
}

/// `telemetry.backlog`: the backlog gauges from [`ontofleet_ops::health::backlog`], one reading
/// per `backlog_interval_secs`, and the catch-up lag from [`ontofleet_ops::sync::status`], one
/// per `sync_interval_secs`.
pub fn export_backlog(pool: PgPool, settings: &Settings) -> Option<tokio::task::JoinHandle<()>> {
    let every = Duration::from_secs(settings.telemetry.backlog_interval_secs.max(1));
    let sync_every = Duration::from_secs(settings.telemetry.sync_interval_secs.max(1));
    settings.telemetry.backlog.then(|| {
        let sync_pool = pool.clone();
        let backlog = ontofleet_telemetry::backlog::export(every, move || {
            let pool = pool.clone();
            async move {
                let b = ontofleet_ops::health::backlog(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ontofleet_telemetry::backlog::BacklogGauges {
                    queued: b.queued,
                    running: b.running,
                    retrying: b.retrying,
                    active_runs: b.active_runs,
                    oldest_ready_age_secs: b.oldest_ready_age_secs,
                })
            }
        });
        let sync = ontofleet_telemetry::backlog::export_sync(sync_every, move || {
            let pool = sync_pool.clone();
            async move {
                let s = ontofleet_ops::sync::status(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ontofleet_telemetry::backlog::SyncGauges {
                    pending_projects: s.pending_projects,
                    oldest_change_age_secs: s
                        .oldest_change_at
                        .map(|at| (s.checked_at - at).num_milliseconds() as f64 / 1000.0)
                        .unwrap_or(0.0),
                })
            }
        });
        tokio::spawn(async move {
            tokio::join!(backlog, sync);
        })
    })
}

/// This process's governor candidate (SPEC §14), until the returned sender is used or dropped:
/// it takes the role when no live process holds it; as leader it samples, publishes and
/// records the governor's metrics. `name` names the process in `governor status`.
pub fn spawn_governor(
    pool: PgPool,
    settings: &Settings,
    name: String,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(ontofleet_ops::governor::run(
        pool,
        settings.governor.clone(),
        name,
        settings.database.application_name.clone(),
        |o: &ontofleet_ops::governor::Observation| {
            let mut highest: Vec<(&'static str, f64)> = Vec::new();
            for r in &o.readings {
                if let Some(v) = r.value {
                    match highest.iter_mut().find(|(s, _)| *s == r.signal.as_str()) {
                        Some(h) => h.1 = h.1.max(v),
                        None => highest.push((r.signal.as_str(), v)),
                    }
                }
            }
            let throttled = (o.level != ontofleet_ops::governor::Level::Ok)
                .then(|| o.reasons.first().map(|r| r.metric_reason.as_str()))
                .flatten();
            ontofleet_telemetry::metrics::record_governor(
                o.level.gauge(),
                &highest,
                throttled,
                &o.paused_runs,
                o.elapsed.as_secs_f64(),
            );
        },
        async {
            let _ = stopped.await;
        },
    ));
    (stop, task)
}
