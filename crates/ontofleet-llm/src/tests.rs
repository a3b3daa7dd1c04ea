//! The client against the fake server, one test per row of SPEC §5.1's error contract.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ontofleet_core::ErrorCategory;
use ontofleet_pipeline::classify::{
    Classifier, ClassifyError, FALLBACK_CLASSIFIER, RulesClassifier, TaskText,
};
use ontofleet_testkit::fake_llm::{FakeConfig, FakeLlm, Fault};
use serde_json::Value;

use super::*;
use crate::outcome::{CallError, from_status};

const KEY: &str = "sk-test-SECRET-4242";

fn keys() -> Vec<String> {
    let mut keys: Vec<String> = ontofleet_core::WorkMode::ALL
        .iter()
        .map(|m| format!("task.{}", m.as_str()))
        .collect();
    keys.extend(
        [
            "task.execute.deploy",
            "task.coordinate.meeting",
            "task.review.code",
        ]
        .map(str::to_owned),
    );
    keys
}

fn settings(base_url: String) -> ClassifierSettings {
    ClassifierSettings {
        kind: "openai".to_owned(),
        base_url,
        model: "fake-model".to_owned(),
        api_key: Secret::new(KEY),
        timeout_secs: 2,
        connect_timeout_secs: 1,
        breaker_failures: 3,
        ..ClassifierSettings::default()
    }
}

const TITLES: [&str; 8] = [
    "Deploy the new API to production",
    "Weekly standup with the design team",
    "Review PR for the login flow",
    "Research competitor pricing",
    "Pay the hosting invoice",
    "Draft the Q3 roadmap",
    "Write the launch blog post",
    "Polish the onboarding copy",
];

fn texts(n: usize) -> Vec<TaskText<'static>> {
    (0..n)
        .map(|i| TaskText {
            title: TITLES[i % TITLES.len()],
            description: None,
            details: None,
        })
        .collect()
}

async fn scripted(script: Vec<Fault>) -> FakeLlm {
    fake_with(FakeConfig {
        script,
        retry_after_secs: 3,
        api_key: Some(KEY.to_owned()),
        ..FakeConfig::default()
    })
    .await
}

async fn fake_with(config: FakeConfig) -> FakeLlm {
    FakeLlm::start("127.0.0.1:0", config).await.unwrap()
}

fn client(fake: &FakeLlm) -> OpenAiClassifier {
    OpenAiClassifier::new(&settings(fake.base_url()), keys()).unwrap()
}

fn calls(fake: &FakeLlm) -> u64 {
    fake.stats.calls.load(Ordering::Relaxed)
}

/// What the fake answers for a title: the rules key if allowed, else its bare mode.
fn expected_key(title: &str) -> String {
    let c = RulesClassifier.classify_one(&TaskText {
        title,
        ..Default::default()
    });
    if keys().contains(&c.type_key()) {
        c.type_key()
    } else {
        format!("task.{}", c.work_mode.as_str())
    }
}

async fn fails_with(script: Vec<Fault>) -> (ClassifyError, FakeLlm) {
    let fake = scripted(script).await;
    let c = client(&fake);
    let tasks = texts(3);
    let err = c.classify(&tasks).await.unwrap_err();
    assert!(
        !err.to_string().contains("SECRET"),
        "the key leaked into an error: {err}"
    );
    (err, fake)
}

#[tokio::test]
async fn batches_of_twenty_answered_by_key() {
    let fake = scripted(vec![]).await;
    let c = client(&fake);
    let tasks = texts(45);
    let out = c.classify(&tasks).await.unwrap();
    assert_eq!(calls(&fake), 3, "⌈45/20⌉ calls");
    assert_eq!(out.len(), 45);
    for (t, c) in tasks.iter().zip(&out) {
        assert_eq!(c.classifier, "openai");
        assert_eq!(c.type_key(), expected_key(t.title), "{}", t.title);
        let origin = c.origin.as_ref().unwrap();
        assert_eq!(origin.model, "fake-model");
        assert_eq!(origin.prompt_version, protocol::PROMPT_VERSION);
        assert_eq!(c.confidence, None);
    }
    assert_eq!(fake.stats.to_json()["response_formats"]["json_schema"], 3);
    let fp = c.fingerprint().unwrap();
    assert!(fp.starts_with("openai:fake-model:"), "{fp}");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_recoverable_with_retry_after() {
    for (fault, retry_after) in [
        (Fault::Status(429), Some(Duration::from_secs(3))),
        (Fault::Status(503), Some(Duration::from_secs(3))),
        (Fault::Status(500), None),
        (Fault::Status(502), None),
        (Fault::Status(504), None),
        (Fault::Status(529), None),
        (Fault::Status(408), None),
        (Fault::Status(409), None),
        (Fault::Status(425), None),
        (Fault::ErrorIn200, None),
    ] {
        let (err, fake) = fails_with(vec![fault.clone()]).await;
        assert_eq!(
            err.category(),
            ErrorCategory::Recoverable,
            "{fault:?}: {err}"
        );
        assert_eq!(err.retry_after(), retry_after, "{fault:?}");
        assert_eq!(calls(&fake), 1, "{fault:?}: never retried in the client");
    }
}

#[tokio::test]
async fn transport_failures_are_recoverable() {
    for fault in [Fault::Reset, Fault::Truncated, Fault::Slow(3_000)] {
        let (err, _) = fails_with(vec![fault.clone()]).await;
        assert_eq!(
            err.category(),
            ErrorCategory::Recoverable,
            "{fault:?}: {err}"
        );
        assert_eq!(err.retry_after(), None);
    }
    // Nothing listens: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c =
        OpenAiClassifier::new(&settings(format!("http://127.0.0.1:{port}/v1")), keys()).unwrap();
    let err = c.classify(&texts(1)).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Recoverable, "{err}");
}

#[tokio::test]
async fn refusals_of_key_quota_or_model_are_data_and_open_the_breaker() {
    for fault in [
        Fault::Status(401),
        Fault::Status(402),
        Fault::Status(403),
        Fault::Status(404),
        Fault::Quota,
    ] {
        let (err, _) = fails_with(vec![fault.clone()]).await;
        assert!(
            matches!(err, ClassifyError::Misconfigured(_)),
            "{fault:?}: {err}"
        );
        assert_eq!(err.category(), ErrorCategory::Data);
    }
    // A wrong key, every call: after 3 failures (breaker_failures) no call goes out.
    let fake = fake_with(FakeConfig {
        api_key: Some("sk-the-right-one".to_owned()),
        ..FakeConfig::default()
    })
    .await;
    let c = client(&fake);
    for _ in 0..3 {
        let err = c.classify(&texts(2)).await.unwrap_err();
        assert!(matches!(err, ClassifyError::Misconfigured(_)), "{err}");
        assert!(
            !err.to_string().contains("SECRET"),
            "server quoted the key: {err}"
        );
    }
    assert!(c.breaker_open());
    for _ in 0..5 {
        let err = c.classify(&texts(2)).await.unwrap_err();
        assert_eq!(err.category(), ErrorCategory::Data, "{err}");
    }
    assert_eq!(calls(&fake), 3, "calls stop once the breaker is open");
    assert_eq!(c.stats.refused.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn breaker_on_repeated_outages_refuses_with_its_cooldown() {
    let fake = scripted(vec![Fault::Status(500); 3]).await;
    let c = client(&fake);
    for _ in 0..3 {
        assert!(c.classify(&texts(1)).await.is_err());
    }
    let err = c.classify(&texts(1)).await.unwrap_err();
    assert_eq!(err.category(), ErrorCategory::Recoverable);
    let wait = err.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(calls(&fake), 3);
}

#[tokio::test]
async fn moderation_refusals_and_unusable_answers_are_data() {
    for fault in [Fault::InvalidJson, Fault::Status(400), Fault::Status(422)] {
        let (err, fake) = fails_with(vec![fault.clone()]).await;
        assert!(
            matches!(err, ClassifyError::InvalidOutput(_)),
            "{fault:?}: {err}"
        );
        assert_eq!(err.category(), ErrorCategory::Data);
        assert_eq!(calls(&fake), 1);
    }
}

#[tokio::test]
async fn response_format_refusal_steps_down_once_and_is_remembered() {
    let fake = fake_with(FakeConfig {
        refuse_json_schema: true,
        ..FakeConfig::default()
    })
    .await;
    let c = client(&fake);
    let out = c.classify(&texts(3)).await.unwrap();
    assert!(out.iter().all(|c| c.classifier == "openai"));
    assert_eq!(c.rung(), protocol::Rung::JsonObject);
    c.classify(&texts(3)).await.unwrap();
    let formats = &fake.stats.to_json()["response_formats"];
    assert_eq!(formats["json_schema"], 1, "asked once, then remembered");
    assert_eq!(formats["json_object"], 2);
    // Configured to json_schema only: no ladder, a data error.
    let mut s = settings(fake.base_url());
    s.structured_output = StructuredOutput::JsonSchema;
    let strict = OpenAiClassifier::new(&s, keys()).unwrap();
    let err = strict.classify(&texts(1)).await.unwrap_err();
    assert!(matches!(err, ClassifyError::InvalidOutput(_)), "{err}");
    // And the bottom rung sends no response_format at all.
    let fake = scripted(vec![Fault::FormatRejected, Fault::FormatRejected]).await;
    let c = client(&fake);
    c.classify(&texts(2)).await.unwrap();
    assert_eq!(c.rung(), protocol::Rung::Prompt);
    assert_eq!(fake.stats.to_json()["response_formats"]["none"], 1);
}

#[tokio::test]
async fn context_length_and_cut_answers_split_the_batch() {
    for fault in [Fault::ContextLength, Fault::Length] {
        let fake = scripted(vec![fault.clone()]).await;
        let c = client(&fake);
        let tasks = texts(20);
        let out = c.classify(&tasks).await.unwrap();
        assert_eq!(
            calls(&fake),
            3,
            "{fault:?}: one refused call, then two halves"
        );
        for (t, c) in tasks.iter().zip(&out) {
            assert_eq!(c.type_key(), expected_key(t.title));
            assert_eq!(c.classifier, "openai");
        }
    }
    // A single task answered `length` twice (the second time shortened): data.
    let (err, fake) = fails_with(vec![Fault::Length; 10]).await;
    assert_eq!(err.category(), ErrorCategory::Data, "{err}");
    assert_eq!(
        calls(&fake),
        3,
        "halves: the first fails alone, shortened too"
    );
}

#[tokio::test]
async fn missing_and_invalid_ids_get_one_repair_call_then_rules() {
    // Missing last id: one repair call for it alone.
    let fake = scripted(vec![Fault::Missing]).await;
    let c = client(&fake);
    let out = c.classify(&texts(5)).await.unwrap();
    assert_eq!(calls(&fake), 2);
    assert_eq!(
        fake.stats.tasks.load(Ordering::Relaxed),
        5 + 1,
        "the repair holds only it"
    );
    assert!(out.iter().all(|c| c.classifier == "openai"));
    assert_eq!(c.stats.repairs.load(Ordering::Relaxed), 1);
    // A key outside the enum counts as missing.
    let fake = scripted(vec![Fault::BadKey]).await;
    let out = client(&fake).classify(&texts(4)).await.unwrap();
    assert_eq!(calls(&fake), 2);
    assert!(out.iter().all(|c| c.classifier == "openai"));
    // Still missing after the repair: rules(fallback), with the reason.
    let fake = scripted(vec![Fault::Missing, Fault::Missing]).await;
    let tasks = texts(3);
    let out = client(&fake).classify(&tasks).await.unwrap();
    assert_eq!(calls(&fake), 2, "one repair only");
    assert_eq!(out[0].classifier, "openai");
    assert_eq!(out[2].classifier, FALLBACK_CLASSIFIER);
    assert!(out[2].reason.as_deref().unwrap().contains("no valid key"));
    assert_eq!(
        out[2].work_mode,
        RulesClassifier.classify_one(&tasks[2]).work_mode
    );
    // Unknown ids are ignored: no repair.
    let fake = scripted(vec![Fault::UnknownId]).await;
    let out = client(&fake).classify(&texts(3)).await.unwrap();
    assert_eq!(calls(&fake), 1);
    assert!(out.iter().all(|c| c.classifier == "openai"));
}

#[test]
fn status_table() {
    let body = |code: Value, kind: &str, message: &str| serde_json::json!({"error": {"code": code, "type": kind, "message": message}});
    let map = |status, b: Value| from_status(status, Some(&b), "", None, None);
    let transient = |e: &CallError| matches!(e, CallError::Transient { .. });
    for s in [408, 409, 425, 429, 500, 502, 503, 504, 520, 529] {
        assert!(transient(&map(s, body(Value::Null, "", "x"))), "{s}");
    }
    for s in [401, 402, 403, 404] {
        assert!(
            matches!(
                map(s, body(Value::Null, "", "x")),
                CallError::Misconfigured(_)
            ),
            "{s}"
        );
    }
    assert!(matches!(
        map(
            429,
            body("insufficient_quota".into(), "insufficient_quota", "quota")
        ),
        CallError::Misconfigured(_)
    ));
    assert!(matches!(
        map(
            403,
            body(Value::Null, "", "Your input was flagged by moderation")
        ),
        CallError::Rejected(_)
    ));
    assert_eq!(
        map(
            400,
            body(
                Value::Null,
                "",
                "This model's maximum context length is 4096 tokens"
            )
        ),
        CallError::ContextLength
    );
    assert_eq!(
        map(413, body(Value::Null, "", "too large")),
        CallError::ContextLength
    );
    assert!(matches!(
        map(
            400,
            body(
                Value::Null,
                "",
                "'response_format.type' must be 'json_schema' or 'text'"
            )
        ),
        CallError::ResponseFormat(_)
    ));
    assert!(matches!(
        map(400, body(Value::Null, "", "bad")),
        CallError::Rejected(_)
    ));
    // vLLM's older error body, and errors inside a 200 (OpenRouter).
    let vllm = serde_json::json!({"object": "error", "message": "maximum context length is 2048 tokens", "code": 400});
    assert_eq!(map(400, vllm), CallError::ContextLength);
    assert!(transient(&map(
        200,
        serde_json::json!({"error": {"code": 429, "message": "slow down"}})
    )));
    assert!(matches!(
        map(
            200,
            serde_json::json!({"error": {"code": 401, "message": "no auth"}})
        ),
        CallError::Misconfigured(_)
    ));
    // x-should-retry overrides the status.
    assert!(transient(&from_status(400, None, "", None, Some(true))));
    assert!(matches!(
        from_status(503, None, "", None, Some(false)),
        CallError::Rejected(_)
    ));
    // A non-JSON error page keeps its status meaning.
    assert!(transient(&from_status(
        502,
        None,
        "<html>Bad gateway</html>",
        None,
        None
    )));
}

#[test]
fn retry_after_headers() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let with = |pairs: &'static [(&'static str, &'static str)]| {
        outcome::retry_after(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            },
            now,
        )
    };
    assert_eq!(
        with(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(with(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
    assert_eq!(
        with(&[("retry-after", "Sun, 06 Dec 2026 10:00:30 GMT")]),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        with(&[
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0s")
        ]),
        Some(Duration::from_secs(120)),
        "capped at two minutes"
    );
    assert_eq!(
        with(&[("x-ratelimit-reset-tokens", "20ms")]),
        Some(Duration::from_millis(20))
    );
    assert_eq!(with(&[("retry-after", "0")]), None);
    assert_eq!(with(&[("retry-after", "soon")]), None);
    assert_eq!(with(&[]), None);
}

#[test]
fn settings_are_checked_and_the_key_never_printed() {
    let mut s = settings("http://127.0.0.1:1/v1".to_owned());
    assert!(!format!("{s:?}").contains("SECRET"));
    let c = OpenAiClassifier::new(&s, keys()).unwrap();
    assert!(!format!("{c:?}").contains("SECRET"));
    s.batch_size = 21;
    assert!(
        OpenAiClassifier::new(&s, keys())
            .unwrap_err()
            .to_string()
            .contains("batch_size")
    );
    s.batch_size = 20;
    s.api_key = Secret::default();
    s.api_key_env = "ONTOFLEET_TEST_SURELY_UNSET_KEY".to_owned();
    let err = OpenAiClassifier::new(&s, keys()).unwrap_err();
    assert_eq!(
        err,
        SettingsError::MissingKey("ONTOFLEET_TEST_SURELY_UNSET_KEY".to_owned())
    );
    s.api_key_env = String::new();
    s.model = String::new();
    assert!(OpenAiClassifier::new(&s, keys()).is_err());
}

#[tokio::test]
async fn the_model_answer_wins_where_rules_would_guess() {
    // Titles in other languages, which rules mostly calls `execute`: the (scripted) model knows.
    let table = [
        ("Preparar la presentación para el cliente", "task.create"),
        (
            "Besprechung mit dem Vertriebsteam",
            "task.coordinate.meeting",
        ),
        ("Relire le contrat du fournisseur", "task.review"),
    ];
    let fake = fake_with(FakeConfig {
        table: table
            .iter()
            .map(|(t, k)| ((*t).to_owned(), (*k).to_owned()))
            .collect(),
        ..FakeConfig::default()
    })
    .await;
    let tasks: Vec<TaskText<'_>> = table
        .iter()
        .map(|(title, _)| TaskText {
            title,
            ..Default::default()
        })
        .collect();
    let out = client(&fake).classify(&tasks).await.unwrap();
    let keys: Vec<String> = out.iter().map(|c| c.type_key()).collect();
    assert_eq!(keys, table.map(|(_, k)| k.to_owned()));
    assert_eq!(calls(&fake), 1);
}

/// The half-open probe dropped mid-call (the job's timeout, a cancelled job) must not leave
/// the breaker refusing every later call: the next call becomes the probe.
#[tokio::test]
async fn a_probe_cancelled_mid_call_does_not_keep_the_breaker_open() {
    let fake = scripted(vec![
        Fault::Status(500),
        Fault::Status(500),
        Fault::Status(500),
        Fault::Slow(5_000),
    ])
    .await;
    let c = OpenAiClassifier::new(
        &ClassifierSettings {
            breaker_cooldown_secs: 1,
            ..settings(fake.base_url())
        },
        keys(),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(c.classify(&texts(1)).await.is_err());
    }
    assert!(c.breaker_open());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let cancelled = tokio::time::timeout(Duration::from_millis(300), c.classify(&texts(1))).await;
    assert!(cancelled.is_err(), "the probe was still in flight");
    assert_eq!(calls(&fake), 4, "the probe went out");
    let next = c.classify(&texts(1)).await;
    assert!(next.is_ok(), "refused after a cancelled probe: {next:?}");
    assert_eq!(calls(&fake), 5);
    assert!(!c.breaker_open());
}
