//! Validation of props against a template schema, with auto-repair of missing required props.

use serde::Serialize;
use serde_json::{Map, Value};

/// A missing (or null) required prop that was filled in; stored under `props.repairs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repair {
    /// Dotted path of the prop (`schedule.start_date` for nested objects).
    pub prop: String,
    /// The value written.
    pub value: Value,
    /// Why, e.g. `required property missing; set to the schema default`.
    pub reason: String,
}

/// A present prop whose value does not satisfy the schema: a `data` error for the entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Invalid {
    /// Dotted path of the prop (`tags[2]` for array items).
    pub prop: String,
    /// What is wrong, naming the expected and the found shape.
    pub message: String,
}

/// The outcome of [`validate`]: both lists, because repairs are applied even when another prop
/// is invalid (the caller stores the repairs and logs the invalid props).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Validation {
    /// Required props that were filled in (already written into the props).
    pub repairs: Vec<Repair>,
    /// Props that violate the schema (left as they are).
    pub invalid: Vec<Invalid>,
}

impl Validation {
    /// No prop violates the schema (repairs do not count as violations).
    pub fn is_valid(&self) -> bool {
        self.invalid.is_empty()
    }
}

/// Template schemas are a few levels deep; this only guards against a pathological one.
const MAX_DEPTH: usize = 32;

/// Checks `props` against a template `schema` (`{"type":"object","properties":{…},"required":[…]}`)
/// and repairs what can be repaired, in place.
///
/// - A `required` prop that is missing or null gets the schema `default`, else the first `enum`
///   value, else the zero value of its type (`""`, `0`, `false`, `[]`, `{}`), and a [`Repair`].
///   A repaired value is not checked again (a bad default is the schema's fault, not the
///   entity's); a repaired object has its own required props repaired.
/// - A present, non-null prop is checked for its JSON `type` (a float with a fraction is not an
///   `integer`; a union like `["string","null"]` is accepted), `enum`, `format` (`date` must be an
///   ISO `YYYY-MM-DD` day, `date-time` RFC 3339, `uri` a scheme-prefixed string, `email` has an
///   `@`), array `items`, and nested objects with `properties` recursively; each violation is an
///   [`Invalid`].
/// - Props the schema does not name are allowed (the legacy fields live there); a null optional
///   prop counts as absent.
pub fn validate(schema: &Value, props: &mut Map<String, Value>) -> Validation {
    let mut out = Validation::default();
    validate_object(schema, props, "", 0, &mut out);
    out
}

fn validate_object(
    schema: &Value,
    props: &mut Map<String, Value>,
    prefix: &str,
    depth: usize,
    out: &mut Validation,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let empty = Map::new();
    let specs = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required = schema.get("required").and_then(Value::as_array);
    let mut repaired = Vec::new();
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let was = match props.get(name) {
            None => "missing",
            Some(Value::Null) => "null",
            Some(_) => continue,
        };
        let spec = specs.get(name).unwrap_or(&Value::Null);
        let path = join(prefix, name);
        let (value, how) = if let Some(d) = spec.get("default") {
            (d.clone(), "the schema default".to_owned())
        } else if let Some(first) = spec
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            (first.clone(), "the first enum value".to_owned())
        } else if let Some((ty, zero)) = types(spec).iter().find_map(|t| Some((*t, zero(t)?))) {
            (zero, format!("the zero value of type {ty}"))
        } else {
            out.invalid.push(Invalid {
                prop: path,
                message: "required property is missing and the schema gives no default or type"
                    .to_owned(),
            });
            continue;
        };
        props.insert(name.to_owned(), value.clone());
        repaired.push(name);
        out.repairs.push(Repair {
            prop: path,
            value,
            reason: format!("required property {was}; set to {how}"),
        });
    }
    for (name, spec) in specs {
        let Some(value) = props.get_mut(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let path = join(prefix, name);
        if !repaired.contains(&name.as_str()) {
            check(spec, value, &path, depth, out);
        } else if let Value::Object(map) = value {
            // A value the repair wrote is the schema's choice, not a data error of the entity;
            // only a repaired object's own required props still need filling in.
            validate_object(spec, map, &path, depth + 1, out);
        }
    }
}

fn check(spec: &Value, value: &mut Value, path: &str, depth: usize, out: &mut Validation) {
    let mut invalid = |message: String| {
        out.invalid.push(Invalid {
            prop: path.to_owned(),
            message,
        })
    };
    let tys = types(spec);
    if !tys.is_empty() && !tys.iter().any(|t| type_matches(t, value)) {
        invalid(format!(
            "expected {}, found {}",
            tys.join(" or "),
            json_type(value)
        ));
        return;
    }
    if let Some(allowed) = spec.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        invalid(format!(
            "{value} is not one of {}",
            Value::from(allowed.clone())
        ));
        return;
    }
    if let (Some(format), Some(s)) = (spec.get("format").and_then(Value::as_str), value.as_str())
        && let Some(problem) = format_problem(format, s)
    {
        invalid(problem);
        return;
    }
    match value {
        Value::Object(map) if spec.get("properties").is_some() => {
            validate_object(spec, map, path, depth + 1, out);
        }
        Value::Array(items) => {
            if let Some(item_spec) = spec.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item_spec, item, &format!("{path}[{i}]"), depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The declared type(s), `null` last so that a repair prefers a real type's zero value.
fn types(spec: &Value) -> Vec<&str> {
    let mut tys: Vec<&str> = match spec.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    tys.sort_by_key(|t| *t == "null");
    tys
}

fn zero(ty: &str) -> Option<Value> {
    Some(match ty {
        "string" => Value::from(""),
        "number" | "integer" => Value::from(0),
        "boolean" => Value::from(false),
        "array" => Value::Array(Vec::new()),
        "object" => Value::Object(Map::new()),
        _ => return None,
    })
}

fn type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        // An unknown type name is the schema's problem, not the entity's.
        _ => true,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number with a fraction",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn format_problem(format: &str, s: &str) -> Option<String> {
    let ok = match format {
        "date" => is_iso_date(s),
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "uri" => s.split_once(':').is_some_and(|(scheme, rest)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !s.contains(char::is_whitespace)
        }),
        "email" => s.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !s.contains(char::is_whitespace)
        }),
        _ => true,
    };
    (!ok).then(|| format!("{s:?} is not a valid {format}"))
}

/// Exactly `YYYY-MM-DD` naming a real day (chrono alone would also accept `2026-6-5`).
pub(super) fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}
