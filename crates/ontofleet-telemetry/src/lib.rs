//! Observability of an ontofleet process (SPEC §8): the `tracing` subscriber (text or JSON
//! logs), OpenTelemetry export over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal
//! endpoint) is set — job and stage spans, and the metrics — the instruments of SPEC §8 on one
//! OpenTelemetry meter provider whose Prometheus reader backs `/metrics`, and the small ops HTTP
//! server ([`server`]: `/livez`, `/readyz`, `/metrics`).
//!
//! Without an endpoint nothing is exported and no exporter thread is started: the Prometheus
//! reader is pulled by scrapes only. With one, spans go through a bounded batch queue (spans
//! beyond it are dropped and counted by the SDK, never waited for) and metrics through a
//! periodic reader, both on the SDK's own threads, so a dead collector never blocks a job.

pub mod backlog;
pub mod metrics;
pub mod server;
mod stage;

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;

pub use crate::metrics::{Metrics, metrics};

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `log_format` is neither `text` nor `json`.
    #[error("unknown log format `{0}` (expected text or json)")]
    LogFormat(String),
    /// An exporter could not be built from the `OTEL_*` settings.
    #[error("OpenTelemetry export: {0}")]
    Export(String),
}

/// How logs are written.
#[derive(Debug, Clone, Copy)]
pub struct LogOptions<'a> {
    /// `text` or `json`.
    pub format: &'a str,
    /// The env-filter directive used when `ONTOFLEET_LOG` is not set.
    pub default_filter: &'a str,
}

/// The process's telemetry; [`Telemetry::shutdown`] flushes what is buffered.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: SdkMeterProvider,
    registry: prometheus::Registry,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.exporting())
            .finish_non_exhaustive()
    }
}

/// Whether an OTLP endpoint is configured for any signal.
fn endpoint_set() -> bool {
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// Spans queued for export at most; beyond this they are dropped (and counted by the SDK).
const SPAN_QUEUE: usize = 4096;

/// Install the subscriber and the meter provider for this process.
pub fn init(log: LogOptions<'_>) -> Result<Telemetry, TelemetryError> {
    let export = endpoint_set();
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name("ontofleet");
    }
    let resource = resource.build();
    let registry = prometheus::Registry::new();
    let prometheus_reader = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        .scope_info_enabled(false)
        .build()
        .map_err(|e| TelemetryError::Export(e.to_string()))?;
    let mut meter = SdkMeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(prometheus_reader);
    let mut tracer = None;
    if export {
        // reqwest is built without a default crypto provider; an https collector needs one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let metrics_exporter = MetricExporter::builder()
            .with_http()
            .build()
            .map_err(|e| TelemetryError::Export(e.to_string()))?;
        meter = meter.with_periodic_exporter(metrics_exporter);
        let spans = SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| TelemetryError::Export(e.to_string()))?;
        let processor = BatchSpanProcessor::builder(spans)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(SPAN_QUEUE)
                    .build(),
            )
            .build();
        tracer = Some(
            SdkTracerProvider::builder()
                .with_resource(resource)
                .with_span_processor(processor)
                .build(),
        );
    }
    let meter = meter.build();
    opentelemetry::global::set_meter_provider(meter.clone());
    metrics::metrics();

    let filter = EnvFilter::try_from_env("ONTOFLEET_LOG")
        .unwrap_or_else(|_| EnvFilter::new(log.default_filter));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match log.format {
        "json" => fmt.json().with_filter(filter).boxed(),
        "text" => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        other => return Err(TelemetryError::LogFormat(other.to_owned())),
    };
    // Spans of ontofleet's own crates at INFO feed the exporter and the stage histogram,
    // whatever the log level.
    let ours = Targets::new()
        .with_target("ontofleet", LevelFilter::INFO)
        .with_default(LevelFilter::OFF);
    let otel = tracer.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("ontofleet"))
            .with_filter(ours.clone())
    });
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(stage::StageTimer.with_filter(ours))
        .init();
    if export {
        tracing::info!("exporting traces and metrics over OTLP");
    }
    Ok(Telemetry {
        tracer,
        meter,
        registry,
    })
}

impl Telemetry {
    /// Whether spans and metrics are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.tracer.is_some()
    }

    /// The metrics in the Prometheus text format (`GET /metrics`).
    pub fn prometheus_text(&self) -> String {
        use prometheus::Encoder;
        let mut out = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Flush and stop the exporters, within `timeout` each; a dead collector costs at most that.
    /// Blocking: call it off the async runtime's workers (`spawn_blocking`) or after them.
    pub fn shutdown(&self, timeout: Duration) {
        if let Some(tracer) = &self.tracer
            && let Err(e) = tracer.shutdown_with_timeout(timeout)
        {
            eprintln!("warning: flushing spans: {e}");
        }
        if self.tracer.is_some()
            && let Err(e) = self.meter.shutdown_with_timeout(timeout)
        {
            eprintln!("warning: flushing metrics: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names of this process's threads (Linux truncates them to 15 bytes).
    fn threads() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .map(|n| n.trim().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported_and_no_exporter_thread_runs() {
        let t = init(LogOptions {
            format: "text",
            default_filter: "warn",
        })
        .unwrap();
        // The one init of this test process; its environment decides.
        assert_eq!(t.exporting(), endpoint_set());
        if !endpoint_set() {
            let names = threads();
            assert!(
                !names.iter().any(|n| n.starts_with("OpenTelemetry")),
                "{names:?}"
            );
        }
        metrics().attempts.add(
            2,
            &[
                opentelemetry::KeyValue::new("outcome", "succeeded"),
                opentelemetry::KeyValue::new("category", "none"),
            ],
        );
        let page = t.prometheus_text();
        assert!(
            page.contains("ontofleet_attempts_total{category=\"none\",outcome=\"succeeded\"} 2"),
            "{page}"
        );
        assert!(page.contains("ontofleet_build_info{version=\""), "{page}");
        assert!(
            page.contains("ontofleet_entities_total{action=\"skipped\",entity=\"event\"} 0"),
            "series of bounded label sets start at 0: {page}"
        );
        assert!(!page.contains("otel_scope"), "no scope labels: {page}");
        t.shutdown(Duration::from_secs(1));
    }
}
