//! `--json` output, byte for byte (the admin API issue moves every operation into a typed layer
//! and must print exactly this): every command of the README's field list runs in one scenario
//! on a deterministic dataset, and its stdout, with what differs from run to run masked (ids,
//! times, durations, worker names, the operator), must equal `tests/golden/<name>.json`.
//! `UPDATE_GOLDEN=1` rewrites the files.

use std::path::PathBuf;
use std::time::Duration;

use ontofleet_testkit::TestDb;
use uuid::Uuid;

use crate::{RUN_TIMEOUT, prepared};

/// Keys whose numbers are timings.
const TIMING_KEYS: [&str; 4] = ["duration_ms", "duration_secs", "refresh_ms", "seconds"];

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !b"ILOU".contains(&c)))
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[..4].iter().all(u8::is_ascii_digit)
}

/// A string's content with what varies masked.
fn mask_string(s: &str) -> String {
    if is_time(s) {
        return "<time>".to_owned();
    }
    if is_ulid(s) {
        return "<ulid>".to_owned();
    }
    if s.starts_with("golden-") {
        return "<worker>".to_owned();
    }
    if s.contains('@') && s.ends_with(')') {
        return "<operator>".to_owned();
    }
    // UUIDs anywhere inside (messages name ids).
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if i + 36 <= b.len() && is_uuid(&b[i..i + 36]) {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The document with ids, times, timings, worker and operator names masked; everything else,
/// whitespace and key order included, as printed.
fn mask(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut chars = doc.char_indices().peekable();
    let mut last_key = String::new();
    while let Some((_, c)) = chars.next() {
        if c == '"' {
            let mut content = String::new();
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        content.push(c);
                        if let Some((_, n)) = chars.next() {
                            content.push(n);
                        }
                    }
                    '"' => break,
                    _ => content.push(c),
                }
            }
            out.push('"');
            out.push_str(&mask_string(&content));
            out.push('"');
            last_key = content;
        } else if (c.is_ascii_digit() || c == '-') && TIMING_KEYS.contains(&last_key.as_str()) {
            while chars
                .peek()
                .is_some_and(|(_, n)| n.is_ascii_digit() || *n == '.' || *n == 'e' || *n == '-')
            {
                chars.next();
            }
            out.push_str("<n>");
            last_key.clear();
        } else {
            out.push(c);
        }
    }
    out
}

struct Golden {
    db: TestDb,
    mismatches: Vec<String>,
}

impl Golden {
    /// Run `ontofleet ARGS --json`, expect exit `code`, compare its masked stdout with the file.
    async fn check(&mut self, name: &str, args: &[&str], code: i32) -> String {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.db.cli(&all).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "ontofleet {all:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let masked = mask(&stdout);
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("golden/{name}.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &masked).unwrap();
        } else {
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            if want != masked {
                self.mismatches.push(format!(
                    "{name}: `ontofleet {}`\n--- want\n{want}\n--- got\n{masked}",
                    all.join(" ")
                ));
            }
        }
        stdout
    }
}

fn field(doc: &str, pointer: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    match v.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        other => panic!("{pointer}: {other:?} in {doc}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_stable_byte_for_byte() {
    let db = prepared(
        "golden",
        &[
            "--users",
            "2",
            "--projects-per-user",
            "2",
            "--tasks-per-project",
            "5",
            "--seed",
            "12",
            "--bad-rows",
        ],
    )
    .await;
    let project: Uuid = sqlx::query_scalar(
        "SELECT id FROM projects WHERE status <> 'archived' ORDER BY id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let p = project.to_string();
    let mut g = Golden {
        db,
        mismatches: Vec::new(),
    };
    g.check("db-status", &["db", "status"], 0).await;

    // One worker, one job at a time (a stable order), the first project skipped once as fatal.
    let fault = [
        // Claim one job per free slot: jobs run in queue order, so lists come out in one order.
        ("ONTOFLEET__WORKER__PREFETCH", "0"),
        ("ONTOFLEET__FAULTS__FAIL_PROJECT", p.as_str()),
        ("ONTOFLEET__FAULTS__FAIL_KIND", "fatal"),
        ("ONTOFLEET__FAULTS__FAIL_ATTEMPTS", "1"),
    ];
    let mut worker = g.db.spawn_worker("golden", 1, &fault);
    g.db.wait_workers(&["golden"], Duration::from_secs(30))
        .await;
    let started = g
        .check("run-start-watch", &["run", "start", "--all", "--watch"], 3)
        .await;
    let run = field(&started, "/run_id");
    g.check("run-list", &["run", "list"], 0).await;
    g.check("run-show", &["run", "show", &run], 0).await;
    g.check("lock-status", &["lock", "status"], 0).await;
    // One status at a time: jobs of one run finish in an order that varies (ULIDs minted in one
    // millisecond sort at random).
    let skipped = ["jobs", "list", "--run", &run, "--status", "skipped"];
    g.check("jobs-list", &skipped, 0).await;
    let job: String =
        sqlx::query_scalar("SELECT job_id FROM migration_run_items WHERE project_id = $1")
            .bind(project)
            .fetch_one(&g.db.pool)
            .await
            .unwrap();
    g.check("jobs-show", &["jobs", "show", &job], 0).await;
    // The skipped project does not reconcile yet: exit 1 with the mismatches.
    g.check("run-validate", &["run", "validate", &run], 1).await;
    g.check("stats", &["stats"], 0).await;
    g.check("stats-users", &["stats", "--users", "--refresh"], 0)
        .await;
    g.check(
        "run-preview",
        &["run", "preview", "--project", &p, "--resync"],
        0,
    )
    .await;
    g.check("jobs-retry", &["jobs", "retry", "--run", &run], 0)
        .await;
    let run_uuid: Uuid = run.parse().unwrap();
    assert_eq!(
        g.db.wait_run(run_uuid, RUN_TIMEOUT).await,
        "completed_with_errors"
    );
    g.check("run-show-after-retry", &["run", "show", &run], 0)
        .await;
    ontofleet_testkit::signal(&worker, "TERM");
    worker.wait().await.unwrap();

    // No worker from here: what is enqueued waits.
    let queued = g.check("enqueue", &["enqueue", "--project", &p], 0).await;
    let waiting = field(&queued, "/job_id");
    g.check("jobs-kill", &["jobs", "kill", &waiting], 0).await;
    let again = g
        .check("enqueue-again", &["enqueue", "--project", &p], 0)
        .await;
    let single = field(&again, "/run_id");
    g.check("run-cancel", &["run", "cancel", &single], 0).await;
    g.check("lock-release", &["lock", "release"], 0).await;
    g.check("jobs-purge", &["jobs", "purge", "--older-than", "30d"], 0)
        .await;
    g.check("run-rollback", &["run", "rollback", &run, "--yes"], 0)
        .await;
    assert!(
        g.mismatches.is_empty(),
        "--json output changed:\n{}",
        g.mismatches.join("\n\n")
    );
    g.db.drop_db().await;
}

#[test]
fn masking_keeps_the_bytes_it_does_not_mask() {
    let doc = "{\n  \"duration_ms\": 258,\n  \"id\": \"2f5e1e9c-f937-4a4e-9d18-782073da04bf\",\n  \"job\": \"01M94Q367NYEB5C3W8PY8TPW43\",\n  \"at\": \"2026-12-06T03:41:51.219Z\",\n  \"msg\": \"project 2f5e1e9c-f937-4a4e-9d18-782073da04bf gone\",\n  \"n\": 12,\n  \"by\": \"root@box (cli)\",\n  \"w\": \"golden-local-1-01M94Q34V3BVAGECWJXX380F4B-0\"\n}";
    assert_eq!(
        mask(doc),
        "{\n  \"duration_ms\": <n>,\n  \"id\": \"<uuid>\",\n  \"job\": \"<ulid>\",\n  \"at\": \"<time>\",\n  \"msg\": \"project <uuid> gone\",\n  \"n\": 12,\n  \"by\": \"<operator>\",\n  \"w\": \"<worker>\"\n}"
    );
}
