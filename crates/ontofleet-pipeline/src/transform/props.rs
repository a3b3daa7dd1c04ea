//! Template-schema completion of an entity's props (SPEC §5.3): inferred values, repairs, and
//! values the schema rejects kept aside as data problems.

use ontofleet_core::ErrorCategory;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Problem;
use crate::infer::{self, DateOrder};

/// SPEC §5.3 on an entity's props: fill schema props the legacy fields left empty from the
/// entity's text, then validate against the template schema. Missing required props are
/// repaired (listed in `props.repairs`); a value that breaks the schema is moved to
/// `props.invalid_props` — kept, not lost — and returned as a data problem.
pub(crate) fn complete_props(
    schema: &Value,
    props: &mut Value,
    text: &str,
    date_order: DateOrder,
) -> Vec<String> {
    let Some(map) = props.as_object_mut() else {
        return Vec::new();
    };
    if schema.get("properties").is_none() {
        return Vec::new();
    }
    let inferred = infer::infer_props(schema, text, map, date_order);
    if !inferred.is_empty() {
        map.insert(
            "inferred".to_owned(),
            Value::Array(inferred.keys().map(|k| json!(k)).collect()),
        );
        map.extend(inferred);
    }
    let checked = infer::validate(schema, map);
    if !checked.repairs.is_empty() {
        map.insert("repairs".to_owned(), json!(checked.repairs));
    }
    let mut problems = Vec::new();
    let mut moved = serde_json::Map::new();
    for bad in checked.invalid {
        // Nested paths (`schedule.start_date`) stay where they are; top-level values move.
        if let Some(value) = map.remove(&bad.prop) {
            moved.insert(bad.prop.clone(), value);
        }
        problems.push(format!("prop {} is invalid: {}", bad.prop, bad.message));
    }
    if !moved.is_empty() {
        map.insert("invalid_props".to_owned(), Value::Object(moved));
    }
    problems
}

/// The `data` problem of a prop value the template schema rejected: the entity is migrated,
/// the value kept in `props.invalid_props`.
pub(crate) fn invalid_prop(
    entity_type: &'static str,
    legacy_table: &'static str,
    legacy_id: Uuid,
    onto: (&'static str, Uuid),
    what: String,
) -> Problem {
    Problem {
        entity_type,
        legacy_table,
        legacy_id,
        onto: Some(onto),
        status: "skipped",
        category: ErrorCategory::Data,
        message: format!(
            "{} {legacy_id}: {what} (kept in props.invalid_props)",
            entity_type.trim_end_matches("_prop")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §5.3 on one entity: inferred props, repairs and invalid values, table-driven.
    #[test]
    fn props_are_inferred_repaired_and_validated() {
        let schema = json!({"type": "object", "properties": {
            "budget": {"type": "number"},
            "guest_count": {"type": "integer"},
            "event_date": {"type": "string", "format": "date"},
            "duration_minutes": {"type": "integer"},
            "target_streak": {"type": "integer", "default": 21},
            "venue": {"type": "string"},
        }, "required": ["target_streak", "venue"]});
        // (legacy props, description text, date order, expected props, problems)
        let cases = [
            (
                json!({"duration_minutes": null}),
                "Budget is $80k for 200 guests on 20/06/2026, about 2h 30m of calls",
                DateOrder::DayFirst,
                json!({"budget": 80000, "guest_count": 200, "event_date": "2026-06-20",
                       "duration_minutes": 150, "target_streak": 21, "venue": ""}),
                0,
            ),
            (
                // a legacy value is never overwritten by an inferred one
                json!({"duration_minutes": 45, "venue": "Barn"}),
                "2h 30m",
                DateOrder::MonthFirst,
                json!({"duration_minutes": 45, "target_streak": 21, "venue": "Barn"}),
                0,
            ),
            (
                // a value that breaks the schema moves to invalid_props and is a problem
                json!({"guest_count": "lots", "venue": "Barn", "target_streak": 30}),
                "",
                DateOrder::MonthFirst,
                json!({"target_streak": 30, "venue": "Barn", "invalid_props": {"guest_count": "lots"}}),
                1,
            ),
        ];
        for (legacy, text, order, want, n_problems) in cases {
            let mut props = legacy.clone();
            let problems = complete_props(&schema, &mut props, text, order);
            assert_eq!(problems.len(), n_problems, "{text:?}: {problems:?}");
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&props[k], v, "{k} for {text:?}: {props}");
            }
            // Every repair names its prop; inferred props are listed.
            let repaired: Vec<&str> = props["repairs"]
                .as_array()
                .map(|r| r.iter().filter_map(|x| x["prop"].as_str()).collect())
                .unwrap_or_default();
            for required in ["target_streak", "venue"] {
                assert_eq!(
                    repaired.contains(&required),
                    legacy.get(required).is_none(),
                    "repair of {required} for {text:?}: {props}"
                );
            }
            if n_problems == 0 && !text.is_empty() && legacy["duration_minutes"].is_null() {
                assert!(
                    props["inferred"].as_array().is_some_and(|a| a.len() == 4),
                    "{props}"
                );
            }
        }
        // No schema: props untouched.
        let mut props = json!({"a": 1});
        assert!(complete_props(&json!({}), &mut props, "$5", DateOrder::MonthFirst).is_empty());
        assert_eq!(props, json!({"a": 1}));
    }
}
