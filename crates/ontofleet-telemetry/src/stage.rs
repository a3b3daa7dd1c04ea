//! `ontofleet_stage_duration_seconds{stage}` from the pipeline's stage spans: the pipeline and
//! the worker only open spans named after a stage; this layer times them, so neither depends
//! on the metrics.

use std::time::Instant;

use opentelemetry::KeyValue;
use tracing::span::{Attributes, Id};
use tracing::{Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::metrics::{STAGES, metrics};

/// When a stage span was opened.
struct Started(Instant);

/// Times the spans named in [`STAGES`].
pub(crate) struct StageTimer;

impl<S> Layer<S> for StageTimer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if STAGES.contains(&attrs.metadata().name())
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let name = span.name();
        if let Some(Started(at)) = span.extensions().get::<Started>() {
            metrics()
                .stage_duration
                .record(at.elapsed().as_secs_f64(), &[KeyValue::new("stage", name)]);
        }
    }
}
