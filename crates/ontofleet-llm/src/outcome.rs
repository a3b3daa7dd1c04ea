//! What one HTTP answer means (SPEC §5.1's error contract), decided from the status, the
//! headers and the body, never from the text of a transport error. Pure, so every row of the
//! contract has a unit test.

use std::time::Duration;

use serde_json::Value;

/// Why one call did not give a usable answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// Try again later (connect/timeout/cut-off body, 408/409/425/429/5xx, or an HTTP 200 with
    /// such an `error` object); not before `retry_after` when the server named it.
    Transient {
        /// What happened.
        message: String,
        /// `retry-after-ms`, `Retry-After` or `x-ratelimit-reset-*`.
        retry_after: Option<Duration>,
    },
    /// The endpoint refuses every call (401/402/403, 404 model, `insufficient_quota`): data,
    /// and the breaker opens.
    Misconfigured(String),
    /// This call's content was refused or cannot be used (moderation, refusal, content filter,
    /// other 4xx): data.
    Rejected(String),
    /// The prompt is too long for the model (a 400 naming the context length, or 413): split.
    ContextLength,
    /// The server does not take this `response_format`: step down the ladder.
    ResponseFormat(String),
    /// The answer was cut off at `max_tokens` (`finish_reason = length`): split.
    Truncated,
}

impl CallError {
    /// The `result` label of `ontofleet_classifier_calls_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Transient { .. } => "unavailable",
            Self::Misconfigured(_) => "misconfigured",
            Self::Rejected(_) => "rejected",
            Self::ContextLength => "context_length",
            Self::ResponseFormat(_) => "response_format",
            Self::Truncated => "truncated",
        }
    }
}

/// The longest `Retry-After` honoured, as openai-python does; a longer one is a broken header.
const MAX_HONOURED: Duration = Duration::from_secs(120);

/// The delay the server asked for: `retry-after-ms`, else `Retry-After` (seconds or an HTTP
/// date), else the longest `x-ratelimit-reset-*` (`6m0s`, `1s`, `20ms`).
pub fn retry_after(
    header: impl Fn(&str) -> Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let parsed =
        if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
            Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        } else if let Some(v) = header("retry-after") {
            let v = v.trim();
            match v.parse::<f64>() {
                Ok(secs) => Some(Duration::from_secs_f64(secs.max(0.0))),
                Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok().map(|at| {
                    (at.with_timezone(&chrono::Utc) - now)
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                }),
            }
        } else {
            ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
                .iter()
                .filter_map(|h| header(h).and_then(|v| go_duration(&v)))
                .max()
        };
    parsed.filter(|d| !d.is_zero()).map(|d| d.min(MAX_HONOURED))
}

/// A Go-style duration as OpenAI sends it: `6m0s`, `1.5s`, `20ms`, `1h2m`.
fn go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let mut total = 0.0_f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" | "" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

/// The `error` object of a body, in OpenAI's form (`{"error":{…}}`) or vLLM's older one
/// (`{"object":"error","message":…,"code":…}`).
pub fn error_object(body: &Value) -> Option<&Value> {
    match body.get("error") {
        Some(e) if e.is_object() => Some(e),
        Some(Value::String(_)) => Some(body),
        _ if body.get("object").and_then(Value::as_str) == Some("error") => Some(body),
        _ => None,
    }
}

/// The error's code and type, lower-cased, and its message.
fn describe(error: &Value) -> (Option<u16>, String, String) {
    let numeric = |v: &Value| {
        v.as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let code = error
        .get("code")
        .and_then(numeric)
        .or_else(|| error.get("status").and_then(numeric));
    let kind = ["code", "type"]
        .iter()
        .filter_map(|k| error.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.get("error").and_then(Value::as_str))
        .unwrap_or("")
        .chars()
        .take(300)
        .collect();
    (code, kind, message)
}

fn mentions(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

const QUOTA: &[&str] = &[
    "insufficient_quota",
    "billing",
    "quota exceeded",
    "exceeded your current quota",
];
const CONTEXT: &[&str] = &[
    "context_length",
    "context length",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "context window",
];
const FORMAT: &[&str] = &["response_format", "json_schema", "json_object"];
const MODERATION: &[&str] = &["moderation", "flagged", "content_filter", "safety"];

/// What an HTTP answer other than a usable 200 means. `status` is the HTTP status (200 for an
/// `error` object inside a 200), `body` the parsed body if it was JSON, `raw` the body text,
/// `should_retry` the `x-should-retry` header.
pub fn from_status(
    status: u16,
    body: Option<&Value>,
    raw: &str,
    retry_after: Option<Duration>,
    should_retry: Option<bool>,
) -> CallError {
    let (code, kind, message) = body.and_then(error_object).map(describe).unwrap_or((
        None,
        String::new(),
        raw.chars().take(300).collect(),
    ));
    // An error inside a 200 carries its real status in its code (OpenRouter).
    let status = if status == 200 {
        code.unwrap_or(500)
    } else {
        status
    };
    let text = format!("{kind} {}", message.to_lowercase());
    let what = format!(
        "HTTP {status}{}{}",
        if kind.is_empty() {
            String::new()
        } else {
            format!(" {kind}")
        },
        if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        }
    );
    let transient = || CallError::Transient {
        message: what.clone(),
        retry_after,
    };
    if mentions(&text, QUOTA) {
        return CallError::Misconfigured(what);
    }
    match should_retry {
        Some(true) => return transient(),
        Some(false) if status >= 500 || status == 429 => return CallError::Rejected(what),
        _ => {}
    }
    match status {
        408 | 409 | 425 | 429 | 500..=599 => transient(),
        413 => CallError::ContextLength,
        400 if mentions(&text, CONTEXT) => CallError::ContextLength,
        400 if mentions(&text, FORMAT) => CallError::ResponseFormat(what),
        403 if mentions(&text, MODERATION) => CallError::Rejected(what),
        401..=404 => CallError::Misconfigured(what),
        _ => CallError::Rejected(what),
    }
}
