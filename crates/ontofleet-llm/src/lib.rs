//! The `openai` classifier (SPEC §5.1): any OpenAI-compatible `/chat/completions` endpoint
//! (OpenAI, OpenRouter, vLLM, llama.cpp server, Ollama, LM Studio) over plain `reqwest` with
//! rustls. One call per batch of at most 20 tasks keyed by short ids, answers from a closed
//! enum of type keys, temperature 0, the structured-output ladder, local validation, one repair
//! call for what is missing and then `rules(fallback)` per item. HTTP outcomes become
//! [`ClassifyError`]s with the categories of the contract ([`outcome`]); a per-endpoint
//! [`breaker`] and a semaphore on calls in flight protect the endpoint. Nothing here sleeps on a
//! `Retry-After`: the delay goes back to the worker, which persists it in the job's `run_at`.
//!
//! [`ClassifierSettings::build`] picks `rules` or `openai` from `[classifier]`.

pub mod breaker;
pub mod outcome;
pub mod protocol;
mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ontofleet_pipeline::classify::{
    Classification, Classifier, ClassifyError, ClassifyFuture, Origin, RulesClassifier, TaskText,
};
use ontofleet_pipeline::templates::TemplateCatalog;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::breaker::{Breaker, Trip};
use crate::outcome::CallError;
use crate::protocol::Rung;
pub use crate::settings::{ClassifierSettings, Secret, SettingsError, StructuredOutput};

/// Characters per field when a single task is still too long for the model.
const SHORT_FIELD_CHARS: usize = 50;

impl ClassifierSettings {
    /// Check the settings without building anything (a configuration error before start-up).
    pub fn check(&self) -> Result<(), SettingsError> {
        match self.kind.as_str() {
            "rules" => Ok(()),
            "openai" => self.validated().map(|_| ()),
            other => Err(SettingsError::Invalid {
                key: "kind",
                message: format!("`{other}` is not a classifier (rules or openai)"),
            }),
        }
    }

    /// The classifier `kind` names, over `catalog`'s task keys.
    pub fn build(&self, catalog: &TemplateCatalog) -> Result<Arc<dyn Classifier>, SettingsError> {
        match self.kind.as_str() {
            "rules" => Ok(Arc::new(RulesClassifier)),
            "openai" => Ok(Arc::new(OpenAiClassifier::new(self, catalog.task_keys())?)),
            other => Err(SettingsError::Invalid {
                key: "kind",
                message: format!("`{other}` is not a classifier (rules or openai)"),
            }),
        }
    }
}

/// Counters of one classifier, for tests and the metrics.
#[derive(Debug, Default)]
pub struct CallStats {
    /// HTTP requests sent.
    pub calls: AtomicU64,
    /// Repair calls among them.
    pub repairs: AtomicU64,
    /// Calls refused by the open breaker (never sent).
    pub refused: AtomicU64,
}

/// The `openai` classifier. One per worker process: its breaker, ladder position and
/// semaphore are the endpoint's for the process's life.
pub struct OpenAiClassifier {
    http: reqwest::Client,
    url: String,
    key: Secret,
    model: String,
    keys: Vec<String>,
    allowed: HashSet<String>,
    system: String,
    fingerprint: String,
    origin: Arc<Origin>,
    batch_size: usize,
    auto: bool,
    rung: AtomicU8,
    permits: Semaphore,
    breaker: Breaker,
    /// What this classifier has done.
    pub stats: CallStats,
}

impl std::fmt::Debug for OpenAiClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClassifier")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("key", &self.key)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl OpenAiClassifier {
    /// The name recorded in `props.classification.classifier`.
    pub const NAME: &'static str = "openai";

    /// A classifier for `settings`, answering with one of `keys`.
    pub fn new(settings: &ClassifierSettings, keys: Vec<String>) -> Result<Self, SettingsError> {
        let (key, timeout, connect_timeout) = settings.validated()?;
        // reqwest is built without a default crypto provider (sqlx brings rustls with ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("ontofleet/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SettingsError::Invalid {
                key: "base_url",
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let catalogue = hex::encode(Sha256::digest(keys.join("\n").as_bytes()));
        let fingerprint = format!(
            "openai:{}:{}:{}",
            settings.model,
            protocol::PROMPT_VERSION,
            &catalogue[..16]
        );
        {
            use opentelemetry::KeyValue;
            let m = ontofleet_telemetry::metrics();
            m.classifier_breaker_open.record(0, &[]);
            for result in ["ok", "unavailable", "misconfigured", "rejected", "refused"] {
                m.classifier_calls.add(
                    0,
                    &[
                        KeyValue::new("classifier", Self::NAME),
                        KeyValue::new("result", result),
                    ],
                );
            }
        }
        let start = match settings.structured_output {
            StructuredOutput::Auto | StructuredOutput::JsonSchema => Rung::JsonSchema,
            StructuredOutput::JsonObject => Rung::JsonObject,
            StructuredOutput::Prompt => Rung::Prompt,
        };
        Ok(Self {
            http,
            url: format!(
                "{}/chat/completions",
                settings.base_url.trim_end_matches('/')
            ),
            key,
            model: settings.model.clone(),
            allowed: keys.iter().cloned().collect(),
            system: protocol::system_prompt(&keys),
            keys,
            fingerprint,
            origin: Arc::new(Origin {
                model: settings.model.clone(),
                prompt_version: protocol::PROMPT_VERSION.to_owned(),
            }),
            batch_size: settings.batch_size,
            auto: settings.structured_output == StructuredOutput::Auto,
            rung: AtomicU8::new(start as u8),
            permits: Semaphore::new(settings.max_concurrency),
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_secs(settings.breaker_cooldown_secs),
            ),
            stats: CallStats::default(),
        })
    }

    /// Whether the endpoint's breaker refuses calls now.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// The rung of the ladder calls use now.
    pub fn rung(&self) -> Rung {
        Rung::from_index(self.rung.load(Ordering::Relaxed))
    }

    /// A server's text with the key taken out (some servers quote the key they refused).
    fn scrub(&self, text: String) -> String {
        if self.key.is_empty() || !text.contains(self.key.expose()) {
            text
        } else {
            text.replace(self.key.expose(), "[redacted]")
        }
    }

    /// One HTTP call for `tasks`. The breaker is consulted first and told the outcome.
    async fn call(
        &self,
        tasks: &[TaskText<'_>],
        field_chars: usize,
        rung: Rung,
    ) -> Result<HashMap<usize, String>, CallError> {
        let admission = match self.breaker.admit() {
            Ok(admission) => admission,
            Err(open) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                record_call("refused", None);
                return Err(match open.trip {
                    Trip::Misconfigured => CallError::Misconfigured(
                        "circuit breaker open after repeated refusals (key, quota or model)"
                            .to_owned(),
                    ),
                    Trip::Unavailable => CallError::Transient {
                        message: "circuit breaker open after repeated failures".to_owned(),
                        retry_after: Some(open.remaining),
                    },
                });
            }
        };
        let body = protocol::request(
            &self.model,
            &self.system,
            &self.keys,
            tasks,
            field_chars,
            rung,
        );
        let result = {
            let _permit = self.permits.acquire().await;
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let r = self.send(&body, tasks.len()).await;
            record_call(
                match &r {
                    Ok(_) => "ok",
                    Err(e) => e.label(),
                },
                Some(started.elapsed()),
            );
            tracing::debug!(
                tasks = tasks.len(),
                ?rung,
                ms = started.elapsed().as_millis() as u64,
                ok = r.is_ok(),
                "classifier call"
            );
            r
        };
        match &result {
            Err(CallError::Transient { .. }) => admission.failure(Trip::Unavailable),
            Err(CallError::Misconfigured(_)) => admission.failure(Trip::Misconfigured),
            _ => admission.success(),
        }
        ontofleet_telemetry::metrics()
            .classifier_breaker_open
            .record(u64::from(self.breaker.is_open()), &[]);
        result.map_err(|e| match e {
            CallError::Transient {
                message,
                retry_after,
            } => CallError::Transient {
                message: self.scrub(message),
                retry_after,
            },
            CallError::Misconfigured(m) => CallError::Misconfigured(self.scrub(m)),
            CallError::Rejected(m) => CallError::Rejected(self.scrub(m)),
            CallError::ResponseFormat(m) => CallError::ResponseFormat(self.scrub(m)),
            other => other,
        })
    }

    async fn send(
        &self,
        body: &serde_json::Value,
        tasks: usize,
    ) -> Result<HashMap<usize, String>, CallError> {
        let mut request = self.http.post(&self.url).json(body);
        if !self.key.is_empty() {
            request = request.bearer_auth(self.key.expose());
        }
        let transport = |e: reqwest::Error, what: &str| CallError::Transient {
            message: if e.is_timeout() {
                format!("{what}: timed out")
            } else if e.is_connect() {
                format!("{what}: cannot connect to the endpoint")
            } else {
                format!("{what}: connection failed or cut off")
            },
            retry_after: None,
        };
        let response = request
            .send()
            .await
            .map_err(|e| transport(e, "classifier call"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = outcome::retry_after(header, chrono::Utc::now());
        let should_retry = header("x-should-retry").map(|v| v.eq_ignore_ascii_case("true"));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, "classifier answer"))?;
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        if !(200..300).contains(&status) {
            let raw = String::from_utf8_lossy(&bytes);
            return Err(outcome::from_status(
                status,
                parsed.as_ref(),
                &raw,
                retry_after,
                should_retry,
            ));
        }
        let parsed = parsed
            .ok_or_else(|| CallError::Rejected("the answer's body is not JSON".to_owned()))?;
        protocol::answers(&parsed, tasks, &self.allowed)
    }

    /// The answers for `tasks`, handling inside the call what the contract handles there: a
    /// `response_format` refusal steps down the ladder (remembered for the process), a prompt
    /// too long or an answer cut off splits the batch (a single task is sent shorter once).
    fn ask<'a>(
        &'a self,
        tasks: &'a [TaskText<'a>],
        mut field_chars: usize,
    ) -> futures::future::BoxFuture<'a, Result<HashMap<usize, String>, ClassifyError>> {
        Box::pin(async move {
            loop {
                let rung = self.rung();
                match self.call(tasks, field_chars, rung).await {
                    Ok(answers) => return Ok(answers),
                    Err(CallError::ResponseFormat(message)) => {
                        let below = rung.down().filter(|_| self.auto);
                        match below {
                            Some(below) => {
                                // Another call may have stepped already: never step twice.
                                if self
                                    .rung
                                    .compare_exchange(
                                        rung as u8,
                                        below as u8,
                                        Ordering::Relaxed,
                                        Ordering::Relaxed,
                                    )
                                    .is_ok()
                                {
                                    tracing::warn!(from = ?rung, to = ?below, "endpoint refused the response format; stepping down");
                                }
                            }
                            None => return Err(ClassifyError::InvalidOutput(message)),
                        }
                    }
                    Err(CallError::ContextLength | CallError::Truncated) if tasks.len() > 1 => {
                        let (a, b) = tasks.split_at(tasks.len() / 2);
                        let mut first = self.ask(a, field_chars).await?;
                        let second = self.ask(b, field_chars).await?;
                        first.extend(second.into_iter().map(|(i, k)| (i + a.len(), k)));
                        return Ok(first);
                    }
                    Err(CallError::ContextLength | CallError::Truncated)
                        if field_chars > SHORT_FIELD_CHARS =>
                    {
                        field_chars = SHORT_FIELD_CHARS;
                    }
                    Err(CallError::ContextLength | CallError::Truncated) => {
                        return Err(ClassifyError::InvalidOutput(
                            "a single task is too long for the model even shortened".to_owned(),
                        ));
                    }
                    Err(CallError::Transient {
                        message,
                        retry_after,
                    }) => {
                        return Err(ClassifyError::Unavailable {
                            message,
                            retry_after,
                        });
                    }
                    Err(CallError::Misconfigured(m)) => {
                        return Err(ClassifyError::Misconfigured(m));
                    }
                    Err(CallError::Rejected(m)) => return Err(ClassifyError::InvalidOutput(m)),
                }
            }
        })
    }

    fn answered(&self, key: &str) -> Option<Classification> {
        let (work_mode, specialization) = Classification::parse_type_key(key)?;
        Some(Classification {
            work_mode,
            specialization,
            confidence: None,
            classifier: Self::NAME,
            origin: Some(self.origin.clone()),
            reason: None,
        })
    }

    /// One batch: the call, one repair call for what is missing, `rules(fallback)` for the
    /// rest.
    async fn classify_batch(
        &self,
        tasks: &[TaskText<'_>],
    ) -> Result<Vec<Classification>, ClassifyError> {
        let mut answers = self.ask(tasks, protocol::FIELD_CHARS).await?;
        let missing: Vec<usize> = (0..tasks.len())
            .filter(|i| !answers.contains_key(i))
            .collect();
        let mut reason = "the model gave no valid key".to_owned();
        if !missing.is_empty() {
            self.stats.repairs.fetch_add(1, Ordering::Relaxed);
            let again: Vec<TaskText<'_>> = missing.iter().map(|i| tasks[*i]).collect();
            match self.ask(&again, protocol::FIELD_CHARS).await {
                Ok(repaired) => {
                    answers.extend(repaired.into_iter().map(|(j, k)| (missing[j], k)));
                    reason = "the model gave no valid key, twice".to_owned();
                }
                Err(e) => reason = format!("repair call failed: {e}"),
            }
        }
        Ok(tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                answers
                    .get(&i)
                    .and_then(|k| self.answered(k))
                    .unwrap_or_else(|| Classification::fallback(t, reason.clone()))
            })
            .collect())
    }
}

/// One call in `ontofleet_classifier_calls_total{classifier, result}` (and its duration, when
/// it went out).
fn record_call(result: &'static str, took: Option<Duration>) {
    use opentelemetry::KeyValue;
    let m = ontofleet_telemetry::metrics();
    let classifier = KeyValue::new("classifier", OpenAiClassifier::NAME);
    m.classifier_calls
        .add(1, &[classifier.clone(), KeyValue::new("result", result)]);
    if let Some(took) = took {
        m.classifier_call_duration
            .record(took.as_secs_f64(), &[classifier]);
    }
}

impl Classifier for OpenAiClassifier {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn classify<'a>(&'a self, tasks: &'a [TaskText<'a>]) -> ClassifyFuture<'a> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(tasks.len());
            for batch in tasks.chunks(self.batch_size) {
                out.extend(self.classify_batch(batch).await?);
            }
            Ok(out)
        })
    }

    fn fingerprint(&self) -> Option<&str> {
        Some(&self.fingerprint)
    }

    fn batch_size(&self) -> usize {
        self.batch_size
    }
}

#[cfg(test)]
mod tests;
