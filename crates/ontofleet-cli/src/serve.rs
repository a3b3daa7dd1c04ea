//! `ontofleet serve` (the admin API as the binary wires it: pools, the preview pipeline from
//! `[classifier]`, the ops endpoints, the backlog exporter, graceful shutdown) and
//! `ontofleet token …`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ontofleet_ops::access::{self, Role, SessionPolicy};

use crate::CliError;
use crate::cli::{Cli, ServeArgs, TokenCommand};
use crate::commands::{actor, connect, or_dash, require_schema};
use crate::output::{self, out};
use crate::settings::Settings;
use crate::worker::{export_backlog, ops_endpoints, shutdown_signal};

pub async fn serve(settings: &Settings, args: &ServeArgs) -> Result<(), CliError> {
    let api = &settings.api;
    let raw = args.addr.as_deref().unwrap_or(&api.addr);
    let addr: SocketAddr = raw.parse().map_err(|_| {
        CliError::usage(format!(
            "`{raw}` is not a listen address (IP:PORT, e.g. 127.0.0.1:8080)"
        ))
    })?;
    settings
        .classifier
        .check()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let db = settings.require_database()?;
    let write = ontofleet_db::connect_api(
        db,
        false,
        Duration::from_millis(api.write_statement_timeout_ms.max(1)),
        api.pool_size,
    )
    .await?;
    require_schema(&write).await?;
    let read = ontofleet_db::connect_api(
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
    let (classifier, pipeline_settings) = (settings.classifier.clone(), settings.pipeline.clone());
    let pipeline: ontofleet_api::PipelineFactory = Arc::new(move |catalog| {
        let c = classifier
            .build(&catalog)
            .map_err(|e| ontofleet_ops::OpsError::Invalid(e.to_string()))?;
        Ok(
            ontofleet_pipeline::Pipeline::with_classifier(Arc::new(catalog), c)
                .day_first(pipeline_settings.day_first)
                .chunk_tasks(pipeline_settings.chunk_tasks),
        )
    });
    let state = ontofleet_api::ApiState {
        read: read.clone(),
        write: write.clone(),
        producer: crate::commands::producer_settings(settings),
        policies: settings.retry,
        pipeline,
        sessions: SessionPolicy {
            absolute: Duration::from_secs(api.session_absolute_secs.max(60)),
            idle: Duration::from_secs(api.session_idle_secs.max(60)),
        },
        events,
    };
    let ops = ops_endpoints(&write, &[&write], None);
    let backlog = settings.telemetry.backlog.then(|| {
        tokio::spawn(export_backlog(
            read.clone(),
            Duration::from_secs(settings.telemetry.backlog_interval_secs.max(1)),
        ))
    });
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
    result.map_err(|e| match e {
        ontofleet_api::ServeError::Unprotected(_) | ontofleet_api::ServeError::Bind { .. } => {
            CliError::usage(e.to_string())
        }
        other => CliError::runtime(other.to_string()),
    })?;
    tracing::info!("admin API stopped");
    Ok(())
}

pub async fn token(cli: &Cli, settings: &Settings, command: &TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create {
            name,
            role,
            expires_in,
        } => {
            let role: Role = role.parse()?;
            let expires_in = expires_in
                .as_deref()
                .map(crate::ops::parse_age)
                .transpose()?;
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let created = access::create_token(&pool, name, role, expires_in, &actor()).await?;
            if cli.json {
                output::json_of(&created);
            } else {
                out!("{}", created.token);
                eprintln!(
                    "token `{}` ({}) created{}; the secret above is shown only once: send it as `Authorization: Bearer …`",
                    created.view.name,
                    created.view.role,
                    created
                        .view
                        .expires_at
                        .map(|e| format!(", expires {}", e.format("%Y-%m-%d %H:%M UTC")))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::List => {
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let list = access::list_tokens(&pool).await?;
            if cli.json {
                output::json_of(&list);
            } else {
                out!(
                    "{:<24} {:<9} {:<8} {:<17} {:<17}",
                    "NAME",
                    "ROLE",
                    "STATE",
                    "EXPIRES",
                    "LAST USED"
                );
                let t = |v: Option<chrono::DateTime<chrono::Utc>>| {
                    or_dash(v.map(|v| v.format("%Y-%m-%d %H:%M").to_string()))
                };
                for token in &list.tokens {
                    out!(
                        "{:<24} {:<9} {:<8} {:<17} {:<17}",
                        token.name,
                        token.role,
                        token.state,
                        t(token.expires_at),
                        t(token.last_used_at)
                    );
                }
            }
        }
        TokenCommand::Revoke { name } => {
            let pool = connect(settings).await?;
            require_schema(&pool).await?;
            let revoked = access::revoke_token(&pool, name, &actor()).await?;
            if cli.json {
                output::json_of(&revoked);
            } else {
                out!("token `{}` revoked; its sessions have ended", revoked.name);
            }
        }
    }
    Ok(())
}
