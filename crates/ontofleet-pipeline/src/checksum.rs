//! Canonical JSON and the SHA-256 checksum of legacy rows stored in the mapping ledger.
//!
//! Canonical form: object keys sorted, no whitespace, timestamps rendered in RFC 3339 UTC, so
//! the checksum is stable across key order, formatting and the session time zone.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serialise `value` canonically.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).expect("canonical JSON is UTF-8")
}

/// Strings go through `serde_json`'s own escaper straight into the buffer: the checksums stored
/// in mappings depend on these exact bytes, and a `String` per key or value cost a third of a
/// worker's checksum time.
fn write_str(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => match normalise_timestamp(s) {
            Some(ts) => write_str(&ts, out),
            None => write_str(s, out),
        },
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec cannot fail"),
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
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    hex::encode(Sha256::digest(&out))
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

    /// Checksums are stored in every mapping: the bytes they hash must never change, or an
    /// upgrade would resync every row. Pinned to the value the first implementation produced.
    #[test]
    fn checksum_bytes_are_stable_across_releases() {
        let row = json!({
            "title": "Café \"launch\"\n\ttab\u{1}\\",
            "n": [1, 2.5, -3, null, true],
            "nested": {"z": {"b": 1, "a": "ü"}, "a": []},
            "at": "2026-06-20T12:00:00.5+02:00",
        });
        assert_eq!(
            checksum(&row),
            "854dcc0298c98de58932f18016c46cf513d4649655dc4763aa5ebec79a39d1aa"
        );
    }
}
