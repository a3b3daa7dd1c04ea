//! Task classification: which work mode (and optional specialization) a legacy task gets, as the
//! type key `task.{work_mode}[.{specialization}]` (SPEC §5.1).
//!
//! Classifiers sit behind the batched [`Classifier`] trait. [`RulesClassifier`] (`rules`) is the
//! embedded, deterministic default: a lexicon and phrase scorer over title, description and
//! details, with no IO. It
//!
//! 1. tokenizes each field (lower-case, split on non-alphanumerics, light stemming);
//! 2. finds the *leading verb* of the title ("**Draft** the press release", also after fillers
//!    such as "TODO: need to" and after a `Project:` prefix) and scores it strongly, then scores
//!    every other known phrase and noun more weakly;
//! 3. adds verb × object rules ("*update* the *calendar*" is admin, "*update* the *logo*" is
//!    refine, "*draft* the hiring *plan*" is plan), "with `<person>`" as coordinate evidence and
//!    a trailing `?` as research evidence (bracketed tags like `[Ops]` are never the verb);
//! 4. weights the description at 0.35 and the details at 0.25 of the title, and gives `execute` a
//!    small prior so it wins when evidence is weak;
//! 5. emits a specialization only on clear evidence in the title.
//!
//! The words live in the data tables of the private `lexicon` submodule, not in code paths. They
//! describe how people write tasks in general, not the labelled set the classifier is tested on
//! (`testdata/task-modes.tsv`; see `testdata/README.md` for the other, independent sets).

mod lexicon;
mod rules;
mod text;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ontofleet_core::{ErrorCategory, WorkMode};

/// Text of one task, as the classifier sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskText<'a> {
    /// The task title (the strongest evidence).
    pub title: &'a str,
    /// The legacy `description`, if any.
    pub description: Option<&'a str>,
    /// The legacy `details`, if any.
    pub details: Option<&'a str>,
}

/// The work mode (and optional specialization) chosen for one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Second segment of the type key.
    pub work_mode: WorkMode,
    /// Optional third segment of the type key (`deploy`, `meeting`, …), lower-case.
    pub specialization: Option<String>,
    /// How sure the classifier is, in `0.0..=1.0` (never NaN), where it says.
    pub confidence: Option<f64>,
    /// Name of the classifier that produced this ([`Classifier::name`], or
    /// [`FALLBACK_CLASSIFIER`] when `rules` stood in for another one).
    pub classifier: &'static str,
    /// The model and prompt version of a remote classifier.
    pub origin: Option<Arc<Origin>>,
    /// Why a fallback classifier answered instead of the configured one.
    pub reason: Option<String>,
}

/// Which model, asked with which prompt, produced a classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The model name sent to the endpoint.
    pub model: String,
    /// The prompt version (changes whenever the prompt or the answer schema does).
    pub prompt_version: String,
}

/// The name recorded when `rules` classified a task for another classifier.
pub const FALLBACK_CLASSIFIER: &str = "rules(fallback)";

impl Classification {
    /// `rules` standing in for another classifier, for `reason`.
    pub fn fallback(task: &TaskText<'_>, reason: impl Into<String>) -> Self {
        Self {
            classifier: FALLBACK_CLASSIFIER,
            reason: Some(reason.into()),
            ..RulesClassifier.classify_one(task)
        }
    }

    /// Parse a type key `task.{mode}[.{specialization}]`; `None` if it is not one.
    pub fn parse_type_key(key: &str) -> Option<(WorkMode, Option<String>)> {
        let mut parts = key.split('.');
        if parts.next()? != "task" {
            return None;
        }
        let mode: WorkMode = parts.next()?.parse().ok()?;
        let spec = parts.next().map(str::to_owned);
        if parts.next().is_some() || spec.as_deref() == Some("") {
            return None;
        }
        Some((mode, spec))
    }

    /// The proposed type key: `task.execute` or `task.execute.deploy`.
    pub fn type_key(&self) -> String {
        match self.specialization.as_deref() {
            Some(spec) if !spec.is_empty() => format!("task.{}.{spec}", self.work_mode.as_str()),
            _ => format!("task.{}", self.work_mode.as_str()),
        }
    }
}

/// Why a classifier could not classify a batch.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The classifier's backend could not be reached, timed out or asked to be called later;
    /// retrying may help, not before `retry_after` when the server said so.
    #[error("classifier unavailable: {message}")]
    Unavailable {
        /// What happened (never the request or the key).
        message: String,
        /// The delay the server asked for (`Retry-After` and kin), or an open breaker's rest.
        retry_after: Option<Duration>,
    },
    /// The classifier answered, but its output cannot be used.
    #[error("classifier output unusable: {0}")]
    InvalidOutput(String),
    /// The endpoint refuses every call (key, quota, model): retrying an item cannot help.
    #[error("classifier misconfigured: {0}")]
    Misconfigured(String),
}

impl ClassifyError {
    /// The error category (SPEC §6.1): `Unavailable` is recoverable; `InvalidOutput` and
    /// `Misconfigured` are data, so the next attempt uses `rules` (fallback mode).
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Unavailable { .. } => ErrorCategory::Recoverable,
            Self::InvalidOutput(_) | Self::Misconfigured(_) => ErrorCategory::Data,
        }
    }

    /// The earliest time to try again, when the server (or a breaker) named one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The future returned by [`Classifier::classify`].
pub type ClassifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Classification>, ClassifyError>> + Send + 'a>>;

/// A batched task classifier: one call classifies many tasks (typically a whole project).
///
/// Implementations return exactly one [`Classification`] per input task, in input order.
pub trait Classifier: Send + Sync {
    /// Short stable name, recorded in `props.classification.classifier`.
    fn name(&self) -> &'static str;

    /// Classifies `tasks`, preserving their order.
    fn classify<'a>(&'a self, tasks: &'a [TaskText<'a>]) -> ClassifyFuture<'a>;

    /// `Some` for a classifier that calls out over the network: it is called before the
    /// project's transaction (never with a connection or the project lock held) and its
    /// answers are cached in the database under this fingerprint (model, prompt version,
    /// catalogue). `None` (the default) for an in-process classifier, called inline.
    fn fingerprint(&self) -> Option<&str> {
        None
    }

    /// The most tasks worth passing to one [`Classifier::classify`] call: results are cached
    /// batch by batch, so a failed call costs only its own batch.
    fn batch_size(&self) -> usize {
        usize::MAX
    }
}

/// The embedded, deterministic lexicon/phrase classifier (`rules`). Pure and infallible.
#[derive(Debug, Default, Clone)]
pub struct RulesClassifier;

impl RulesClassifier {
    /// The name recorded for its classifications.
    pub const NAME: &'static str = "rules";

    /// Classifies one task (the synchronous core of the [`Classifier`] impl).
    pub fn classify_one(&self, task: &TaskText<'_>) -> Classification {
        self.classify_with(task, &mut rules::Scratch::default())
    }

    /// Classifies a batch synchronously, preserving order.
    pub fn classify_all(&self, tasks: &[TaskText<'_>]) -> Vec<Classification> {
        let mut scratch = rules::Scratch::default();
        tasks
            .iter()
            .map(|t| self.classify_with(t, &mut scratch))
            .collect()
    }

    fn classify_with(&self, task: &TaskText<'_>, scratch: &mut rules::Scratch) -> Classification {
        let verdict = rules::score(task.title, task.description, task.details, scratch);
        Classification {
            work_mode: verdict.mode,
            specialization: verdict.specialization.map(str::to_owned),
            confidence: Some(verdict.confidence),
            classifier: Self::NAME,
            origin: None,
            reason: None,
        }
    }
}

impl Classifier for RulesClassifier {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn classify<'a>(&'a self, tasks: &'a [TaskText<'a>]) -> ClassifyFuture<'a> {
        Box::pin(std::future::ready(Ok(self.classify_all(tasks))))
    }
}

#[cfg(test)]
mod tests;
