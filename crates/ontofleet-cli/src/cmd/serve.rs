//! `serve`: the admin API and dashboard as the binary wires them — their two pools, the preview
//! pipeline from `[classifier]`, the ops endpoints, the backlog gauges, graceful shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use ontofleet_ops::access::SessionPolicy;

use crate::CliError;
use crate::cli::ServeArgs;
use crate::context::{Ctx, export_backlog, ops_endpoints, shutdown_signal, spawn_governor};

pub async fn run(ctx: Ctx<'_>, args: &ServeArgs) -> Result<(), CliError> {
    let settings = ctx.settings;
    let api = &settings.api;
    let raw = args.addr.as_deref().unwrap_or(&api.addr);
    let addr: SocketAddr = raw.parse().map_err(|_| {
        CliError::usage(format!(
            "`{raw}` is not a listen address (IP:PORT, e.g. 127.0.0.1:8080)"
        ))
    })?;
    ontofleet_ops::classifier::check(&settings.classifier)?;
    ontofleet_ops::governor::check(&settings.governor)?;
    let db = settings.require_database()?;
    let write = ontofleet_ops::db::connect_api(
        db,
        false,
        Duration::from_millis(api.write_statement_timeout_ms.max(1)),
        api.pool_size,
    )
    .await?;
    ontofleet_ops::db::require_schema(&write).await?;
    let read = ontofleet_ops::db::connect_api(
        db,
        true,
        Duration::from_millis(api.read_statement_timeout_ms.max(1)),
        api.pool_size,
    )
    .await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let events = ontofleet_api::events::EventHub::start(
        read.clone(),
        write.clone(),
        Duration::from_millis(api.events_interval_ms.max(100)),
        stop_rx,
    );
    let state = ontofleet_api::ApiState {
        read: read.clone(),
        write: write.clone(),
        producer: ctx.producer()?,
        policies: settings.retry,
        pipeline: ctx.pipeline(),
        sessions: SessionPolicy {
            absolute: Duration::from_secs(api.session_absolute_secs.max(60)),
            idle: Duration::from_secs(api.session_idle_secs.max(60)),
        },
        events,
    };
    let ops = ops_endpoints(&write, &[&write], None);
    let backlog = export_backlog(read.clone(), settings);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    let (governor_stop, governor) = spawn_governor(
        write.clone(),
        settings,
        format!("serve-{host}-{}", std::process::id()),
    );
    let draining = ops.clone();
    let shutdown = async move {
        shutdown_signal().await;
        draining.start_draining();
        // Live streams end now, so that the graceful shutdown does not wait for them.
        let _ = stop_tx.send(true);
    };
    let result = ontofleet_api::serve(addr, state, Some(ops), shutdown).await;
    if let Some(task) = backlog {
        task.abort();
    }
    let _ = governor_stop.send(());
    let _ = governor.await;
    result.map_err(|e| match e {
        ontofleet_api::ServeError::Unprotected(_) | ontofleet_api::ServeError::Bind { .. } => {
            CliError::usage(e.to_string())
        }
        other => CliError::runtime(other.to_string()),
    })?;
    tracing::info!("admin API stopped");
    Ok(())
}
