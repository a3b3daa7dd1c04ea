use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;

fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

#[test]
fn currency() {
    let cases: &[(&str, Option<f64>)] = &[
        ("$80k", Some(80_000.0)),
        ("$1.2M", Some(1_200_000.0)),
        ("€2,500", Some(2_500.0)),
        ("£300", Some(300.0)),
        ("USD 1,500", Some(1_500.0)),
        ("1500 dollars", Some(1_500.0)),
        ("$2.5 million", Some(2_500_000.0)),
        ("$3bn", Some(3_000_000_000.0)),
        ("budget is about $80k for venue", Some(80_000.0)),
        ("$19.99 a month", Some(19.99)),
        ("2500 €", Some(2_500.0)),
        ("US$1,200", Some(1_200.0)),
        ("costs 40 EUR", Some(40.0)),
        ("$80K, then $5k", Some(80_000.0)),
        ("", None),
        ("80k", None),
        ("200 guests", None),
        ("1,500", None),
        ("$", None),
        ("$abc", None),
        ("€2.500", None),
        ("50 pounds of flour", None),
        ("version 2.0", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_currency(text), *want, "{text:?}");
    }
}

#[test]
fn counts() {
    let cases: &[(&str, &[&str], Option<i64>)] = &[
        ("200 guests", &["guests"], Some(200)),
        ("1,200 attendees", &["attendee"], Some(1_200)),
        ("We expect 150 Guests", &["guest"], Some(150)),
        ("a 5-person team", &["person"], Some(5)),
        ("1,200+ attendees", &["attendees"], Some(1_200)),
        ("about 12 people", &["person"], Some(12)),
        ("3 entries", &["entry"], Some(3)),
        ("2 boxes", &["box"], Some(2)),
        ("4 days", &["day"], Some(4)),
        ("1 box", &["boxes"], Some(1)),
        ("200", &["guests"], None),
        ("guests: 200", &["guests"], None),
        ("150-200 guests", &["guests"], None),
        ("2.5 guests", &["guests"], None),
        ("200 people", &["guests"], None),
        ("$200 guests", &["guests"], None),
        ("200 guestrooms", &["guests"], None),
        ("v2 guests", &["guests"], None),
    ];
    for (text, nouns, want) in cases {
        assert_eq!(parse_count(text, nouns), *want, "{text:?}");
    }
    let bare: &[(&str, Option<i64>)] = &[
        ("200", Some(200)),
        (" 1,200 ", Some(1_200)),
        ("200 guests", None),
        ("2.5", None),
        ("", None),
        ("abc", None),
    ];
    for (text, want) in bare {
        assert_eq!(parse_bare_count(text), *want, "{text:?}");
    }
}

#[test]
fn dates() {
    use DateOrder::{DayFirst as D, MonthFirst as M};
    let cases: &[(&str, DateOrder, Option<NaiveDate>)] = &[
        ("June 20, 2026", M, day(2026, 6, 20)),
        ("June 2026", M, day(2026, 6, 1)),
        ("2026-06-20", M, day(2026, 6, 20)),
        ("20/06/2026", D, day(2026, 6, 20)),
        ("20 June 2026", M, day(2026, 6, 20)),
        ("Jun 20 2026", M, day(2026, 6, 20)),
        ("06/20/2026", M, day(2026, 6, 20)),
        ("20/06/2026", M, day(2026, 6, 20)),
        ("06/07/2026", M, day(2026, 6, 7)),
        ("06/07/2026", D, day(2026, 7, 6)),
        ("20.06.2026", D, day(2026, 6, 20)),
        ("Launch on Sept. 3rd, 2026 at noon", M, day(2026, 9, 3)),
        ("the 20th of June, 2026", M, day(2026, 6, 20)),
        ("due 2026/06/20", M, day(2026, 6, 20)),
        ("from May 1, 2026 to June 30, 2026", M, day(2026, 5, 1)),
        ("2026-06-20T10:00:00Z", M, day(2026, 6, 20)),
        ("February 30, 2026", M, None),
        ("2026-02-30", M, None),
        ("31/04/2026", D, None),
        ("13/13/2026", M, None),
        ("June 20", M, None),
        ("06/20/26", M, None),
        ("you may 5", M, None),
        ("", M, None),
    ];
    for (text, order, want) in cases {
        assert_eq!(parse_date(text, *order), *want, "{text:?} {order:?}");
    }
}

#[test]
fn durations() {
    let cases: &[(&str, Option<i64>)] = &[
        ("2h 30m", Some(150)),
        ("90 min", Some(90)),
        ("1.5 hours", Some(90)),
        ("2 hrs", Some(120)),
        ("45m", Some(45)),
        ("2h30m", Some(150)),
        ("1h30", Some(90)),
        ("2 hours and 30 minutes", Some(150)),
        ("a 30-minute call", Some(30)),
        ("two hours", Some(120)),
        ("takes about 3 hours, then 1h", Some(180)),
        ("1 day", None),
        ("5 m", None),
        ("$2.5m", None),
        ("2.5m users", None),
        ("2-3 hours", None),
        ("10:30 meeting", None),
        ("h", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_duration_minutes(text), *want, "{text:?}");
    }
}

#[test]
fn lists() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        ("React + TypeScript", Some(&["React", "TypeScript"])),
        ("a, b and c", Some(&["a", "b", "c"])),
        ("a, b, and c.", Some(&["a", "b", "c"])),
        ("a; b", Some(&["a", "b"])),
        ("a & b", Some(&["a", "b"])),
        ("- a\n- b", Some(&["a", "b"])),
        ("Stack:\n* Rust\n* Postgres", Some(&["Rust", "Postgres"])),
        ("1. Design\n2) Build", Some(&["Design", "Build"])),
        ("C++ + Rust", Some(&["C++", "Rust"])),
        ("R&D, Sales", Some(&["R&D", "Sales"])),
        ("Node.js, Deno", Some(&["Node.js", "Deno"])),
        ("a, A, b", Some(&["a", "b"])),
        ("React", None),
        ("R&D", None),
        ("C++", None),
        ("a,", None),
        (",,, ;", None),
        ("Anderson", None),
        ("", None),
    ];
    for (text, want) in cases {
        let want = want.map(|w| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(parse_list(text), want, "{text:?}");
    }
}

fn infer(schema: &Value, text: &str) -> Value {
    Value::Object(infer_props(
        schema,
        text,
        &Map::new(),
        DateOrder::MonthFirst,
    ))
}

#[test]
fn infers_an_event_project() {
    let schema = json!({"type": "object", "properties": {
        "description": {"type": "string"},
        "budget": {"type": "number"},
        "guest_count": {"type": "integer"},
        "event_date": {"type": "string", "format": "date"},
        "rsvp_deadline": {"type": "string", "format": "date"},
        "venue": {"type": "string"},
        "vendors": {"type": "array", "items": {"type": "string"}},
        "event_url": {"type": "string", "format": "uri"},
    }});
    let text = "Sarah's wedding on June 20, 2026 at the lake house. Budget is about $80k for venue \
                and catering, ~150 guests. RSVP by May 1, 2026.\n\
                Vendors: Bloom Florist, Lakeside Catering and DJ Max\nVenue: Lake House Estate";
    assert_eq!(
        infer(&schema, text),
        json!({
            "budget": 80000, "guest_count": 150, "event_date": "2026-06-20",
            "rsvp_deadline": "2026-05-01", "venue": "Lake House Estate",
            "vendors": ["Bloom Florist", "Lakeside Catering", "DJ Max"],
        })
    );
}

#[test]
fn infers_a_software_project() {
    let schema = json!({"type": "object", "properties": {
        "tech_stack": {"type": "array", "items": {"type": "string"}},
        "repository_url": {"type": "string", "format": "uri"},
        "design_link": {"type": "string", "format": "uri"},
        "launch_date": {"type": "string", "format": "date"},
        "deadline": {"type": "string", "format": "date"},
        "target_users": {"type": "integer"},
        "team_size": {"type": "integer"},
    }});
    let text = "Build the MVP using React, TypeScript and Rust. Repo: https://github.com/acme/app \
                (mockups in https://figma.com/file/x). Team of 4 engineers. Launch March 2027, \
                aiming for 10,000 users. Due by 2027-02-15.";
    assert_eq!(
        infer(&schema, text),
        json!({
            "tech_stack": ["React", "TypeScript", "Rust"],
            "repository_url": "https://github.com/acme/app",
            "design_link": "https://figma.com/file/x",
            "launch_date": "2027-03-01", "deadline": "2027-02-15",
            "target_users": 10000, "team_size": 4,
        })
    );
}

#[test]
fn infers_task_durations_and_sprint_facts() {
    let task = json!({"properties": {
        "duration_minutes": {"type": "integer"},
        "estimated_duration_minutes": {"type": "integer"},
        "actual_duration_minutes": {"type": "integer"},
    }});
    assert_eq!(
        infer(&task, "Pair session, 2h 30m. Estimated 3 hours; took 4h."),
        json!({"duration_minutes": 150, "estimated_duration_minutes": 180, "actual_duration_minutes": 240})
    );
    assert_eq!(
        infer(&task, "Quick 45m sync"),
        json!({"duration_minutes": 45})
    );
    let sprint = json!({"properties": {
        "sprint_number": {"type": "integer"}, "duration_days": {"type": "integer"},
        "velocity_target": {"type": "number"}, "completion_threshold": {"type": "number"},
    }});
    assert_eq!(
        infer(
            &sprint,
            "Sprint 12: two-week sprint.\nVelocity target: 42.5\nCompletion threshold = 90"
        ),
        json!({"sprint_number": 12, "duration_days": 14, "velocity_target": 42.5, "completion_threshold": 90})
    );
}

#[test]
fn infers_nested_labelled_and_enum_props() {
    let schema = json!({"properties": {
        "schedule": {"type": "object", "properties": {
            "start_date": {"type": "string", "format": "date"},
            "end_date": {"type": "string", "format": "date"},
        }},
        "meeting_type": {"type": "string", "enum": ["one_on_one", "team", "client"]},
        "budget": {"type": "number"},
    }});
    assert_eq!(
        infer(
            &schema,
            "Runs from June 1, 2026 to June 30, 2026.\nMeeting type: One on one\nBudget: 12k"
        ),
        json!({"schedule": {"start_date": "2026-06-01", "end_date": "2026-06-30"},
               "meeting_type": "one_on_one", "budget": 12000})
    );
    assert_eq!(
        infer(&schema, "Meeting type: brunch. Budget 2026 planning"),
        json!({})
    );
}

#[test]
fn inference_is_conservative() {
    let money =
        json!({"properties": {"budget": {"type": "number"}, "ticket_price": {"type": "number"}}});
    assert_eq!(infer(&money, "We paid $500 and $300."), json!({}));
    assert_eq!(
        infer(&money, "Budget $80k, tickets $25 each"),
        json!({"budget": 80000, "ticket_price": 25})
    );
    let one = json!({"properties": {"budget": {"type": "number"}}});
    assert_eq!(infer(&one, "Venue $5k, catering $2k"), json!({}));
    assert_eq!(infer(&one, "Venue deposit: $5k"), json!({"budget": 5000}));

    let deadline = json!({"properties": {"deadline": {"type": "string", "format": "date"}}});
    assert_eq!(
        infer(&deadline, "Call John about the June 20, 2026 party"),
        json!({})
    );
    assert_eq!(
        infer(&deadline, "Reviewed by John on June 20, 2026"),
        json!({})
    );
    assert_eq!(
        infer(&deadline, "Submit by June 20, 2026"),
        json!({"deadline": "2026-06-20"})
    );

    let words = json!({"properties": {
        "current_word_count": {"type": "integer"}, "target_word_count": {"type": "integer"},
    }});
    assert_eq!(infer(&words, "A novel of 80,000 words"), json!({}));
    assert_eq!(
        infer(&words, "Target 90,000 words; currently at 12,500 words."),
        json!({"current_word_count": 12500, "target_word_count": 90000})
    );
    let guests = json!({"properties": {"guest_count": {"type": "integer"}}});
    assert_eq!(
        infer(&guests, "200 guests invited, 150 guests confirmed"),
        json!({})
    );
    assert_eq!(infer(&guests, "Guests: 200"), json!({"guest_count": 200}));

    let links = json!({"properties": {
        "meeting_link": {"type": "string", "format": "uri"},
        "article_url": {"type": "string", "format": "uri"},
    }});
    assert_eq!(
        infer(
            &links,
            "Join https://zoom.us/j/1 and see https://github.com/a/b."
        ),
        json!({"meeting_link": "https://zoom.us/j/1"})
    );
    assert_eq!(
        infer(&links, "Read (https://example.com/post)."),
        json!({"article_url": "https://example.com/post"})
    );

    let mut existing = Map::new();
    existing.insert("budget".into(), json!(1));
    assert!(infer_props(&one, "Budget $80k", &existing, DateOrder::MonthFirst).is_empty());
    existing.insert("budget".into(), Value::Null);
    assert_eq!(
        infer_props(&one, "Budget $80k", &existing, DateOrder::MonthFirst).get("budget"),
        Some(&json!(80000))
    );
}

fn validation_schema() -> Value {
    json!({"type": "object", "properties": {
        "target_streak": {"type": "integer", "default": 21},
        "tags": {"type": "array", "items": {"type": "string"}},
        "title": {"type": "string"},
        "flag": {"type": "boolean"},
        "budget": {"type": "number"},
        "kind": {"type": "string", "enum": ["team", "client"]},
        "guest_count": {"type": "integer"},
        "event_date": {"type": "string", "format": "date"},
        "link": {"type": "string", "format": "uri"},
        "notes": {"type": ["string", "null"]},
        "schedule": {"type": "object", "properties": {
            "start_date": {"type": "string", "format": "date"},
        }, "required": ["start_date"]},
    }, "required": ["target_streak", "tags", "title", "flag", "budget", "kind", "schedule"]})
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn validate_repairs_missing_required_props() {
    let mut p = props(json!({"title": null, "legacy": {"id": 7}, "description": "kept"}));
    let v = validate(&validation_schema(), &mut p);
    assert!(v.is_valid(), "{v:?}");
    let repaired: Vec<(&str, &Value)> = v
        .repairs
        .iter()
        .map(|r| (r.prop.as_str(), &r.value))
        .collect();
    assert_eq!(
        repaired,
        [
            ("target_streak", &json!(21)),
            ("tags", &json!([])),
            ("title", &json!("")),
            ("flag", &json!(false)),
            ("budget", &json!(0)),
            ("kind", &json!("team")),
            ("schedule", &json!({})),
            ("schedule.start_date", &json!("")),
        ]
    );
    assert!(v.repairs[0].reason.contains("schema default"));
    assert!(v.repairs[2].reason.contains("null"));
    assert!(v.repairs[3].reason.contains("zero value of type boolean"));
    assert_eq!(p["target_streak"], json!(21));
    assert_eq!(p["schedule"], json!({"start_date": ""}));
    assert_eq!(p["legacy"], json!({"id": 7}));
    let stored = serde_json::to_value(&v.repairs).unwrap_or_default();
    assert_eq!(
        stored[0],
        json!({"prop": "target_streak", "value": 21, "reason": v.repairs[0].reason})
    );
}

#[test]
fn validate_reports_invalid_props() {
    let base = json!({"target_streak": 3, "tags": ["a"], "title": "t", "flag": true, "budget": 1.5,
                      "kind": "client", "schedule": {"start_date": "2026-06-01"}, "notes": null});
    let cases: &[(&str, Value, &str)] = &[
        (
            "guest_count",
            json!("200"),
            "expected integer, found string",
        ),
        (
            "guest_count",
            json!(2.5),
            "expected integer, found number with a fraction",
        ),
        ("event_date", json!("June 20, 2026"), "not a valid date"),
        ("event_date", json!("2026-02-30"), "not a valid date"),
        ("event_date", json!("2026-6-5"), "not a valid date"),
        ("kind", json!("friends"), "is not one of"),
        ("link", json!("not a url"), "not a valid uri"),
        ("tags", json!(["a", 3]), "expected string"),
        (
            "schedule",
            json!({"start_date": "soon"}),
            "not a valid date",
        ),
        ("notes", json!(5), "expected string or null"),
    ];
    for (prop, value, message) in cases {
        let mut p = props(base.clone());
        p.insert((*prop).to_owned(), value.clone());
        let v = validate(&validation_schema(), &mut p);
        assert!(v.repairs.is_empty(), "{prop}: {v:?}");
        assert_eq!(v.invalid.len(), 1, "{prop}: {v:?}");
        assert!(v.invalid[0].message.contains(message), "{prop}: {v:?}");
        assert!(v.invalid[0].prop.starts_with(prop), "{prop}: {v:?}");
    }
    let mut p = props(base.clone());
    p.insert("guest_count".into(), json!(3.0));
    p.insert("event_date".into(), json!("2026-06-20"));
    p.insert("link".into(), json!("https://x.test/a"));
    p.insert("notes".into(), json!("n"));
    assert_eq!(
        validate(&validation_schema(), &mut p),
        Validation::default()
    );
    // Not a schema at all: nothing to check.
    assert_eq!(validate(&json!("x"), &mut p), Validation::default());
}

fn seeded_schemas() -> Vec<Value> {
    vec![
        json!({"properties": {
            "budget": {"type": "number"}, "ticket_price": {"type": "number"},
            "guest_count": {"type": "integer"}, "team_size": {"type": "integer"},
            "event_date": {"type": "string", "format": "date"},
            "deadline": {"type": "string", "format": "date"},
            "venue": {"type": "string"},
            "meeting_type": {"type": "string", "enum": ["team", "client"]},
            "repository_url": {"type": "string", "format": "uri"},
            "event_url": {"type": "string", "format": "uri"},
            "tech_stack": {"type": "array", "items": {"type": "string"}},
            "duration_minutes": {"type": "integer"}, "duration_days": {"type": "integer"},
            "sprint_number": {"type": "integer"}, "velocity_target": {"type": "number"},
            "schedule": {"type": "object", "properties": {
                "start_date": {"type": "string", "format": "date"},
                "end_date": {"type": "string", "format": "date"}}},
            "target_streak": {"type": "integer", "default": 21},
        }, "required": ["target_streak"]}),
        validation_schema(),
    ]
}

/// Text made of the pieces the scanners look for, so random inputs reach deep paths.
fn texty() -> impl Strategy<Value = String> {
    let pieces = vec![
        "$",
        "€",
        "80",
        "1",
        ",",
        "200",
        ".",
        "5",
        "k",
        "M",
        " ",
        " ",
        "June",
        "2026",
        "-",
        "/",
        "guests",
        "h",
        "m",
        "30",
        ":",
        "Budget",
        "due",
        "by",
        "\n",
        "- ",
        "+",
        "and",
        "é",
        "🎉",
        "https://",
        "github.com",
        "Tech stack",
        "using",
        "Sprint",
        "of",
        "team",
        "weeks",
        "th",
        "Venue",
        "(",
        ")",
        "\u{301}",
        "Feb",
        "days",
    ];
    prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
}

fn exercise(text: &str) {
    let _ = parse_currency(text);
    let _ = parse_count(text, &["guests", "person"]);
    let _ = parse_bare_count(text);
    let _ = parse_date(text, DateOrder::MonthFirst);
    let _ = parse_date(text, DateOrder::DayFirst);
    let _ = parse_duration_minutes(text);
    let _ = parse_list(text);
    for schema in seeded_schemas() {
        let mut inferred = infer_props(&schema, text, &Map::new(), DateOrder::DayFirst);
        let v = validate(&schema, &mut inferred);
        // Whatever is inferred satisfies the schema it was inferred for.
        assert!(v.is_valid(), "{text:?} → {inferred:?}: {v:?}");
        let mut as_props = Map::new();
        as_props.insert("venue".into(), Value::from(text));
        as_props.insert("guest_count".into(), Value::from(text));
        let _ = validate(&schema, &mut as_props);
    }
}

proptest! {
    #[test]
    fn nothing_panics_on_printable_text(s in "\\PC*") {
        exercise(&s);
    }

    #[test]
    fn nothing_panics_on_any_string(s in any::<String>()) {
        exercise(&s);
    }

    #[test]
    fn nothing_panics_on_texty_input(s in texty()) {
        exercise(&s);
    }

    #[test]
    fn dates_round_trip(y in 1000i32..=9999, ordinal in 1u32..=365) {
        let d = NaiveDate::from_yo_opt(y, ordinal).unwrap_or_default();
        for (fmt, order) in [
            ("%B %-d, %Y", DateOrder::MonthFirst),
            ("%b %-d %Y", DateOrder::MonthFirst),
            ("%-d %B %Y", DateOrder::DayFirst),
            ("%Y-%m-%d", DateOrder::DayFirst),
            ("%d/%m/%Y", DateOrder::DayFirst),
            ("%m/%d/%Y", DateOrder::MonthFirst),
        ] {
            let text = format!("Due {}.", d.format(fmt));
            prop_assert_eq!(parse_date(&text, order), Some(d), "{}", text);
        }
    }

    #[test]
    fn counts_round_trip(n in 0u64..1_000_000_000_000) {
        prop_assert_eq!(parse_count(&format!("{n} guests"), &["guest"]), Some(n as i64));
        let grouped = format!("about {} guests", crate::thousands(n));
        prop_assert_eq!(parse_count(&grouped, &["guests"]), Some(n as i64));
        prop_assert_eq!(parse_bare_count(&crate::thousands(n)), Some(n as i64));
    }

    #[test]
    fn durations_round_trip(h in 0i64..1000, m in 0i64..60) {
        prop_assert_eq!(parse_duration_minutes(&format!("{h}h {m}m")), Some(h * 60 + m));
        prop_assert_eq!(parse_duration_minutes(&format!("{h} hours and {m} minutes")), Some(h * 60 + m));
    }

    #[test]
    fn currency_round_trips(n in 0u32..1_000_000) {
        prop_assert_eq!(parse_currency(&format!("${n}")), Some(f64::from(n)));
        prop_assert_eq!(parse_currency(&format!("${n}k")), Some(f64::from(n) * 1000.0));
        prop_assert_eq!(parse_currency(&format!("€{}", crate::thousands(u64::from(n)))), Some(f64::from(n)));
    }

    #[test]
    fn lists_round_trip(words in prop::collection::btree_set("[b-z]{1,8}", 2..6)) {
        let words: Vec<String> = words.into_iter().collect();
        prop_assert_eq!(parse_list(&words.join(", ")), Some(words.clone()));
        let bullets: String = words.iter().map(|w| format!("- {w}\n")).collect();
        prop_assert_eq!(parse_list(&bullets), Some(words));
    }
}
