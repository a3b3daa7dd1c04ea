//! `[classifier]` and what it builds: the pipeline a preview runs and the classifier a worker
//! loads, from the same settings, so every adapter classifies as a live run does.

use std::sync::Arc;

pub use ontofleet_llm::ClassifierSettings;
use ontofleet_pipeline::Pipeline;
use ontofleet_pipeline::classify::Classifier;
use ontofleet_pipeline::templates::TemplateCatalog;

use crate::OpsError;

/// Builds a preview's pipeline over the loaded template catalogue.
pub type PipelineFactory = Arc<dyn Fn(TemplateCatalog) -> Result<Pipeline, OpsError> + Send + Sync>;

/// Builds a worker's classifier over its loaded catalogue (whose task keys are the answers a
/// remote classifier may give); the worker's `ClassifierFactory`.
pub type WorkerClassifier =
    Box<dyn FnOnce(&TemplateCatalog) -> Result<Arc<dyn Classifier>, String> + Send>;

/// The settings are usable (kind, model, batch size, key variable), checked before a process
/// starts: one line, exit 2.
pub fn check(settings: &ClassifierSettings) -> Result<(), OpsError> {
    settings
        .check()
        .map_err(|e| OpsError::Invalid(e.to_string()))
}

/// The preview pipeline: this classifier, and the pipeline options of a live run.
pub fn pipeline_factory(
    settings: ClassifierSettings,
    day_first: bool,
    chunk_tasks: usize,
) -> PipelineFactory {
    Arc::new(move |catalog| {
        let classifier = settings
            .build(&catalog)
            .map_err(|e| OpsError::Invalid(e.to_string()))?;
        Ok(Pipeline::with_classifier(Arc::new(catalog), classifier)
            .day_first(day_first)
            .chunk_tasks(chunk_tasks))
    })
}

/// A worker's classifier.
pub fn worker_classifier(settings: ClassifierSettings) -> WorkerClassifier {
    Box::new(move |catalog| settings.build(catalog).map_err(|e| e.to_string()))
}
