//! Parsing what an operator types or sends — job ids, categories, item statuses, durations —
//! once for every adapter: a bad value is [`OpsError::Invalid`] (exit 2, HTTP 400) with the
//! same message from the CLI and the API.

use std::time::Duration;

use ontofleet_core::{ErrorCategory, ItemStatus};

use crate::OpsError;

/// A job id as `jobs list` prints it (a ULID), upper-cased as apalis stores it.
pub fn job_id(raw: &str) -> Result<String, OpsError> {
    const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let id = raw.trim().to_ascii_uppercase();
    if id.len() == 26 && id.chars().all(|c| ALPHABET.contains(c)) {
        Ok(id)
    } else {
        Err(OpsError::Invalid(format!(
            "`{raw}` is not a job id (a 26-character ULID, as `ontofleet jobs list` prints)"
        )))
    }
}

/// Job ids, sorted, each once.
pub fn job_ids(raw: &[String]) -> Result<Vec<String>, OpsError> {
    let mut ids = raw
        .iter()
        .map(|r| job_id(r))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// An error category.
pub fn category(raw: &str) -> Result<ErrorCategory, OpsError> {
    raw.parse().map_err(|_| {
        OpsError::Invalid(format!(
            "unknown category `{raw}` (expected recoverable, data or fatal)"
        ))
    })
}

/// An item status.
pub fn item_status(raw: &str) -> Result<ItemStatus, OpsError> {
    raw.parse().map_err(|_| {
        OpsError::Invalid(format!(
            "unknown status `{raw}` (expected one of {})",
            ItemStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `14d`, `12h`, `30m`, `90s`, `2w`, or a sum such as `1d12h`.
pub fn duration(raw: &str) -> Result<Duration, OpsError> {
    let bad = || {
        OpsError::Invalid(format!(
            "`{raw}` is not a duration (use a number and a unit: 14d, 12h, 30m, 90s, 2w)"
        ))
    };
    let mut total = 0u64;
    let mut digits = String::new();
    for c in raw.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A `--limit`: at least 1.
pub fn limit<T: PartialOrd + From<u8>>(n: T) -> Result<T, OpsError> {
    if n < T::from(1) {
        return Err(OpsError::Invalid("--limit must be at least 1".to_owned()));
    }
    Ok(n)
}

/// `--changed-since`: `last`, or a timestamp (RFC 3339, or a date meaning its midnight UTC).
pub fn changed_since(raw: &str) -> Result<ontofleet_producer::ChangedSince, OpsError> {
    use chrono::{DateTime, NaiveDate, Utc};
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("last") {
        return Ok(ontofleet_producer::ChangedSince::Last);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(ontofleet_producer::ChangedSince::At(at.with_timezone(&Utc)));
    }
    if let Some(midnight) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(ontofleet_producer::ChangedSince::At(midnight.and_utc()));
    }
    Err(OpsError::Invalid(format!(
        "`{raw}` is neither `last` nor a timestamp (use RFC 3339, e.g. 2026-12-07T09:30:00Z, or a date)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_since_is_last_a_timestamp_or_a_date() {
        use ontofleet_producer::ChangedSince;
        assert_eq!(changed_since("last").unwrap(), ChangedSince::Last);
        assert_eq!(changed_since(" LAST ").unwrap(), ChangedSince::Last);
        let at = |s: &str| match changed_since(s).unwrap() {
            ChangedSince::At(t) => t.to_rfc3339(),
            ChangedSince::Last => "last".to_owned(),
        };
        assert_eq!(at("2026-12-07T09:30:00Z"), "2026-12-07T09:30:00+00:00");
        assert_eq!(at("2026-12-07T10:30:00+01:00"), "2026-12-07T09:30:00+00:00");
        assert_eq!(at("2026-12-07"), "2026-12-07T00:00:00+00:00");
        for bad in ["", "yesterday", "2026-13-01", "07/12/2026"] {
            let err = changed_since(bad).unwrap_err().to_string();
            assert!(
                err.contains("neither `last` nor a timestamp"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn durations_parse_units_and_sums() {
        let cases = [
            ("90s", 90),
            ("30m", 1_800),
            ("12h", 43_200),
            ("14d", 1_209_600),
            ("2w", 1_209_600),
            ("1d12h", 129_600),
        ];
        for (raw, secs) in cases {
            assert_eq!(duration(raw).unwrap(), Duration::from_secs(secs), "{raw}");
        }
        for bad in [
            "",
            "0s",
            "14",
            "d",
            "5x",
            "1.5h",
            "-3d",
            "99999999999999999999w",
        ] {
            let err = duration(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn job_ids_are_ulids_upper_cased() {
        assert_eq!(
            job_id("01m7yn6bjz4mayaqjcv4jzf2ad").unwrap(),
            "01M7YN6BJZ4MAYAQJCV4JZF2AD"
        );
        for bad in [
            "",
            "nonsense",
            "01M7YN6BJZ4MAYAQJCV4JZF2A",
            "01M7YN6BJZ4MAYAQJCV4JZF2AU",
        ] {
            assert_eq!(job_id(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert_eq!(
            job_ids(&[
                "01m7yn6bjz4mayaqjcv4jzf2ad".into(),
                "01M7YN6BJZ4MAYAQJCV4JZF2AD".into()
            ])
            .unwrap()
            .len(),
            1
        );
    }
}
