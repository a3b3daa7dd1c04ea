//! `worker`: a worker process as the binary wires it — its pools (checked against the
//! concurrency), the classifier from `[classifier]`, the ops endpoints with `--listen`, the
//! backlog gauges with `telemetry.backlog`, and `/readyz` turning 503 when the shutdown signal
//! arrives; then `ontofleet_worker::run` until SIGTERM/SIGINT.

use std::time::Duration;

use crate::CliError;
use crate::cli::WorkerArgs;
use crate::context::{Ctx, export_backlog, ops_endpoints, shutdown_signal, spawn_governor};

pub async fn run(ctx: Ctx<'_>, args: &WorkerArgs) -> Result<(), CliError> {
    let settings = ctx.settings;
    #[cfg(feature = "faults")]
    let faults = settings.faults.parse()?;
    ontofleet_ops::classifier::check(&settings.classifier)?;
    ontofleet_ops::governor::check(&settings.governor)?;
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
    let pools = ontofleet_ops::worker::connect(&worker, settings.require_database()?).await?;
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
    let classifier = ontofleet_ops::classifier::worker_classifier(settings.classifier.clone());
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
    let backlog = export_backlog(pools.queue.clone(), settings);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let (governor_stop, governor) = spawn_governor(
        pools.queue.clone(),
        settings,
        format!("{}-{host}-{}", worker.name_prefix, std::process::id()),
    );
    let draining = ops.as_ref().map(|(o, _, _)| o.clone());
    let shutdown = async move {
        shutdown_signal().await;
        // From the first moment of the drain, the orchestrator sends no more traffic.
        if let Some(ops) = draining {
            ops.start_draining();
        }
    };
    let result = ontofleet_worker::run(pools, worker, handler, classifier, shutdown).await;
    if let Some(task) = backlog {
        task.abort();
    }
    // The role is handed over at once, not after the lease.
    let _ = governor_stop.send(());
    let _ = governor.await;
    if let Some((_, stop, server)) = ops {
        let _ = stop.send(());
        let _ = server.await;
    }
    result.map_err(|e| CliError::runtime(format!("worker stopped: {e}")))?;
    tracing::info!("worker stopped");
    Ok(())
}
