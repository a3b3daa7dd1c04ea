//! Canonical JSON and the SHA-256 checksum of legacy rows stored in the mapping ledger.
//!
//! Canonical form: object keys sorted, no whitespace, timestamps rendered in RFC 3339 UTC, so
//! the checksum is stable across key order, formatting and the session time zone.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialise `value` canonically.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => match normalise_timestamp(s) {
            Some(ts) => out.push_str(&Value::String(ts).to_string()),
            None => out.push_str(&value.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// Timestamps with an offset (as `to_jsonb` renders `timestamptz` in any session time zone)
/// become RFC 3339 UTC; anything else is left alone.
fn normalise_timestamp(s: &str) -> Option<String> {
    if s.len() < 20 || !s.as_bytes()[4].eq(&b'-') || !s.contains('T') {
        return None;
    }
    let parsed = DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        parsed
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

/// SHA-256 hex of the canonical JSON of `value`.
pub fn checksum(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(value).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,2]},"b":1}"#);
        assert_eq!(checksum(&a), checksum(&b));
    }

    #[test]
    fn timestamps_are_normalised_to_utc() {
        let a = json!({"t": "2026-06-20T12:00:00+02:00"});
        let b = json!({"t": "2026-06-20T10:00:00+00:00"});
        assert_eq!(canonical_json(&a), r#"{"t":"2026-06-20T10:00:00Z"}"#);
        assert_eq!(checksum(&a), checksum(&b));
        let micro = json!({"t": "2026-06-20T10:00:00.123456+00:00"});
        assert_eq!(
            canonical_json(&micro),
            r#"{"t":"2026-06-20T10:00:00.123456Z"}"#
        );
    }

    #[test]
    fn plain_strings_and_values_change_the_checksum() {
        assert_ne!(checksum(&json!({"a": "x"})), checksum(&json!({"a": "y"})));
        assert_eq!(
            canonical_json(&json!({"d": "2026-06-20", "s": "a\"b"})),
            r#"{"d":"2026-06-20","s":"a\"b"}"#
        );
        assert_eq!(checksum(&json!({})).len(), 64);
    }
}
