use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::*;

/// One labelled row of a TSV file (`title, description, work_mode, specialization`).
struct Row {
    title: String,
    description: Option<String>,
    mode: WorkMode,
    specialization: Option<String>,
}

fn load(name: &str) -> Vec<Row> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    body.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad row in {name}: {line:?}");
            let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
            Row {
                title: cols[0].to_owned(),
                description: opt(cols[1]),
                mode: cols[2].parse().unwrap_or_else(|e| panic!("{name}: {e}")),
                specialization: opt(cols[3]),
            }
        })
        .collect()
}

fn classify_row(row: &Row) -> Classification {
    RulesClassifier.classify_one(&TaskText {
        title: &row.title,
        description: row.description.as_deref(),
        details: None,
    })
}

/// Work-mode hits over `rows`, printing each miss.
fn evaluate(label: &str, rows: &[&Row]) -> usize {
    let mut hits = 0;
    for row in rows {
        let c = classify_row(row);
        if c.work_mode == row.mode {
            hits += 1;
        } else {
            println!(
                "  [{label}] miss: {:?} → {} (want {})",
                row.title, c.work_mode, row.mode
            );
        }
    }
    hits
}

fn pct(hits: usize, n: usize) -> f64 {
    100.0 * hits as f64 / n.max(1) as f64
}

/// Specialization agreement on rows that carry one, and extra specializations on rows without.
fn specialization_report(rows: &[Row]) -> (usize, usize, usize, usize) {
    let (mut hits, mut labelled, mut extra, mut unlabelled) = (0, 0, 0, 0);
    for row in rows {
        let c = classify_row(row);
        match &row.specialization {
            Some(want) => {
                labelled += 1;
                if c.work_mode == row.mode && c.specialization.as_deref() == Some(want) {
                    hits += 1;
                } else {
                    println!(
                        "  spec miss: {:?} → {} (want task.{}.{want})",
                        row.title,
                        c.type_key(),
                        row.mode
                    );
                }
            }
            None => {
                unlabelled += 1;
                if c.specialization.is_some() {
                    extra += 1;
                    println!("  spec extra: {:?} → {}", row.title, c.type_key());
                }
            }
        }
    }
    (hits, labelled, extra, unlabelled)
}

fn report(name: &str, rows: &[Row]) -> f64 {
    let all: Vec<&Row> = rows.iter().collect();
    let hits = evaluate("all", &all);
    let n = rows.len();
    println!("work-mode accuracy: {hits}/{n} = {:.1}%", pct(hits, n));
    for (half, parity) in [("A (even rows)", 0), ("B (odd rows)", 1)] {
        let part: Vec<&Row> = rows.iter().skip(parity).step_by(2).collect();
        let h = part
            .iter()
            .filter(|r| classify_row(r).work_mode == r.mode)
            .count();
        println!(
            "  {name} half {half}: {h}/{} = {:.1}%",
            part.len(),
            pct(h, part.len())
        );
    }
    let (mut hit_conf, mut miss_conf) = (Vec::new(), Vec::new());
    for row in rows {
        let c = classify_row(row);
        let bucket = if c.work_mode == row.mode {
            &mut hit_conf
        } else {
            &mut miss_conf
        };
        bucket.push(c.confidence.unwrap());
    }
    let mean = |v: &[f64]| match v.len() {
        0 => "n/a".to_owned(),
        n => format!("{:.2}", v.iter().sum::<f64>() / n as f64),
    };
    println!(
        "  mean confidence: {} when right, {} when wrong",
        mean(&hit_conf),
        mean(&miss_conf)
    );
    if rows.iter().any(|r| r.specialization.is_some()) {
        let (sh, sn, extra, un) = specialization_report(rows);
        println!(
            "specialization accuracy (rows with one): {sh}/{sn} = {:.1}%; extra specializations on rows without: {extra}/{un}",
            pct(sh, sn)
        );
    }
    hits as f64 / n as f64
}

#[test]
fn accuracy_on_labelled_set() {
    let rows = load("task-modes.tsv");
    assert_eq!(rows.len(), 240);
    let acc = report("task-modes.tsv", &rows);
    assert!(acc >= 0.85, "work-mode accuracy {acc:.3} < 0.85");
}

#[test]
fn accuracy_on_holdout() {
    let rows = load("task-modes-holdout.tsv");
    assert!(rows.len() >= 60);
    let acc = report("task-modes-holdout.tsv", &rows);
    assert!(acc >= 0.80, "holdout work-mode accuracy {acc:.3} < 0.80");
}

/// The blind set: 240 rows in the style of the labelled set, written by someone who had not seen
/// the classifier or the other sets, and never tuned on. This is the held-out figure of SPEC §5.1.
#[test]
fn accuracy_on_blind_set() {
    let rows = load("task-modes-holdout-3.tsv");
    assert_eq!(rows.len(), 240);
    let acc = report("task-modes-holdout-3.tsv", &rows);
    assert!(acc >= 0.85, "blind-set work-mode accuracy {acc:.3} < 0.85");
}

/// More sets written after the lexicon (`dev-a` and `holdout-2` were used to find gaps; `dev-b`
/// was not tuned on). `holdout-2` is deliberately hard: noun phrases without a verb, questions
/// and keyword traps ("Set up autopay" is admin, not setup).
#[test]
fn accuracy_on_dev_sets() {
    for (name, floor) in [
        ("task-modes-dev-a.tsv", 0.80),
        ("task-modes-dev-b.tsv", 0.80),
        ("task-modes-holdout-2.tsv", 0.80),
    ] {
        let rows = load(name);
        let acc = report(name, &rows);
        assert!(
            acc >= floor,
            "{name}: work-mode accuracy {acc:.3} < {floor}"
        );
    }
}

fn check(cases: &[(&str, WorkMode)]) {
    let mut failures = Vec::new();
    for (title, want) in cases {
        let got = RulesClassifier.classify_one(&TaskText {
            title,
            ..Default::default()
        });
        if got.work_mode != *want {
            failures.push(format!("{title:?}: got {}, want {want}", got.work_mode));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn execute_examples() {
    check(&[
        ("Fix the broken checkout button", WorkMode::Execute),
        ("Deploy the API to staging", WorkMode::Execute),
        ("Install the dishwasher", WorkMode::Execute),
        ("Set up the Raspberry Pi", WorkMode::Execute),
        ("Implement rate limiting", WorkMode::Execute),
        ("Ship the v1.4 release", WorkMode::Execute),
        ("Clean the garage", WorkMode::Execute),
        ("Buy groceries", WorkMode::Execute),
        ("TODO: need to replace the air filter", WorkMode::Execute),
        ("[Design] Fix the broken nav on mobile", WorkMode::Execute),
        ("Website: deploy the new footer", WorkMode::Execute),
    ]);
}

#[test]
fn create_examples() {
    check(&[
        ("Write the intro for the newsletter", WorkMode::Create),
        ("Draft a proposal for the client", WorkMode::Create),
        ("Design the onboarding screens", WorkMode::Create),
        ("Record a podcast episode", WorkMode::Create),
        ("Compose a birthday poem", WorkMode::Create),
        ("Finish writing chapter 7", WorkMode::Create),
        ("Build a prototype of the app", WorkMode::Create),
    ]);
}

#[test]
fn refine_examples() {
    check(&[
        ("Polish the demo slides", WorkMode::Refine),
        ("Revise the essay after comments", WorkMode::Refine),
        ("Refactor the billing service", WorkMode::Refine),
        ("Tighten the abstract", WorkMode::Refine),
        ("Improve the search ranking", WorkMode::Refine),
        ("Edit the wedding video", WorkMode::Refine),
        ("Fix typos on the about page", WorkMode::Refine),
        ("Clean up the CSS", WorkMode::Refine),
    ]);
}

#[test]
fn research_examples() {
    check(&[
        ("Research laptop options", WorkMode::Research),
        ("Investigate the slow query", WorkMode::Research),
        ("Compare health insurance providers", WorkMode::Research),
        ("Look into standing desks", WorkMode::Research),
        ("Learn Rust async", WorkMode::Research),
        ("Read up on GraphQL", WorkMode::Research),
        ("Explore coworking spaces nearby", WorkMode::Research),
    ]);
}

#[test]
fn review_examples() {
    check(&[
        ("Review the PR for the parser", WorkMode::Review),
        ("Proof the print layout", WorkMode::Review),
        ("Audit the AWS bill", WorkMode::Review),
        ("Give feedback on the logo drafts", WorkMode::Review),
        ("Grade the quizzes", WorkMode::Review),
        ("Evaluate the pilot results", WorkMode::Review),
        ("Look over the contract", WorkMode::Review),
    ]);
}

#[test]
fn coordinate_examples() {
    check(&[
        ("Meet with Jordan about the budget", WorkMode::Coordinate),
        ("Call the insurance company", WorkMode::Coordinate),
        ("Sync with the backend team", WorkMode::Coordinate),
        ("Interview the final candidate", WorkMode::Coordinate),
        ("Daily standup", WorkMode::Coordinate),
        ("1:1 with my manager", WorkMode::Coordinate),
        ("Email the landlord about the heating", WorkMode::Coordinate),
        (
            "Schedule a meeting with the designers",
            WorkMode::Coordinate,
        ),
    ]);
}

#[test]
fn admin_examples() {
    check(&[
        ("Pay the water bill", WorkMode::Admin),
        ("Renew the car registration", WorkMode::Admin),
        ("File the tax return", WorkMode::Admin),
        ("Submit the expense report", WorkMode::Admin),
        ("Back up the phone", WorkMode::Admin),
        ("Update the billing details", WorkMode::Admin),
        ("Clean out the downloads folder", WorkMode::Admin),
        ("Book a dentist appointment", WorkMode::Admin),
    ]);
}

#[test]
fn plan_examples() {
    check(&[
        ("Plan the holiday trip", WorkMode::Plan),
        ("Outline the book chapters", WorkMode::Plan),
        ("Prioritize the feature requests", WorkMode::Plan),
        ("Sprint planning", WorkMode::Plan),
        ("Define quarterly goals", WorkMode::Plan),
        ("Decide on the venue", WorkMode::Plan),
        ("Draft the marketing plan", WorkMode::Plan),
        ("Q3 roadmap", WorkMode::Plan),
    ]);
}

#[test]
fn specializations() {
    let cases: &[(&str, &str)] = &[
        ("Deploy the web app to production", "task.execute.deploy"),
        (
            "Roll out the new search to all users",
            "task.execute.deploy",
        ),
        ("Set up the staging server", "task.execute.setup"),
        ("Configure the VPN on the laptop", "task.execute.setup"),
        (
            "Run through the move-out checklist",
            "task.execute.checklist",
        ),
        (
            "Migrate the photos to the new NAS",
            "task.execute.migration",
        ),
        (
            "Schedule a kickoff meeting with the client",
            "task.coordinate.meeting",
        ),
        ("Team standup", "task.coordinate.standup"),
        (
            "Interview a candidate for the PM role",
            "task.coordinate.interview",
        ),
        ("Design the app icon", "task.create.design"),
        ("Build a clickable prototype", "task.create.prototype"),
        (
            "Review the pull request for the login fix",
            "task.review.code",
        ),
        ("Review the new mockups", "task.review.design"),
        (
            "Research competitor onboarding flows",
            "task.research.competitor",
        ),
        ("Survey customers about pricing", "task.research.user"),
        ("Write the monthly status report", "task.admin.reporting"),
        ("Sprint planning for sprint 9", "task.plan.sprint"),
        ("Plan the 2027 product roadmap", "task.plan.roadmap"),
        // No specialization without clear evidence.
        ("Fix the flaky test", "task.execute"),
        ("Call the plumber", "task.coordinate"),
        ("Write a poem", "task.create"),
    ];
    let mut failures = Vec::new();
    for (title, want) in cases {
        let got = RulesClassifier
            .classify_one(&TaskText {
                title,
                ..Default::default()
            })
            .type_key();
        if got != *want {
            failures.push(format!("{title:?}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn description_and_details_add_weaker_evidence() {
    let vague = TaskText {
        title: "Acme stuff",
        description: None,
        details: None,
    };
    assert_eq!(
        RulesClassifier.classify_one(&vague).work_mode,
        WorkMode::Execute
    );
    let with_desc = TaskText {
        description: Some("Call Bob to agree on the next steps"),
        ..vague
    };
    assert_eq!(
        RulesClassifier.classify_one(&with_desc).work_mode,
        WorkMode::Coordinate
    );
    let with_details = TaskText {
        details: Some("Research the three vendors and compare prices"),
        ..vague
    };
    assert_eq!(
        RulesClassifier.classify_one(&with_details).work_mode,
        WorkMode::Research
    );
    // The title wins over a description that points elsewhere.
    let strong = TaskText {
        title: "Write the launch announcement",
        description: Some("Review it with marketing before Friday"),
        details: None,
    };
    assert_eq!(
        RulesClassifier.classify_one(&strong).work_mode,
        WorkMode::Create
    );
}

#[test]
fn defaults_to_execute_with_low_confidence() {
    for title in ["", "   ", "Misc", "asdf qwerty", "🙂", "Acme"] {
        let c = RulesClassifier.classify_one(&TaskText {
            title,
            ..Default::default()
        });
        assert_eq!(c.work_mode, WorkMode::Execute, "{title:?}");
        assert_eq!(c.specialization, None, "{title:?}");
        let confidence = c.confidence.unwrap();
        assert!(confidence <= 0.3, "{title:?}: {confidence}");
        assert_eq!(c.classifier, "rules");
        assert_eq!(c.type_key(), "task.execute");
    }
    let strong = RulesClassifier.classify_one(&TaskText {
        title: "Review PR #12",
        ..Default::default()
    });
    let confidence = strong.confidence.unwrap();
    assert!(confidence >= 0.6, "{confidence}");
}

#[test]
fn type_key_and_error_categories() {
    let c = Classification {
        work_mode: WorkMode::Execute,
        specialization: Some("deploy".to_owned()),
        confidence: Some(0.9),
        classifier: "rules",
        origin: None,
        reason: None,
    };
    assert_eq!(c.type_key(), "task.execute.deploy");
    let bare = Classification {
        specialization: None,
        ..c.clone()
    };
    assert_eq!(bare.type_key(), "task.execute");
    let empty = Classification {
        specialization: Some(String::new()),
        ..c
    };
    assert_eq!(empty.type_key(), "task.execute");
    let unavailable = ClassifyError::Unavailable {
        message: "timeout".into(),
        retry_after: Some(std::time::Duration::from_secs(3)),
    };
    assert_eq!(unavailable.category(), ErrorCategory::Recoverable);
    assert_eq!(
        unavailable.retry_after(),
        Some(std::time::Duration::from_secs(3))
    );
    assert_eq!(
        ClassifyError::InvalidOutput("bad json".into()).category(),
        ErrorCategory::Data
    );
    assert_eq!(
        ClassifyError::Misconfigured("401".into()).category(),
        ErrorCategory::Data
    );
    assert_eq!(
        Classification::parse_type_key("task.review.code"),
        Some((WorkMode::Review, Some("code".to_owned())))
    );
    assert_eq!(
        Classification::parse_type_key("task.plan"),
        Some((WorkMode::Plan, None))
    );
    for bad in [
        "task",
        "task.nope",
        "plan.phase",
        "task.plan.",
        "task.a.b.c",
    ] {
        assert_eq!(Classification::parse_type_key(bad), None, "{bad}");
    }
}

/// Polls a future that is expected to be ready immediately.
fn block_on_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the rules classifier future must be ready at once"),
    }
}

#[test]
fn batch_preserves_order_through_the_trait() {
    let titles = [
        "Pay rent",
        "Draft the blog post",
        "Daily standup",
        "Plan Q1",
        "",
        "Review PR #7",
    ];
    let tasks: Vec<TaskText<'_>> = titles
        .iter()
        .map(|t| TaskText {
            title: t,
            ..Default::default()
        })
        .collect();
    let classifier: &dyn Classifier = &RulesClassifier;
    assert_eq!(classifier.name(), "rules");
    let out = block_on_ready(classifier.classify(&tasks)).expect("rules never fails");
    assert_eq!(out.len(), tasks.len());
    for (task, got) in tasks.iter().zip(&out) {
        assert_eq!(*got, RulesClassifier.classify_one(task));
    }
    let modes: Vec<&str> = out.iter().map(|c| c.work_mode.as_str()).collect();
    assert_eq!(
        modes,
        ["admin", "create", "coordinate", "plan", "execute", "review"]
    );
    let empty = block_on_ready(classifier.classify(&[])).expect("empty batch");
    assert!(empty.is_empty());
}

#[test]
fn robust_on_weird_input() {
    let long = "review ".repeat(20_000);
    let huge_word = "x".repeat(100_000);
    let mixed =
        "Déployer 🚀 la version — שלום עולם — مرحبا\u{0301}\u{0301} e\u{0301}\u{0308} 你好 "
            .repeat(1_000);
    let weird = [
        "",
        "\0\0\0",
        "🙂🙂🙂",
        "::::----||||",
        "re-",
        "re-re-re-",
        "1:1",
        "''''",
        "\u{202e}kcab esrever\u{202c}",
        "\u{feff}Fix bug",
        "İstanbul ǅemal ßtraße",
        long.as_str(),
        huge_word.as_str(),
        mixed.as_str(),
    ];
    for title in weird {
        for desc in [None, Some(title)] {
            let task = TaskText {
                title,
                description: desc,
                details: desc,
            };
            let a = RulesClassifier.classify_one(&task);
            let b = RulesClassifier.classify_one(&task);
            assert_eq!(a, b, "deterministic");
            let confidence = a.confidence.unwrap();
            assert!(
                confidence.is_finite() && (0.0..=1.0).contains(&confidence),
                "{confidence}"
            );
            assert_eq!(a.classifier, "rules");
        }
    }
}

#[test]
fn classifies_10k_tasks_quickly() {
    let rows = load("task-modes.tsv");
    let desc = "Some context: talk to the team, then update the doc and ship it by Friday.";
    let tasks: Vec<TaskText<'_>> = (0..10_000)
        .map(|i| {
            let r = &rows[i % rows.len()];
            TaskText {
                title: &r.title,
                description: Some(desc),
                details: r.description.as_deref(),
            }
        })
        .collect();
    RulesClassifier.classify_one(&tasks[0]); // compile the lexicon outside the timing
    let start = Instant::now();
    let out = RulesClassifier.classify_all(&tasks);
    let elapsed = start.elapsed();
    assert_eq!(out.len(), 10_000);
    println!("classified 10,000 tasks in {elapsed:?}");
    assert!(elapsed.as_secs_f64() < 2.0, "too slow: {elapsed:?}");
}

#[test]
fn explain_from_env() {
    let Ok(titles) = std::env::var("CLASSIFY_DEBUG") else {
        return;
    };
    for title in titles.split('|') {
        println!("{}", super::rules::explain(title));
    }
}

#[test]
fn lexicon_has_no_duplicate_weights() {
    let dups = super::rules::duplicate_weights();
    assert!(
        dups.is_empty(),
        "phrases weighted twice for the same mode (after stemming): {dups:#?}"
    );
}
