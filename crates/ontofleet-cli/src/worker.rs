//! `ontofleet worker`: the worker process as the binary wires it — the classifier from
//! `[classifier]`, the ops endpoints with `--listen`, the backlog exporter with
//! `telemetry.backlog`, and `/readyz` turning 503 when the shutdown signal arrives.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::CliError;
use crate::cli::WorkerArgs;
use crate::commands::{TELEMETRY, require_schema};
use crate::settings::Settings;

pub async fn worker(settings: &Settings, args: &WorkerArgs) -> Result<(), CliError> {
    #[cfg(feature = "faults")]
    let faults = settings.faults.parse()?;
    settings
        .classifier
        .check()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut worker = settings.worker.clone();
    if let Some(c) = args.concurrency {
        if c == 0 {
            return Err(CliError::usage("--concurrency must be at least 1"));
        }
        worker.concurrency = c;
    }
    if let Some(name) = &args.name {
        worker.name_prefix = name.clone();
    }
    let database = settings.require_database()?;
    ontofleet_worker::check_pool(&worker, database).map_err(CliError::usage)?;
    let pools =
        ontofleet_db::connect_worker_pools(database, ontofleet_queue::QUEUE_CONNECTIONS).await?;
    require_schema(&pools.queue).await?;
    let handler = ontofleet_worker::HandlerSettings {
        policies: settings.retry,
        job_timeout: Duration::from_secs(settings.job.timeout_secs),
        lease: Duration::from_secs(settings.lock.lease_secs),
        #[cfg(feature = "faults")]
        faults,
        day_first: settings.pipeline.day_first,
        chunk_tasks: settings.pipeline.chunk_tasks,
    };
    #[cfg(feature = "faults")]
    if handler.faults.any() {
        tracing::warn!(faults = ?handler.faults, "fault injection enabled (test only)");
    }
    let classifier = settings.classifier.clone();
    let factory: ontofleet_worker::ClassifierFactory =
        Box::new(move |catalog| classifier.build(catalog).map_err(|e| e.to_string()));
    ontofleet_telemetry::metrics()
        .worker_concurrency
        .record(worker.concurrency as u64, &[]);
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| settings.telemetry.listen.clone());
    let ops = if listen.is_empty() {
        None
    } else {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| CliError::usage(format!("cannot listen on {listen}: {e}")))?;
        tracing::info!(addr = %listener.local_addr().map_or(listen.clone(), |a| a.to_string()), "ops server: /livez /readyz /metrics");
        let ops = ops_endpoints(
            &pools.queue,
            &[&pools.jobs, &pools.queue],
            Some(worker.name_prefix.clone()),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ontofleet_telemetry::server::serve(
            listener,
            ops.clone(),
            async {
                let _ = stopped.await;
            },
        ));
        Some((ops, stop, server))
    };
    let backlog = settings.telemetry.backlog.then(|| {
        tokio::spawn(export_backlog(
            pools.queue.clone(),
            Duration::from_secs(settings.telemetry.backlog_interval_secs.max(1)),
        ))
    });
    let draining = ops.as_ref().map(|(o, _, _)| o.clone());
    let shutdown = async move {
        shutdown_signal().await;
        // From the first moment of the drain, the orchestrator sends no more traffic.
        if let Some(ops) = draining {
            ops.start_draining();
        }
    };
    let result = ontofleet_worker::run(pools, worker, handler, factory, shutdown).await;
    if let Some(task) = backlog {
        task.abort();
    }
    if let Some((_, stop, server)) = ops {
        let _ = stop.send(());
        let _ = server.await;
    }
    result.map_err(|e| CliError::runtime(format!("worker stopped: {e}")))?;
    tracing::info!("worker stopped");
    Ok(())
}

/// The ops endpoints of a worker (or of `serve`, with no `prefix`): ready when the pool answers,
/// the schema is installed and, for a worker, its process is registered with the queue;
/// `/metrics` with the pools' gauges read at scrape time. Probes run on the queue pool, which
/// no job transaction holds.
pub(crate) fn ops_endpoints(
    probe: &PgPool,
    pools: &[&PgPool],
    prefix: Option<String>,
) -> Arc<ontofleet_telemetry::server::Ops> {
    let ready_pool = probe.clone();
    let metrics_pools: Vec<PgPool> = pools.iter().map(|&p| p.clone()).collect();
    // Once every migration this binary knows is applied, the schema stays current for the
    // process's life: later probes check only the pool and the registration.
    let schema_current = Arc::new(std::sync::atomic::AtomicBool::new(false));
    ontofleet_telemetry::server::Ops::new(
        Box::new(move || {
            let (pool, prefix, current) =
                (ready_pool.clone(), prefix.clone(), schema_current.clone());
            Box::pin(async move {
                let check = async {
                    if !current.load(std::sync::atomic::Ordering::Relaxed) {
                        let pending = ontofleet_ops::db::status(&pool)
                            .await
                            .map_err(|e| format!("database: {e}"))?
                            .pending;
                        if pending > 0 {
                            return Err(format!(
                                "{pending} migration(s) pending: run `ontofleet db migrate`"
                            ));
                        }
                        current.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    // `serve` has no worker to register: the pool and the schema are its readiness.
                    let Some(prefix) = prefix else {
                        return Ok(());
                    };
                    match ontofleet_queue::admin::process_registered(&pool, &prefix).await {
                        Ok(true) => Ok(()),
                        Ok(false) => Err("worker not registered with the queue yet".to_owned()),
                        Err(e) => Err(format!("database: {e}")),
                    }
                };
                tokio::time::timeout(Duration::from_secs(2), check)
                    .await
                    .unwrap_or_else(|_| Err("database did not answer within 2 s".to_owned()))
            })
        }),
        Box::new(move || {
            use opentelemetry::KeyValue;
            let gauge = &ontofleet_telemetry::metrics().db_pool_connections;
            // The process's connections: both pools together.
            let idle: u64 = metrics_pools.iter().map(|p| p.num_idle() as u64).sum();
            let size: u64 = metrics_pools.iter().map(|p| u64::from(p.size())).sum();
            gauge.record(idle, &[KeyValue::new("state", "idle")]);
            gauge.record(
                size.saturating_sub(idle),
                &[KeyValue::new("state", "in_use")],
            );
            TELEMETRY
                .get()
                .map(|t| t.prometheus_text())
                .unwrap_or_default()
        }),
    )
}

/// `telemetry.backlog`: the backlog gauges, one query pair per interval.
pub(crate) async fn export_backlog(pool: PgPool, every: Duration) {
    use opentelemetry::KeyValue;
    let m = ontofleet_telemetry::metrics();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match ontofleet_control::stats::backlog(&pool).await {
            Ok(b) => {
                for (state, n) in [
                    ("queued", b.queued),
                    ("running", b.running),
                    ("retrying", b.retrying),
                ] {
                    m.backlog_items
                        .record(n.max(0) as u64, &[KeyValue::new("state", state)]);
                }
                m.active_runs.record(b.active_runs.max(0) as u64, &[]);
            }
            Err(e) => tracing::warn!(error = %e, "backlog query failed"),
        }
        match ontofleet_queue::admin::next_ready_age(&pool).await {
            Ok(age) => m
                .backlog_oldest_ready_age
                .record(age.unwrap_or(0.0).max(0.0), &[]),
            Err(e) => tracing::warn!(error = %e, "oldest ready job query failed"),
        }
    }
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub(crate) async fn shutdown_signal() {
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
