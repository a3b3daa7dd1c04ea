//! `[classifier]`: which classifier a process uses, and how the `openai` one reaches its
//! endpoint. The API key is a [`Secret`]: it has no `Display`, its `Debug` is redacted, and it
//! is never serialised, so it cannot reach a log line, an error or `--json` output by accident.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// An API key. Only [`Secret::expose`] gives the value, for the `Authorization` header.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(empty)"
        } else {
            "Secret(redacted)"
        })
    }
}

/// How the answer's shape is asked for (SPEC §5.1's ladder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// Start with `json_schema` and step down on a 400 naming `response_format`.
    #[default]
    Auto,
    /// Strict JSON schema only.
    JsonSchema,
    /// JSON mode only.
    JsonObject,
    /// No `response_format`: the prompt alone asks for JSON.
    Prompt,
}

/// `[classifier]` of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSettings {
    /// `rules` (embedded, the default) or `openai`.
    pub kind: String,
    /// Base URL of the OpenAI-compatible API, up to `/v1` (`/chat/completions` is appended).
    pub base_url: String,
    /// Model name sent with every call.
    pub model: String,
    /// The key itself (prefer `api_key_env`); empty = none.
    #[serde(default)]
    pub api_key: Secret,
    /// Environment variable holding the key; empty = none. Used when `api_key` is empty.
    pub api_key_env: String,
    /// Tasks per call, 1 to 20.
    pub batch_size: usize,
    /// Longest a call may take, connection included.
    pub timeout_secs: u64,
    /// Longest the TCP and TLS connection may take.
    pub connect_timeout_secs: u64,
    /// Calls in flight per worker process.
    pub max_concurrency: usize,
    /// `auto`, `json_schema`, `json_object` or `prompt`.
    pub structured_output: StructuredOutput,
    /// Consecutive failed calls after which the endpoint's breaker opens.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before it lets one through.
    pub breaker_cooldown_secs: u64,
}

impl Default for ClassifierSettings {
    fn default() -> Self {
        Self {
            kind: "rules".to_owned(),
            base_url: "http://127.0.0.1:8080/v1".to_owned(),
            model: String::new(),
            api_key: Secret::default(),
            api_key_env: String::new(),
            batch_size: 20,
            timeout_secs: 60,
            connect_timeout_secs: 5,
            max_concurrency: 8,
            structured_output: StructuredOutput::Auto,
            breaker_failures: 5,
            breaker_cooldown_secs: 60,
        }
    }
}

/// A `[classifier]` value that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A key has a value outside its range.
    #[error("classifier.{key}: {message}")]
    Invalid {
        /// The key, without the section.
        key: &'static str,
        /// What is wrong and what would do.
        message: String,
    },
    /// `api_key_env` names a variable that is not set.
    #[error(
        "classifier.api_key_env names `{0}`, which is not set: export it, or clear api_key_env for an endpoint without a key"
    )]
    MissingKey(String),
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        message: message.into(),
    }
}

impl ClassifierSettings {
    /// Check the `openai` settings and resolve the key.
    pub(crate) fn validated(&self) -> Result<(Secret, Duration, Duration), SettingsError> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(invalid(
                "base_url",
                format!(
                    "`{}` is not an http(s) URL (e.g. https://api.openai.com/v1)",
                    self.base_url
                ),
            ));
        }
        if self.model.trim().is_empty() {
            return Err(invalid(
                "model",
                "is empty: name the model the endpoint serves",
            ));
        }
        if !(1..=20).contains(&self.batch_size) {
            return Err(invalid(
                "batch_size",
                format!("{} is not between 1 and 20", self.batch_size),
            ));
        }
        if self.max_concurrency == 0 {
            return Err(invalid("max_concurrency", "must be at least 1"));
        }
        if self.timeout_secs == 0 || self.connect_timeout_secs == 0 {
            return Err(invalid(
                "timeout_secs",
                "timeouts must be at least 1 second",
            ));
        }
        if self.breaker_failures == 0 {
            return Err(invalid("breaker_failures", "must be at least 1"));
        }
        let key = if !self.api_key.is_empty() {
            self.api_key.clone()
        } else if !self.api_key_env.is_empty() {
            match std::env::var(&self.api_key_env) {
                Ok(v) if !v.is_empty() => Secret::new(v),
                _ => return Err(SettingsError::MissingKey(self.api_key_env.clone())),
            }
        } else {
            Secret::default()
        };
        Ok((
            key,
            Duration::from_secs(self.timeout_secs),
            Duration::from_secs(self.connect_timeout_secs),
        ))
    }
}
