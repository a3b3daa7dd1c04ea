//! An OpenAI-compatible fake of `/v1/chat/completions` that misbehaves on request, for the
//! `openai` classifier's tests, the e2e fault runs and `make demo` (`make fake-llm`).
//!
//! It answers each task of a request with the `rules` classifier (or from a scripted table of
//! title → key), restricted to the keys the request allows (the JSON-schema enum, or the key
//! list of the prompt): the bare mode when the rules' specialization is not among them. Faults
//! come from a script (one per call, in order) and then from rates, drawn from a seeded RNG, so
//! a run is repeatable. It is a raw HTTP/1.1 server on a `TcpListener`, because resets and
//! bodies cut short are exactly what a framework would not let it send. `GET /__stats` returns
//! its counters. It also accepts OTLP/HTTP exports (`/v1/traces`, `/v1/metrics`) and drops them,
//! counting their bytes, so a bench can export telemetry to a real endpoint.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ontofleet_pipeline::classify::{RulesClassifier, TaskText};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the fake does with one call.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// A correct answer.
    Ok,
    /// An HTTP status with an OpenAI-style error body; `429` carries `Retry-After`.
    Status(u16),
    /// 429 `insufficient_quota` (not retryable).
    Quota,
    /// Close the connection without answering.
    Reset,
    /// Announce a longer body than is sent, then close.
    Truncated,
    /// A 200 whose content is not JSON.
    InvalidJson,
    /// A 200 that leaves out the last task's id.
    Missing,
    /// A 200 with an extra, unknown id (all others answered).
    UnknownId,
    /// A 200 answering the first task with a key outside the enum.
    BadKey,
    /// A 400 rejecting `response_format` (an LM Studio-like server), when the request has one.
    FormatRejected,
    /// A 400 saying the prompt exceeds the context length, for requests of more than one task.
    ContextLength,
    /// A 200 carrying an `error` object with code 502 (OpenRouter after streaming began).
    ErrorIn200,
    /// A 200 cut at `max_tokens` (`finish_reason = length`).
    Length,
    /// Answer after this many milliseconds (on top of the base latency).
    Slow(u64),
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ok" => Self::Ok,
            "quota" => Self::Quota,
            "reset" => Self::Reset,
            "truncated" => Self::Truncated,
            "invalid_json" => Self::InvalidJson,
            "missing" => Self::Missing,
            "unknown_id" => Self::UnknownId,
            "bad_key" => Self::BadKey,
            "format" => Self::FormatRejected,
            "context" => Self::ContextLength,
            "error200" => Self::ErrorIn200,
            "length" => Self::Length,
            other => {
                if let Some(ms) = other.strip_prefix("slow:") {
                    Self::Slow(ms.parse().map_err(|_| format!("bad delay in `{other}`"))?)
                } else {
                    Self::Status(
                        other
                            .parse()
                            .map_err(|_| format!("unknown fault `{other}`"))?,
                    )
                }
            }
        })
    }
}

impl Fault {
    fn label(&self) -> String {
        match self {
            Self::Status(s) => s.to_string(),
            Self::Slow(_) => "slow".to_owned(),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

/// How the fake behaves.
#[derive(Debug, Clone, Default)]
pub struct FakeConfig {
    /// Delay before every answer.
    pub latency: Duration,
    /// Faults for the first calls, in order.
    pub script: Vec<Fault>,
    /// After the script: each fault with its probability per call.
    pub rates: Vec<(Fault, f64)>,
    /// Seed of the fault draw.
    pub seed: u64,
    /// `Retry-After` seconds sent with 429 and 503.
    pub retry_after_secs: u64,
    /// Answer these titles with these keys instead of the rules classifier.
    pub table: HashMap<String, String>,
    /// When set, a request without `Authorization: Bearer <key>` gets 401 (whose message
    /// quotes the key it was given, as some servers do).
    pub api_key: Option<String>,
    /// Refuse `response_format` always (not only when scripted), like LM Studio's JSON mode.
    pub refuse_json_schema: bool,
}

/// Counters, as `GET /__stats` returns them.
#[derive(Debug, Default)]
pub struct FakeStats {
    /// Requests to `/v1/chat/completions`.
    pub calls: AtomicU64,
    /// Of those, answered with a usable 200.
    pub answered: AtomicU64,
    /// Tasks in answered calls.
    pub tasks: AtomicU64,
    /// Bytes of OTLP exports received.
    pub otlp_bytes: AtomicU64,
    faults: Mutex<BTreeMap<String, u64>>,
    formats: Mutex<BTreeMap<String, u64>>,
}

impl FakeStats {
    /// The counters as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "calls": self.calls.load(Ordering::Relaxed),
            "answered": self.answered.load(Ordering::Relaxed),
            "tasks": self.tasks.load(Ordering::Relaxed),
            "otlp_bytes": self.otlp_bytes.load(Ordering::Relaxed),
            "faults": *self.faults.lock().unwrap_or_else(|p| p.into_inner()),
            "response_formats": *self.formats.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

struct State {
    config: FakeConfig,
    script: Mutex<VecDeque<Fault>>,
    rng: Mutex<rand::rngs::StdRng>,
    stats: Arc<FakeStats>,
}

/// A running fake.
pub struct FakeLlm {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<FakeStats>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Start on `addr` (port 0 picks one).
    pub async fn start(addr: &str, config: FakeConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(FakeStats::default());
        let state = Arc::new(State {
            script: Mutex::new(config.script.iter().cloned().collect()),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(config.seed)),
            config,
            stats: stats.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, state.clone()));
            }
        });
        Ok(Self { addr, stats, task })
    }

    /// The base URL to configure (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn response(status: u16, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

async fn serve(socket: TcpStream, state: Arc<State>) {
    let mut reader = BufReader::new(socket);
    while let Some(req) = read_request(&mut reader).await {
        let reply = match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/__stats") => {
                Reply::Send(response(200, &[], &state.stats.to_json().to_string()))
            }
            ("POST", "/v1/chat/completions") => completion(&req, &state).await,
            // Also an OTLP/HTTP sink, so benches can export telemetry somewhere real.
            ("POST", "/v1/traces" | "/v1/metrics" | "/v1/logs") => {
                state
                    .stats
                    .otlp_bytes
                    .fetch_add(req.body.len() as u64, Ordering::Relaxed);
                Reply::Send(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                        .as_bytes()
                        .to_vec(),
                )
            }
            _ => Reply::Send(response(404, &[], r#"{"error":{"message":"not found"}}"#)),
        };
        let (bytes, close) = match reply {
            Reply::Send(b) => (b, false),
            Reply::Close(b) => (b, true),
        };
        let stream = reader.get_mut();
        if stream.write_all(&bytes).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
        if close {
            // Reset (nothing sent) or a body cut short: the connection ends here.
            let _ = stream.shutdown().await;
            return;
        }
    }
}

fn error_body(message: &str, kind: &str, code: Value) -> String {
    json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}

fn next_fault(state: &State) -> Fault {
    if let Some(f) = state
        .script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop_front()
    {
        return f;
    }
    let mut rng = state.rng.lock().unwrap_or_else(|p| p.into_inner());
    let draw: f64 = rng.random();
    let mut acc = 0.0;
    for (fault, p) in &state.config.rates {
        acc += p;
        if draw < acc {
            return fault.clone();
        }
    }
    Fault::Ok
}

/// The keys a request allows: its JSON-schema enum, else the key list of its system prompt.
fn allowed_keys(body: &Value) -> Vec<String> {
    let schema_enum = body
        .pointer("/response_format/json_schema/schema/properties")
        .and_then(Value::as_object)
        .and_then(|p| p.values().next())
        .and_then(|v| v.get("enum"))
        .and_then(Value::as_array);
    if let Some(keys) = schema_enum {
        return keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
    }
    let system = body
        .pointer("/messages/0/content")
        .and_then(Value::as_str)
        .unwrap_or("");
    system
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("task.") && w.len() > 5)
        .map(|w| w.trim_end_matches(['.', ':']).to_owned())
        .collect()
}

/// What goes back on the connection.
enum Reply {
    /// A whole response; the connection stays open.
    Send(Vec<u8>),
    /// These bytes, then the connection is closed.
    Close(Vec<u8>),
}

async fn completion(req: &Request, state: &State) -> Reply {
    let stats = &state.stats;
    stats.calls.fetch_add(1, Ordering::Relaxed);
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let format = body
        .pointer("/response_format/type")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_owned();
    *stats
        .formats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(format.clone())
        .or_default() += 1;
    let mut fault = next_fault(state);
    if let Some(key) = &state.config.api_key {
        let given = req
            .headers
            .get("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if given != key {
            fault = Fault::Status(401);
        }
    }
    if state.config.refuse_json_schema && format == "json_schema" {
        fault = Fault::FormatRejected;
    }
    let tasks: Vec<Value> = body
        .pointer("/messages/1/content")
        .and_then(Value::as_str)
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    // Faults that need a shape of request the call does not have answer normally.
    if (fault == Fault::FormatRejected && format == "none")
        || (fault == Fault::ContextLength && tasks.len() < 2)
    {
        fault = Fault::Ok;
    }
    let mut delay = state.config.latency;
    if let Fault::Slow(ms) = fault {
        delay += Duration::from_millis(ms);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if !matches!(fault, Fault::Ok | Fault::Slow(_)) {
        *stats
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(fault.label())
            .or_default() += 1;
    }
    let retry_after = state.config.retry_after_secs.to_string();
    let answered = |content: String, finish: &str| {
        response(
            200,
            &[],
            &json!({
                "id": "chatcmpl-fake", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            })
            .to_string(),
        )
    };
    Reply::Send(match fault {
        Fault::Reset => return Reply::Close(Vec::new()),
        Fault::Truncated => {
            // Announce 64 bytes more than are sent, then close.
            let head =
                "HTTP/1.1 200 X\r\ncontent-type: application/json\r\ncontent-length: 128\r\n\r\n";
            return Reply::Close(
                format!("{head}{{\"id\": \"chatcmpl-fake\", \"choices\": [").into_bytes(),
            );
        }
        Fault::Status(429) => response(
            429,
            &[("retry-after", retry_after)],
            &error_body(
                "Rate limit reached",
                "requests",
                json!("rate_limit_exceeded"),
            ),
        ),
        Fault::Status(503) => response(
            503,
            &[("retry-after", retry_after)],
            &error_body("Service unavailable", "server_error", Value::Null),
        ),
        Fault::Status(401) => {
            let given = req
                .headers
                .get("authorization")
                .cloned()
                .unwrap_or_default();
            response(
                401,
                &[],
                &error_body(
                    &format!("Incorrect API key provided: {given}"),
                    "invalid_request_error",
                    json!("invalid_api_key"),
                ),
            )
        }
        Fault::Status(s) => response(
            s,
            &[],
            &error_body("fake failure", "server_error", Value::Null),
        ),
        Fault::Quota => response(
            429,
            &[],
            &error_body(
                "You exceeded your current quota",
                "insufficient_quota",
                json!("insufficient_quota"),
            ),
        ),
        Fault::FormatRejected => response(
            400,
            &[],
            &error_body(
                "'response_format.type' must be 'json_schema' or 'text'",
                "invalid_request_error",
                Value::Null,
            ),
        ),
        Fault::ContextLength => response(
            400,
            &[],
            &error_body(
                "This model's maximum context length is 512 tokens",
                "invalid_request_error",
                json!("context_length_exceeded"),
            ),
        ),
        Fault::ErrorIn200 => response(
            200,
            &[],
            &json!({"error": {"code": 502, "message": "upstream provider error"}}).to_string(),
        ),
        Fault::InvalidJson => answered("I would say t01 is execute.".to_owned(), "stop"),
        Fault::Length => answered("{\"t01\": \"task.exe".to_owned(), "length"),
        Fault::Ok | Fault::Slow(_) | Fault::Missing | Fault::UnknownId | Fault::BadKey => {
            let allowed = allowed_keys(&body);
            let mut answer = serde_json::Map::new();
            for t in &tasks {
                let id = t["id"].as_str().unwrap_or("").to_owned();
                let title = t["title"].as_str().unwrap_or("");
                let key = match state.config.table.get(title) {
                    Some(k) => k.clone(),
                    None => {
                        let c = RulesClassifier.classify_one(&TaskText {
                            title,
                            description: t["description"].as_str(),
                            details: t["details"].as_str(),
                        });
                        let key = c.type_key();
                        if allowed.contains(&key) {
                            key
                        } else {
                            format!("task.{}", c.work_mode.as_str())
                        }
                    }
                };
                answer.insert(id, json!(key));
            }
            match fault {
                Fault::Missing => {
                    let last = answer.keys().next_back().cloned();
                    if let Some(last) = last {
                        answer.remove(&last);
                    }
                }
                Fault::UnknownId => {
                    answer.insert("t99".to_owned(), json!("task.plan"));
                }
                Fault::BadKey => {
                    if let Some(first) = answer.values_mut().next() {
                        *first = json!("task.invented.key");
                    }
                }
                _ => {}
            }
            stats.answered.fetch_add(1, Ordering::Relaxed);
            stats.tasks.fetch_add(tasks.len() as u64, Ordering::Relaxed);
            answered(Value::Object(answer).to_string(), "stop")
        }
    })
}
