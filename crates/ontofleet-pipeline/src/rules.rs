//! The pure mapping rules of SPEC §4.3–4.6: states, facets, priorities, plan states against the
//! run's reference time, and deep merge of template defaults. No IO.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// `projects.status` → `onto_projects.state_key`.
pub fn project_state(status: &str) -> &'static str {
    match status {
        "paused" => "paused",
        "completed" => "complete",
        "archived" => "archived",
        _ => "active",
    }
}

/// `projects.status` → `facets.stage`.
pub fn project_stage(status: &str) -> &'static str {
    match status {
        "paused" => "planning",
        "completed" | "archived" => "complete",
        _ => "execution",
    }
}

/// Number of selected tasks → `facets.scale`.
pub fn project_scale(task_count: usize) -> &'static str {
    match task_count {
        0..=3 => "micro",
        4..=10 => "small",
        11..=25 => "medium",
        26..=60 => "large",
        _ => "epic",
    }
}

/// Lower-case words of a text, for keyword rules.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn has_any(words: &[String], keys: &[&str]) -> bool {
    words.iter().any(|w| {
        keys.iter()
            .any(|k| w == k || (k.len() > 4 && w.strip_suffix('s') == Some(k)))
    })
}

fn has_phrase(words: &[String], phrase: &[&str]) -> bool {
    words
        .windows(phrase.len())
        .any(|w| w.iter().zip(phrase).all(|(a, b)| a == b))
}

/// Keyword rules over name + description + tags → `facets.context`, first match wins. Exactly
/// the words of SPEC §4.3 (no plurals or variants: "customers" is not "customer"), so an
/// operator can predict the facet from the table.
pub fn project_context(text: &str) -> &'static str {
    let w = words(text);
    let has = |keys: &[&str]| w.iter().any(|x| keys.contains(&x.as_str()));
    if has(&["client", "agency", "customer"]) {
        "client"
    } else if has(&["startup", "revenue", "business", "sales"]) {
        "commercial"
    } else if has(&["research", "thesis", "study", "academic", "course"]) {
        "academic"
    } else if has_phrase(&w, &["open", "source"]) || has(&["oss", "github"]) {
        "open_source"
    } else {
        "personal"
    }
}

/// A proposed `project.{domain}.{deliverable}` key from keywords; resolved against templates
/// (and replaced by the scope fallback when no template has it).
pub fn propose_project_key(text: &str) -> &'static str {
    let w = words(text);
    let rules: [(&[&str], &'static str); 14] = [
        (&["wedding"], "project.event.wedding"),
        (
            &["conference", "summit", "meetup"],
            "project.event.conference",
        ),
        (
            &["thesis", "research", "study", "experiment"],
            "project.researcher.study",
        ),
        (
            &["client", "agency", "customer"],
            "project.agency.client_work",
        ),
        (
            &["github", "oss", "opensource"],
            "project.maintainer.open_source",
        ),
        (
            &["startup", "fundraising", "investors"],
            "project.founder.startup",
        ),
        (&["novel", "book", "memoir"], "project.writer.book"),
        (
            &["article", "blog", "essay", "newsletter"],
            "project.writer.article",
        ),
        (
            &["campaign", "marketing", "launch"],
            "project.marketer.campaign",
        ),
        (
            &["app", "software", "website", "api", "mobile", "saas"],
            "project.developer.app",
        ),
        (
            &["course", "assignment", "homework", "semester"],
            "project.student.assignment",
        ),
        (&["coaching", "mentoring"], "project.coach.client"),
        (
            &["fitness", "routine", "habit", "marathon", "running"],
            "project.personal.routine",
        ),
        (
            &[
                "home",
                "house",
                "garden",
                "kitchen",
                "renovation",
                "apartment",
            ],
            "project.personal.home",
        ),
    ];
    if has_phrase(&w, &["open", "source"]) {
        return "project.maintainer.open_source";
    }
    rules
        .iter()
        .find(|(keys, _)| has_any(&w, keys))
        .map_or("project.migration.generic", |(_, key)| key)
}

/// Phase dates against the run's reference time → plan state; `Err` for an inverted range.
pub fn plan_state(
    start: NaiveDate,
    end: NaiveDate,
    reference: DateTime<Utc>,
) -> Result<&'static str, String> {
    if end < start {
        return Err(format!(
            "phase end date {end} is before its start date {start}"
        ));
    }
    let today = reference.date_naive();
    Ok(if end < today {
        "complete"
    } else if start <= today {
        "active"
    } else {
        "draft"
    })
}

/// `tasks.status` → `onto_tasks.state_key`.
pub fn task_state(status: &str) -> &'static str {
    match status {
        "in_progress" => "in_progress",
        "blocked" => "blocked",
        "done" => "done",
        _ => "todo",
    }
}

/// `tasks.priority` → `onto_tasks.priority`; never NULL (the original wrote NULL everywhere).
pub fn task_priority(priority: &str) -> i32 {
    match priority {
        "low" => 2,
        "high" => 4,
        "urgent" => 5,
        _ => 3,
    }
}

/// `task_calendar_events.sync_status` → `onto_events.state_key`.
pub fn event_state(sync_status: &str) -> &'static str {
    if sync_status == "cancelled" {
        "cancelled"
    } else {
        "scheduled"
    }
}

/// Deep merge: objects merge recursively, everything else in `overlay` replaces `base`.
/// Null values in `overlay` are skipped so a missing legacy field keeps the template default.
pub fn deep_merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Remove null members (props keep only what the legacy row had).
pub fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn project_states_and_stages() {
        let cases = [
            ("active", "active", "execution"),
            ("paused", "paused", "planning"),
            ("completed", "complete", "complete"),
            ("archived", "archived", "complete"),
        ];
        for (legacy, state, stage) in cases {
            assert_eq!(project_state(legacy), state, "{legacy}");
            assert_eq!(project_stage(legacy), stage, "{legacy}");
        }
    }

    #[test]
    fn scale_boundaries() {
        let cases = [
            (0, "micro"),
            (3, "micro"),
            (4, "small"),
            (10, "small"),
            (11, "medium"),
            (25, "medium"),
            (26, "large"),
            (60, "large"),
            (61, "epic"),
            (500, "epic"),
        ];
        for (n, want) in cases {
            assert_eq!(project_scale(n), want, "{n}");
        }
    }

    #[test]
    fn context_keywords_in_priority_order() {
        let cases = [
            ("Website for a client", "client"),
            ("Agency retainer", "client"),
            ("Customer portal", "client"),
            ("Startup revenue plan", "commercial"),
            ("Grow sales", "commercial"),
            ("Business plan", "commercial"),
            ("PhD thesis", "academic"),
            ("Online course notes", "academic"),
            ("Sleep study", "academic"),
            ("Open source CLI", "open_source"),
            ("Maintain my GitHub repos", "open_source"),
            ("oss triage", "open_source"),
            ("Kitchen renovation", "personal"),
            // exactly the SPEC's words: plurals are not keywords
            ("Clients and a thesis", "academic"),
            ("Sales playbook, first 100 customers", "commercial"),
            ("opensource", "personal"),
            ("", "personal"),
            ("Studying Spanish", "personal"),
        ];
        for (text, want) in cases {
            assert_eq!(project_context(text), want, "{text}");
        }
    }

    #[test]
    fn plan_state_against_reference_time() {
        let r = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(plan_state(d(2026, 1, 1), d(2026, 6, 14), r), Ok("complete"));
        assert_eq!(plan_state(d(2026, 1, 1), d(2026, 6, 15), r), Ok("active"));
        assert_eq!(plan_state(d(2026, 6, 15), d(2026, 7, 1), r), Ok("active"));
        assert_eq!(plan_state(d(2026, 6, 16), d(2026, 7, 1), r), Ok("draft"));
        assert!(
            plan_state(d(2026, 7, 1), d(2026, 6, 1), r)
                .unwrap_err()
                .contains("before its start")
        );
    }

    #[test]
    fn task_states_priorities_and_event_states() {
        for (legacy, want) in [
            ("backlog", "todo"),
            ("in_progress", "in_progress"),
            ("blocked", "blocked"),
            ("done", "done"),
        ] {
            assert_eq!(task_state(legacy), want);
        }
        for (legacy, want) in [("low", 2), ("medium", 3), ("high", 4), ("urgent", 5)] {
            assert_eq!(task_priority(legacy), want);
        }
        assert_eq!(event_state("cancelled"), "cancelled");
        for s in ["pending", "synced", "failed"] {
            assert_eq!(event_state(s), "scheduled");
        }
    }

    #[test]
    fn project_keys_from_keywords() {
        assert_eq!(propose_project_key("Our wedding"), "project.event.wedding");
        assert_eq!(
            propose_project_key("Mobile app v2"),
            "project.developer.app"
        );
        assert_eq!(
            propose_project_key("Open source parser"),
            "project.maintainer.open_source"
        );
        assert_eq!(propose_project_key("Misc"), "project.migration.generic");
    }

    #[test]
    fn deep_merge_keeps_defaults_and_replaces_scalars() {
        let mut base = json!({"a": 1, "nested": {"x": 1, "y": 2}, "list": [1]});
        deep_merge(
            &mut base,
            json!({"a": 2, "nested": {"y": 3}, "list": [2, 3], "skip": null, "new": "v"}),
        );
        assert_eq!(
            base,
            json!({"a": 2, "nested": {"x": 1, "y": 3}, "list": [2, 3], "new": "v"})
        );
        assert_eq!(
            strip_nulls(json!({"a": null, "b": {"c": null, "d": 1}})),
            json!({"b": {"d": 1}})
        );
    }
}
